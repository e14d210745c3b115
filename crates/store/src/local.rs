//! `LocalFs`: objects as files below a root directory, written atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::error::{Error, Result};
use crate::key::{ObjectKey, validate_prefix};
use crate::object_store::{ObjectStore, unsupported};
use crate::types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutMode,
    PutOptions, PutOutcome, VersionId, VersionInfo,
};

const BACKEND: &str = "local-fs";

/// Default number of objects per listing page.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// Bytes read per chunk of a streaming read, and written per blocking call of a streaming
/// write: big enough that thread hand-offs cost little, small enough to bound memory.
const IO_CHUNK: usize = 1 << 20;

/// `LocalFs`: objects as files below a root directory, written atomically.
///
/// # Layout
/// `ROOT/objects/KEY` holds the object `KEY` (its `/` are directories); `ROOT/tmp/` holds
/// writes in progress. Keeping temporary files out of `objects/` means a listing never sees
/// them and no key name has to be reserved for them; both directories are on the same file
/// system, so the final `rename`/`link` is atomic.
///
/// # Durability
/// A write goes to a fresh temporary file, which is `fsync`ed, then moved into place with
/// `rename` (overwrite) or `link` (create-only: `link` fails if the name exists, which makes
/// "exactly one creator wins" hold between processes too), and finally the directory that
/// received the name is `fsync`ed, as are directories the write created. After `put` returns,
/// the object survives a power cut; before, a reader sees the old object or none.
///
/// # Staying inside the root
/// Keys are validated by [`ObjectKey`] (no `..`, no absolute paths), so a key alone cannot
/// name a file outside `objects/`. What remains is symbolic links placed inside the root, by
/// mistake or by someone else. Every directory on the way to an object is checked with
/// `symlink_metadata` (which does not follow links) and refused if it is a link; the object
/// file itself is opened with `O_NOFOLLOW`, so a link there fails the open (`ELOOP`) instead
/// of being followed; `rename` and `link` replace or refuse a link at the destination name
/// without following it.
///
/// Time-of-check to time-of-use: between the component check and the open, a process that can
/// write inside the root could swap a checked directory for a link. That process can already
/// rewrite or delete every object, so the race gives it nothing it lacks; the checks are
/// there to stop pre-planted links (a restored tarball, a misconfigured mount, a less
/// privileged helper that ran earlier) from leading reads or writes outside the root. Closing
/// the race entirely needs `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, which the standard
/// library does not expose and this crate (which forbids `unsafe`) cannot call.
///
/// # What it does not do
/// No versions and no object lock: the version operations and any write asking for a
/// retention or legal hold fail with [`Error::Unsupported`]. Directories emptied by deletes
/// are left in place (removing them would race with a concurrent write into them). A crash
/// can leave files in `ROOT/tmp/`; they are never read and may be removed while no writer runs.
#[derive(Debug, Clone)]
pub struct LocalFs {
    inner: Arc<Paths>,
    page_size: usize,
}

#[derive(Debug)]
struct Paths {
    objects: PathBuf,
    tmp: PathBuf,
}

impl LocalFs {
    /// Opens (creating if needed) a store rooted at `root`.
    ///
    /// The root itself may be reached through a symbolic link (it is resolved once, here);
    /// links inside it are refused.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|e| Error::io(root.display(), e))?;
        let root = fs::canonicalize(root).map_err(|e| Error::io(root.display(), e))?;
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        for dir in [&objects, &tmp] {
            match fs::symlink_metadata(dir) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(Error::PermissionDenied {
                        key: dir.display().to_string(),
                        detail: "store directory is not a plain directory".into(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
                    sync_dir(&root)?;
                }
                Err(e) => return Err(Error::io(dir.display(), e)),
            }
        }
        Ok(LocalFs {
            inner: Arc::new(Paths { objects, tmp }),
            page_size: DEFAULT_PAGE_SIZE,
        })
    }

    /// Sets the number of objects per listing page (at least 1).
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// The directory objects live in (`ROOT/objects`).
    pub fn objects_dir(&self) -> &Path {
        &self.inner.objects
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Paths) -> Result<T> + Send + 'static,
    {
        let paths = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&paths))
            .await
            .map_err(|e| Error::Backend {
                backend: BACKEND,
                detail: format!("I/O task failed: {e}"),
            })?
    }
}

fn check_options(options: &PutOptions) -> Result<()> {
    if options.wants_lock() {
        return Err(unsupported(BACKEND, "object lock"));
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir.display(), e))
}

