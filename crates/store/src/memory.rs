//! `Memory`: a store in a `BTreeMap`, for tests and for embedding.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::key::{ObjectKey, validate_prefix};
use crate::object_store::{ObjectStore, collect_stream, unsupported};
use crate::types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutMode,
    PutOptions, PutOutcome, Retention, VersionId, VersionInfo,
};

const BACKEND: &str = "memory";

/// Default number of objects per listing page (S3's maximum).
const DEFAULT_PAGE_SIZE: usize = 1000;

/// Chunk size of streaming reads.
const READ_CHUNK: usize = 1 << 20;

/// An in-memory store.
///
/// [`Memory::new`] behaves like an unversioned bucket; [`Memory::versioned`] keeps every
/// version and models S3 object lock (retention and legal hold refuse
/// [`ObjectStore::delete_version`]), so the conformance suite's version and lock tests run
/// without S3. All state sits behind one mutex, which is what makes create-only writes atomic.
#[derive(Debug)]
pub struct Memory {
    state: Mutex<State>,
    versioned: bool,
    page_size: usize,
}

#[derive(Debug, Default)]
struct State {
    /// Per key, its versions oldest first. Unversioned stores keep exactly one, never a marker.
    objects: BTreeMap<ObjectKey, Vec<StoredVersion>>,
    next_version: u64,
}

#[derive(Debug, Clone)]
struct StoredVersion {
    id: VersionId,
    /// `None` for a delete marker.
    body: Option<Bytes>,
    etag: String,
    modified: SystemTime,
    retention: Option<Retention>,
    legal_hold: bool,
}

impl StoredVersion {
    fn meta(&self, key: &ObjectKey, versioned: bool) -> ObjectMeta {
        ObjectMeta {
            key: key.clone(),
            size: self.body.as_ref().map_or(0, |b| b.len() as u64),
            last_modified: Some(self.modified),
            etag: Some(self.etag.clone()),
            version: versioned.then(|| self.id.clone()),
        }
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl Memory {
    /// An empty unversioned store.
    pub fn new() -> Self {
        Memory {
            state: Mutex::default(),
            versioned: false,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// An empty store that keeps versions and honors object lock.
    pub fn versioned() -> Self {
        Memory {
            versioned: true,
            ..Self::new()
        }
    }

    /// Sets the number of objects per listing page (at least 1).
    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every mutation
        // below is a single insert or remove. So a poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn latest<'s>(state: &'s State, key: &ObjectKey) -> Result<&'s StoredVersion> {
        state
            .objects
            .get(key)
            .and_then(|versions| versions.last())
            .filter(|v| v.body.is_some())
            .ok_or_else(|| Error::not_found(key))
    }

    fn store(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome> {
        let mut state = self.lock();
        if options.mode == PutMode::CreateOnly && Self::latest(&state, key).is_ok() {
            return Err(Error::already_exists(key));
        }
        state.next_version += 1;
        let id = VersionId::new(format!("{:020}", state.next_version));
        let etag = etag_of(&data);
        let size = data.len() as u64;
        let version = StoredVersion {
            id: id.clone(),
            body: Some(data),
            etag: etag.clone(),
            modified: SystemTime::now(),
            retention: options.retention,
            legal_hold: options.legal_hold,
        };
        let versions = state.objects.entry(key.clone()).or_default();
        if !self.versioned {
            versions.clear();
        }
        versions.push(version);
        Ok(PutOutcome {
            size,
            etag: Some(etag),
            version: self.versioned.then_some(id),
        })
    }

    fn check_put_options(&self, options: &PutOptions) -> Result<()> {
        if options.wants_lock() && !self.versioned {
            return Err(unsupported(BACKEND, "object lock on an unversioned store"));
        }
        Ok(())
    }

    fn check_versioned(&self, operation: &'static str) -> Result<()> {
        if self.versioned {
            Ok(())
        } else {
            Err(unsupported(BACKEND, operation))
        }
    }

    fn find_version<'s>(
        state: &'s mut State,
        key: &ObjectKey,
        version: &VersionId,
    ) -> Result<&'s mut StoredVersion> {
        state
            .objects
            .get_mut(key)
            .and_then(|versions| versions.iter_mut().find(|v| &v.id == version))
            .ok_or_else(|| Error::not_found(format!("{key}@{version}")))
    }
}

fn etag_of(data: &[u8]) -> String {
    hex::encode(&Sha256::digest(data)[..16])
}

#[async_trait]
impl ObjectStore for Memory {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        if self.versioned {
            Capabilities::versioned_with_lock()
        } else {
            Capabilities::basic()
        }
    }

    async fn put(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome> {
        self.check_put_options(options)?;
        self.store(key, data, options)
    }

    async fn put_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        self.check_put_options(options)?;
        // The object ends up in memory anyway; collecting first keeps the write atomic.
        let data = collect_stream(data).await?;
        self.store(key, data, options)
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let state = self.lock();
        Ok(Self::latest(&state, key)?.body.clone().unwrap_or_default())
    }

    async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader> {
        let (meta, body) = {
            let state = self.lock();
            let latest = Self::latest(&state, key)?;
            (
                latest.meta(key, self.versioned),
                latest.body.clone().unwrap_or_default(),
            )
        };
        let chunks: Vec<Result<Bytes>> = (0..body.len())
            .step_by(READ_CHUNK)
            .map(|start| Ok(body.slice(start..(start + READ_CHUNK).min(body.len()))))
            .collect();
        Ok(ObjectReader {
            meta,
            stream: futures::stream::iter(chunks).boxed(),
        })
    }

    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
        let state = self.lock();
        let body = Self::latest(&state, key)?.body.clone().unwrap_or_default();
        let (start, len) = range.clamp_to(key, body.len() as u64)?;
        // Both fit in usize: they are bounded by the body's length.
        let (start, len) = (start as usize, len as usize);
        Ok(body.slice(start..start + len))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let state = self.lock();
        Ok(Self::latest(&state, key)?.meta(key, self.versioned))
    }