/// Opens an existing file for reading without following a symbolic link at its name.
fn open_nofollow(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Maps an I/O error on `key`'s file onto the store's meaning.
fn map_io(key: &ObjectKey, path: &Path, err: io::Error) -> Error {
    #[cfg(unix)]
    if err.raw_os_error() == Some(libc::ELOOP) {
        return symlink_refused(key);
    }
    match err.kind() {
        io::ErrorKind::NotFound => Error::not_found(key),
        io::ErrorKind::PermissionDenied => Error::PermissionDenied {
            key: key.to_string(),
            detail: err.to_string(),
        },
        io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory => Error::Conflict {
            key: key.to_string(),
            detail: "an object and a directory of objects cannot share a name".into(),
        },
        io::ErrorKind::DirectoryNotEmpty => Error::Conflict {
            key: key.to_string(),
            detail: "the name is a directory of other objects".into(),
        },
        _ => Error::io(path.display(), err),
    }
}

fn symlink_refused(key: &ObjectKey) -> Error {
    Error::PermissionDenied {
        key: key.to_string(),
        detail: "a symbolic link inside the store is refused (it could lead outside the root)"
            .into(),
    }
}

/// Walks from `objects` to the directory that holds `key`, refusing links and non-directories
/// on the way; creates missing directories (fsyncing their parents) when `create` is set.
/// Returns the path of the object's file.
fn resolve(objects: &Path, key: &ObjectKey, create: bool) -> Result<PathBuf> {
    let segments: Vec<&str> = key.segments().collect();
    let (file_name, dirs) = match segments.split_last() {
        Some(split) => split,
        None => {
            return Err(Error::InvalidKey {
                key: key.to_string(),
                reason: "empty key",
            });
        }
    };
    let mut dir = objects.to_path_buf();
    for segment in dirs {
        let parent = dir.clone();
        dir.push(segment);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_refused(key)),
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::Conflict {
                    key: key.to_string(),
                    detail: format!("{segment:?} on its path is an object, not a directory"),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                match fs::create_dir(&dir) {
                    Ok(()) => sync_dir(&parent)?,
                    // A concurrent writer created it first; check what it is on the next
                    // round of the loop by re-reading it.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let meta = fs::symlink_metadata(&dir).map_err(|e| map_io(key, &dir, e))?;
                        if !meta.is_dir() || meta.file_type().is_symlink() {
                            return Err(symlink_refused(key));
                        }
                    }
                    Err(e) => return Err(map_io(key, &dir, e)),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::not_found(key)),
            Err(e) => return Err(map_io(key, &dir, e)),
        }
    }
    Ok(dir.join(file_name))
}

/// A temporary file in `ROOT/tmp`, removed on drop unless it was moved into place.
struct TempFile {
    path: PathBuf,
    file: Option<File>,
    written: u64,
}

impl TempFile {
    fn create(tmp_dir: &Path) -> Result<Self> {
        let mut name = [0u8; 16];
        getrandom::fill(&mut name).map_err(|e| Error::Backend {
            backend: BACKEND,
            detail: format!("random source unavailable: {e}"),
        })?;
        let path = tmp_dir.join(format!("{}.tmp", hex::encode(name)));
        let mut options = OpenOptions::new();
        // create_new is O_CREAT|O_EXCL: it never follows or reuses an existing name.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Objects are ciphertext, but there is still no reason for others to read them.
            options.mode(0o600);
        }
        let file = options
            .open(&path)
            .map_err(|e| Error::io(path.display(), e))?;
        Ok(TempFile {
            path,
            file: Some(file),
            written: 0,
        })
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        if let Some(file) = self.file.as_mut() {
            file.write_all(data)
                .map_err(|e| Error::io(self.path.display(), e))?;
            self.written += data.len() as u64;
        }
        Ok(())
    }

    /// Flushes the contents to disk and moves the file to `target`.
    fn commit(mut self, key: &ObjectKey, target: &Path, mode: PutMode) -> Result<u64> {
        if let Some(file) = self.file.take() {
            file.sync_all()
                .map_err(|e| Error::io(self.path.display(), e))?;
        }
        match mode {
            PutMode::CreateOnly => {
                // link(2) fails with EEXIST when the name exists, atomically, whatever it
                // is (file, directory or link, which it does not follow).
                fs::hard_link(&self.path, target).map_err(|e| {
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        if fs::symlink_metadata(target).is_ok_and(|m| m.is_dir()) {
                            return map_io(key, target, io::ErrorKind::IsADirectory.into());
                        }
                        Error::already_exists(key)
                    } else {
                        map_io(key, target, e)
                    }
                })?;
                // The temp name is dropped below; the object stays under its new name.
            }
            PutMode::Overwrite => {
                fs::rename(&self.path, target).map_err(|e| map_io(key, target, e))?;
            }
        }
        if let Some(parent) = target.parent() {
            sync_dir(parent)?;
        }
        Ok(self.written)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // After a rename the name is gone (NotFound, ignored); after a link or a failure it
        // must go. Nothing useful can be done if removal fails: the file is never read.
        let _ = fs::remove_file(&self.path);
    }
}

fn meta_of(key: &ObjectKey, meta: &fs::Metadata) -> ObjectMeta {
    ObjectMeta {
        key: key.clone(),
        size: meta.len(),
        last_modified: meta.modified().ok(),
        etag: None,
        version: None,
    }
}

/// Opens the object's file for reading, refusing links, and returns it with its metadata.
fn open_object(objects: &Path, key: &ObjectKey) -> Result<(File, fs::Metadata)> {
    let path = resolve(objects, key, false)?;
    let file = open_nofollow(&path).map_err(|e| map_io(key, &path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path.display(), e))?;
    if !meta.is_file() {
        // A directory of other objects: no object has this exact name.
        return Err(Error::not_found(key));
    }
    Ok((file, meta))
}

fn read_up_to(file: &mut File, len: usize, path_for_errors: &ObjectKey) -> Result<Bytes> {
    let mut buf = BytesMut::zeroed(len);
    let mut filled = 0;
    while filled < len {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path_for_errors, e)),
        }
    }
    buf.truncate(filled);
    Ok(buf.freeze())
}

#[async_trait]
impl ObjectStore for LocalFs {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::basic()
    }

    async fn put(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome> {
        check_options(options)?;
        let key = key.clone();
        let mode = options.mode;
        self.blocking(move |paths| {
            let target = resolve(&paths.objects, &key, true)?;
            let mut temp = TempFile::create(&paths.tmp)?;
            temp.write(&data)?;
            let size = temp.commit(&key, &target, mode)?;
            Ok(PutOutcome {
                size,
                etag: None,
                version: None,
            })
        })
        .await
    }

    async fn put_stream(
        &self,
        key: &ObjectKey,
        mut data: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        check_options(options)?;
        let mut temp = self.blocking(|paths| TempFile::create(&paths.tmp)).await?;
        let mut pending = BytesMut::new();
        loop {
            let next = data.next().await.transpose()?;
            let at_end = next.is_none();
            if let Some(chunk) = next {
                pending.extend_from_slice(&chunk);
            }
            if pending.len() >= IO_CHUNK || (at_end && !pending.is_empty()) {
                let batch = pending.split().freeze();
                // The temp file moves to the blocking pool and back: one thread hand-off per
                // megabyte, not per chunk.
                temp = self
                    .blocking(move |_| {
                        temp.write(&batch)?;
                        Ok(temp)
                    })
                    .await?;
            }
            if at_end {
                break;
            }
        }
        let key = key.clone();
        let mode = options.mode;
        self.blocking(move |paths| {
            let target = resolve(&paths.objects, &key, true)?;
            let size = temp.commit(&key, &target, mode)?;
            Ok(PutOutcome {
                size,
                etag: None,
                version: None,
            })
        })
        .await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let key = key.clone();
        self.blocking(move |paths| {
            let (mut file, meta) = open_object(&paths.objects, &key)?;
            let len = usize::try_from(meta.len()).map_err(|_| Error::Integrity {
                key: key.to_string(),
                detail: "object larger than this machine's address space".into(),
            })?;
            read_up_to(&mut file, len, &key)
        })
        .await
    }

    async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader> {
        let owned = key.clone();
        let (file, meta) = self
            .blocking(move |paths| open_object(&paths.objects, &owned))
            .await?;
        let meta = meta_of(key, &meta);
        let stream_key = key.clone();
        let stream = futures::stream::unfold(Some(file), move |file| {
            let key = stream_key.clone();
            async move {
                let mut file = file?;
                let read = tokio::task::spawn_blocking(move || {
                    let chunk = read_up_to(&mut file, IO_CHUNK, &key)?;
                    Ok::<_, Error>((chunk, file))
                })
                .await;
                match read {
                    Ok(Ok((chunk, _))) if chunk.is_empty() => None,
                    Ok(Ok((chunk, file))) => Some((Ok(chunk), Some(file))),
                    Ok(Err(e)) => Some((Err(e), None)),
                    Err(e) => Some((
                        Err(Error::Backend {
                            backend: BACKEND,
                            detail: format!("I/O task: {e}"),
                        }),
                        None,
                    )),
                }
            }
        })
        .boxed();
        Ok(ObjectReader { meta, stream })
    }

    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
        let key = key.clone();
        self.blocking(move |paths| {
            let (mut file, meta) = open_object(&paths.objects, &key)?;
            let (start, len) = range.clamp_to(&key, meta.len())?;
            file.seek(SeekFrom::Start(start))
                .map_err(|e| Error::io(&key, e))?;
            let len = usize::try_from(len).map_err(|_| Error::InvalidRange {
                key: key.to_string(),
                start: range.start(),
                end: range.end(),
                size: Some(meta.len()),
            })?;
            read_up_to(&mut file, len, &key)
        })
        .await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let key = key.clone();
        self.blocking(move |paths| {
            let path = resolve(&paths.objects, &key, false)?;
            let meta = fs::symlink_metadata(&path).map_err(|e| map_io(&key, &path, e))?;
            if meta.file_type().is_symlink() {
                return Err(symlink_refused(&key));
            }
            if !meta.is_file() {
                return Err(Error::not_found(&key));
            }
            Ok(meta_of(&key, &meta))
        })
        .await
    }

    async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage> {
        validate_prefix(prefix)?;
        let prefix = prefix.to_owned();
        let after = token.map(|t| t.as_str().to_owned());
        let limit = self.page_size;
        self.blocking(move |paths| {
            let mut objects = Vec::with_capacity(limit + 1);
            let walk = Walk {
                prefix: &prefix,
                after: after.as_deref(),
                limit: limit + 1,
            };
            walk.dir(&paths.objects, "", &mut objects)?;
            let next = if objects.len() > limit {
                objects.truncate(limit);
                objects
                    .last()
                    .map(|m: &ObjectMeta| PageToken::new(m.key.as_str()))
            } else {
                None
            };
            Ok(ListPage { objects, next })
        })
        .await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let key = key.clone();
        self.blocking(move |paths| {
            let path = match resolve(&paths.objects, &key, false) {
                Ok(path) => path,
                Err(Error::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(e),
            };
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_refused(&key)),
                // A directory of other objects: no object of this name to delete.
                Ok(meta) if meta.is_dir() => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(map_io(&key, &path, e)),
            }
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(map_io(&key, &path, e)),
            }
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_versions(&self, _key: &ObjectKey) -> Result<Vec<VersionInfo>> {
        Err(unsupported(BACKEND, "versions"))
    }

    async fn get_version(&self, _key: &ObjectKey, _version: &VersionId) -> Result<Bytes> {
        Err(unsupported(BACKEND, "versions"))
    }

    async fn delete_version(&self, _key: &ObjectKey, _version: &VersionId) -> Result<()> {
        Err(unsupported(BACKEND, "versions"))
    }

    async fn set_legal_hold(&self, _k: &ObjectKey, _v: &VersionId, _on: bool) -> Result<()> {
        Err(unsupported(BACKEND, "object lock"))
    }
}