    async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage> {
        validate_prefix(prefix)?;
        let state = self.lock();
        // Start at the prefix, or just after the token when that is further on.
        let lower = match token {
            Some(token) if token.as_str() >= prefix => Bound::Excluded(token.as_str()),
            _ => Bound::Included(prefix),
        };
        let mut objects = Vec::new();
        let mut more = false;
        for (key, versions) in state.objects.range::<str, _>((lower, Bound::Unbounded)) {
            // Keys with the prefix are contiguous from the prefix on: the first one without
            // it ends the listing.
            if !key.as_str().starts_with(prefix) {
                break;
            }
            let Some(latest) = versions.last().filter(|v| v.body.is_some()) else {
                continue;
            };
            if objects.len() == self.page_size {
                more = true;
                break;
            }
            let mut meta = latest.meta(key, self.versioned);
            meta.version = None;
            objects.push(meta);
        }
        let next = if more {
            objects
                .last()
                .map(|m: &ObjectMeta| PageToken::new(m.key.as_str()))
        } else {
            None
        };
        Ok(ListPage { objects, next })
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let mut state = self.lock();
        if !self.versioned {
            state.objects.remove(key);
            return Ok(());
        }
        // As on S3, deleting without a version id adds a delete marker even when the key
        // has none (the marker is then the whole history); object lock does not forbid it.
        state.next_version += 1;
        let id = VersionId::new(format!("{:020}", state.next_version));
        let marker = StoredVersion {
            id,
            body: None,
            etag: String::new(),
            modified: SystemTime::now(),
            retention: None,
            legal_hold: false,
        };
        state.objects.entry(key.clone()).or_default().push(marker);
        Ok(())
    }

    async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<VersionInfo>> {
        self.check_versioned("versions")?;
        let state = self.lock();
        let Some(versions) = state.objects.get(key) else {
            return Ok(Vec::new());
        };
        let last = versions.len().saturating_sub(1);
        Ok(versions
            .iter()
            .enumerate()
            .rev()
            .map(|(i, v)| VersionInfo {
                version: v.id.clone(),
                is_latest: i == last,
                is_delete_marker: v.body.is_none(),
                size: v.body.as_ref().map_or(0, |b| b.len() as u64),
                last_modified: Some(v.modified),
            })
            .collect())
    }

    async fn get_version(&self, key: &ObjectKey, version: &VersionId) -> Result<Bytes> {
        self.check_versioned("versions")?;
        let mut state = self.lock();
        let found = Self::find_version(&mut state, key, version)?;
        found
            .body
            .clone()
            .ok_or_else(|| Error::not_found(format!("{key}@{version}")))
    }

    async fn delete_version(&self, key: &ObjectKey, version: &VersionId) -> Result<()> {
        self.check_versioned("versions")?;
        let mut state = self.lock();
        let found = Self::find_version(&mut state, key, version)?;
        if found.legal_hold {
            return Err(Error::PermissionDenied {
                key: key.to_string(),
                detail: format!("version {version} is under legal hold"),
            });
        }
        if let Some(retention) = found.retention.filter(|r| r.is_active(SystemTime::now())) {
            return Err(Error::PermissionDenied {
                key: key.to_string(),
                detail: format!(
                    "version {version} is retained ({:?}) until later",
                    retention.mode
                ),
            });
        }
        if let Some(versions) = state.objects.get_mut(key) {
            versions.retain(|v| &v.id != version);
            if versions.is_empty() {
                state.objects.remove(key);
            }
        }
        Ok(())
    }

    async fn set_legal_hold(&self, key: &ObjectKey, version: &VersionId, on: bool) -> Result<()> {
        self.check_versioned("object lock")?;
        let mut state = self.lock();
        let found = Self::find_version(&mut state, key, version)?;
        if found.body.is_none() {
            return Err(Error::PreconditionFailed {
                key: key.to_string(),
                detail: "a delete marker cannot be held".into(),
            });
        }
        found.legal_hold = on;
        Ok(())
    }
}