/// A depth-first walk of `objects/` that yields keys in byte order, skipping subtrees that
/// cannot hold a key with the prefix or after the token, and stopping after `limit` keys.
struct Walk<'a> {
    prefix: &'a str,
    after: Option<&'a str>,
    limit: usize,
}

impl Walk<'_> {
    fn dir(&self, dir: &Path, rel: &str, out: &mut Vec<ObjectMeta>) -> Result<()> {
        let read = fs::read_dir(dir).map_err(|e| Error::io(dir.display(), e))?;
        let mut entries = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| Error::io(dir.display(), e))?;
            // DirEntry::file_type does not follow links.
            let file_type = entry
                .file_type()
                .map_err(|e| Error::io(entry.path().display(), e))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|raw| Error::InvalidKey {
                    key: format!("{rel}/{}", raw.to_string_lossy()),
                    reason: "file name in the store is not UTF-8",
                })?;
            let full = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if file_type.is_symlink() {
                let key = ObjectKey::new(full.clone())?;
                return Err(symlink_refused(&key));
            }
            // All keys below a directory `d` start with `d/`; sorting directories by `d/`
            // and files by their name puts the whole walk in byte order of full keys.
            let sort_key = if file_type.is_dir() {
                format!("{full}/")
            } else {
                full.clone()
            };
            entries.push((sort_key, full, file_type.is_dir(), entry));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (sort_key, full, is_dir, entry) in entries {
            if out.len() >= self.limit {
                return Ok(());
            }
            if is_dir {
                let under = sort_key.as_str();
                let prefix_may_match =
                    under.starts_with(self.prefix) || self.prefix.starts_with(under);
                // Every key below `under` is smaller than `after` when `after` is past
                // `under` without being inside it.
                let all_before_token = self
                    .after
                    .is_some_and(|after| after > under && !after.starts_with(under));
                if prefix_may_match && !all_before_token {
                    self.dir(&entry.path(), &full, out)?;
                }
                continue;
            }
            if !full.starts_with(self.prefix)
                || self.after.is_some_and(|after| full.as_str() <= after)
            {
                continue;
            }
            let key = ObjectKey::new(full)?;
            let meta = entry
                .metadata()
                .map_err(|e| Error::io(entry.path().display(), e))?;
            out.push(meta_of(&key, &meta));
        }
        Ok(())
    }
}
