//! Writing a snapshot (record versions and file bodies → packs and index segments → a committed
//! manifest) and reading a record as of a snapshot (`docs/format/repository.md` §4–§8).
//!
//! A run writes each object through its own [`ObjectWriter`], so objects can be read and
//! written concurrently; the [`SnapshotWriter`] takes each finished object (journal, §8) and
//! commits the snapshot once all are.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use coffer_compress::{Compressor, Decompressor, DictionarySet, Level, Limits};
use tokio::sync::OnceCell;

use super::blobs::{BLOB_NAME_LEN, BlobPacker};
use super::entries::EntryLog;
use super::index::{Block, EntryKind, IndexEntry, IndexSegment, Location, RecordId};
use super::manifest::{
    BlobTotals, FORMAT_VERSION, Journal, Manifest, ObjectState, RunKind, Watermark,
};
use super::pack::{BlockWorkspace, PackBuilder, block_line};
use super::record::is_version;
use super::store::{ContentKind, ContentName, OrgRepo};
use crate::error::{Error, Result};

/// Uncompressed record bytes per block. Larger blocks compress better (records of one object
/// repeat field names and values), smaller ones make a point read inflate less and take less
/// memory: an object being written holds a block as lines, and a block being compressed is
/// held as columns and encoded too. Records take 32% fewer bytes in 8 MiB blocks than in
/// 256 KiB ones at level 3 (2.83 against 4.15 MB for 30 MB of generated Contacts,
/// `zstd -b9 -B8388608` against `zstd -b3 -B262144`). On the peers org (benches/peers) the
/// repository was 47.85 MB with 8 MiB blocks, 48.12 with 4 MiB, 48.76 with 2 MiB, 49.53 with
/// 1 MiB and 50.93 with 512 KiB, against restic's 59.7. What the smaller blocks bought is
/// memory, less of which grows with the org: peaks (means of five runs, the 1x org then the
/// 4x org, with an object's index written in segments of `SEGMENT_ENTRIES`) of 51.9 and 61.0
/// MiB at 1 MiB, and 48.7 and 56.9 MiB at 512 KiB; 2 MiB blocks had 56 and 67.6 MiB with one
/// segment per object. Most of the 4x org's growth is in its file objects (Attachment and
/// ContentVersion backed up alone: 42 against 55 MiB with 2 MiB blocks): their records fill
/// blocks there, and not on the 1x org.
const BLOCK_TARGET: usize = 512 * 1024;
/// Room a block buffer is given at once: a block reaches [`BLOCK_TARGET`] plus the record that
/// crosses it. Grown by doubling instead, the buffer was copied four times on the way and then
/// doubled to 16 MiB for that last record (only touched pages take memory, so the room left
/// unused costs none).
const BLOCK_CAPACITY: usize = BLOCK_TARGET + 512 * 1024;
/// Room a pack's plaintext is given at once: the pack is stored once past [`PACK_TARGET`], and
/// a block compresses into at most zstd's bound (its content plus 1/256) and a few header bytes.
const PACK_CAPACITY: usize = PACK_TARGET + BLOCK_CAPACITY + BLOCK_CAPACITY / 128;
/// zstd level of record blocks.
const BLOCK_LEVEL: i32 = 3;
/// Plaintext bytes per pack before a new one starts: several blocks of records on the peers
/// org, where records compress more than ten times. A pack is held in memory, and sealed into
/// a copy, while it is built and stored, by each object written, so only objects whose packs
/// fill hold a whole one: at 8 MiB only a large object's packs filled, and peak memory grew
/// with the org (on the 4x org of benches/peers the median peak of three runs was 151 MiB at
/// 8 MiB and 138 MiB at 2 MiB, while the 250 MB org's stayed at 115 MiB). At 512 KiB the file
/// objects' record packs fill on the 4x org as on the 1x one: means of four runs were 48.5
/// and 56.2 MiB against 49.7 and 58.8 at 2 MiB, with the same repository size (50.95 MB).
const PACK_TARGET: usize = 512 * 1024;
/// Entries in each index segment an object's run writes. The segments of one run hold
/// consecutive ranges of its versions in (Id, stamp) order, so the ordering rule of
/// `repository.md` §6 holds between them as between runs. Writing one holds its entries (40
/// bytes each) and their encoding (47) at once: one segment for a whole object made that grow
/// with the object (13 MB for the 150,000 Contacts of benches/peers' 4x org), and this many
/// keep it near 3 MB while the 1x org's objects (at most 37,500 records) take two segments at
/// most.
pub const SEGMENT_ENTRIES: usize = 32 * 1024;
/// Largest block a reader decompresses (a bomb guard; blocks are ~512 KiB, and were up to
/// ~8 MiB).
const MAX_BLOCK_CONTENT: u64 = 64 * 1024 * 1024;

/// One version waiting for its block.
struct Pending {
    id: RecordId,
    stamp_ms: i64,
    kind: EntryKind,
    canonical: Vec<u8>,
}

/// The record working buffers of a run, handed from object to object: pack builders with
/// their block buffers, one set per object writing records at once, and block workspaces (the
/// compressor, the column encoder and its output), one per block being compressed at once.
/// With buffers freed at each object's end, every object faulted its blocks and packs in
/// again, and the memory a run held depended on which objects happened to be written together.
/// A workspace is taken only while a block compresses, so they follow the cores rather than the
/// objects being written: with `--parallel-objects 8` the 4x org of benches/peers peaked at
/// 98-99 MiB against 102-103 with a workspace per object (no difference at the default three).
#[derive(Clone)]
struct RunBuffers {
    sets: Arc<Mutex<Vec<BufferSet>>>,
    workspaces: Arc<Mutex<Vec<BlockWorkspace>>>,
    /// One permit per core: blocks compressed at once, so workspaces made.
    compressing: Arc<tokio::sync::Semaphore>,
}

impl Default for RunBuffers {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            sets: Arc::default(),
            workspaces: Arc::default(),
            compressing: Arc::new(tokio::sync::Semaphore::new(cores)),
        }
    }
}

/// One object's record buffers: the pack builder, and the block buffer.
type BufferSet = (PackBuilder, Vec<u8>);

/// The list `list` locked. Nothing panics while one is held: a poisoned list is still whole.
fn locked<T>(list: &Mutex<Vec<T>>) -> std::sync::MutexGuard<'_, Vec<T>> {
    list.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RunBuffers {
    /// A set no object holds, or a new one.
    fn take(&self) -> BufferSet {
        locked(&self.sets)
            .pop()
            .unwrap_or_else(|| (PackBuilder::with_capacity(PACK_CAPACITY), Vec::new()))
    }

    /// Gives back an object's set (its pack stored, its block flushed: both empty).
    fn give_back(&self, builder: PackBuilder, mut block: Vec<u8>) {
        block.clear();
        locked(&self.sets).push((builder, block));
    }

    /// A workspace no block is compressed in, or a new one.
    fn take_workspace(&self) -> Result<BlockWorkspace> {
        if let Some(workspace) = locked(&self.workspaces).pop() {
            return Ok(workspace);
        }
        let level = Level::new(BLOCK_LEVEL).map_err(Error::Compress)?;
        Ok(BlockWorkspace::new(
            Compressor::new(level).map_err(Error::Compress)?,
        ))
    }

    fn give_back_workspace(&self, workspace: BlockWorkspace) {
        locked(&self.workspaces).push(workspace);
    }
}

/// What a run has written of one object's records so far. Memory is bounded by one block
/// being filled and one pack being built (plus an index entry per version, about 13 bytes
/// in an [`EntryLog`]): a pack is stored as soon as it is full, not when the object is
/// finished.
struct ObjectRun {
    builder: Option<PackBuilder>,
    /// The block being filled: record lines, each followed by `\n`.
    block: Vec<u8>,
    /// Records in `block`; their entries are in `entries` already, naming block
    /// `blocks.len()`, which `flush_block` adds.
    block_records: u32,
    /// Packs of this object stored by this run, in order (blocks name them by ordinal).
    packs: Vec<[u8; 32]>,
    /// Blocks stored by this run, in order (entries name them by ordinal).
    blocks: Vec<Block>,
    entries: EntryLog,
    versions: u64,
    gone: u64,
}

impl ObjectRun {
    /// A run writing with a set of `buffers`.
    fn new(buffers: &RunBuffers) -> Self {
        let (builder, block) = buffers.take();
        Self {
            builder: Some(builder),
            block,
            block_records: 0,
            packs: Vec::new(),
            blocks: Vec::new(),
            entries: EntryLog::default(),
            versions: 0,
            gone: 0,
        }
    }

    /// Queues the record line `canonical` (without its newline) in the block being filled.
    fn push_version(
        &mut self,
        id: RecordId,
        stamp_ms: i64,
        kind: EntryKind,
        canonical: &[u8],
    ) -> Result<()> {
        let block = u32::try_from(self.blocks.len())
            .map_err(|_| Error::InvalidArgument("too many blocks".into()))?;
        self.entries.push(IndexEntry {
            id,
            stamp_ms,
            kind,
            block,
            ordinal: self.block_records,
        });
        // A block holds at most BLOCK_TARGET bytes plus one record, a newline each.
        self.block_records += 1;
        if self.block.capacity() == 0 {
            self.block.reserve_exact(BLOCK_CAPACITY);
        }
        self.block.extend_from_slice(canonical);
        self.block.push(b'\n');
        Ok(())
    }

    fn builder(&mut self) -> Result<&mut PackBuilder> {
        // Taken only while a block compresses, and put back before `flush_block` returns.
        self.builder
            .as_mut()
            .ok_or_else(|| Error::Worker("the pack builder went missing".into()))
    }

    /// What the object's index is built from (packs, blocks, entries); the working buffers
    /// (block buffer, pack builder) go back to `buffers` for the next object.
    /// Called once the last block and pack are stored.
    fn into_index_parts(self, buffers: &RunBuffers) -> (Vec<[u8; 32]>, Vec<Block>, EntryLog) {
        let ObjectRun {
            builder,
            block,
            packs,
            blocks,
            entries,
            ..
        } = self;
        if let Some(builder) = builder {
            buffers.give_back(builder, block);
        }
        (packs, blocks, entries)
    }

    /// Compresses the records waiting into one block of the pack being built, on a worker
    /// thread (zstd at this level is most of a backup's CPU).
    async fn flush_block(&mut self, object: &str, buffers: &RunBuffers) -> Result<()> {
        if self.block_records == 0 {
            return Ok(());
        }
        // Blocks beyond one a core would only wait for a core, each with its workspace.
        let _compressing = buffers
            .compressing
            .acquire()
            .await
            .map_err(|_| Error::Worker("the compression permits were closed".into()))?;
        let mut workspace = buffers.take_workspace()?;
        let block = std::mem::take(&mut self.block);
        let Some(mut builder) = self.builder.take() else {
            return Err(Error::Worker("the pack builder went missing".into()));
        };
        let name = object.to_owned();
        let (builder, workspace, mut block, info) = tokio::task::spawn_blocking(move || {
            let info = builder.push_content(&name, &block, &mut workspace);
            (builder, workspace, block, info)
        })
        .await
        .map_err(|e| Error::Worker(e.to_string()))?;
        buffers.give_back_workspace(workspace);
        self.builder = Some(builder);
        let info = info?;
        // The allocation serves the next block.
        block.clear();
        self.block = block;
        let pack = u32::try_from(self.packs.len())
            .map_err(|_| Error::InvalidArgument("too many packs".into()))?;
        // The block `push_version` named in the entries of its records.
        self.blocks.push(Block {
            pack,
            offset: info.offset,
            length: info.length,
        });
        self.block_records = 0;
        Ok(())
    }

    /// Stores the pack being built (if it holds anything); returns its name and stored size.
    async fn flush_pack(&mut self, org: &OrgRepo) -> Result<Option<(ContentName, u64)>> {
        let builder = self.builder()?;
        if builder.is_empty() {
            return Ok(None);
        }
        let (plaintext, _) = builder.take_pack()?;
        let (name, size) = org.put_content(ContentKind::Pack, plaintext).await?;
        self.packs.push(name.0);
        Ok(Some((name, size)))
    }
}

/// The names of the file bodies stored before the run and by the objects it finished, shared by
/// the objects written concurrently: a body stored for one of them is not stored again for a
/// later one. A body is in the set only once the object that stored it has finished (its blob
/// index segment is stored): until then another object naming the same body stores it too, in
/// its own segment, so every object's records name only bodies indexed by the time that object
/// is journaled, whichever objects of the run fail (repository.md §5). Loaded from the blob
/// index the first time a body is looked up.
#[derive(Clone)]
struct BlobNames {
    /// The blob index segments before the run.
    segments: Arc<Vec<String>>,
    names: Arc<OnceCell<Mutex<HashSet<[u8; BLOB_NAME_LEN]>>>>,
}

impl BlobNames {
    fn new(segments: Vec<String>) -> Self {
        Self {
            segments: Arc::new(segments),
            names: Arc::new(OnceCell::new()),
        }
    }

    /// The set, loaded from the segments the first time, locked.
    async fn locked(
        &self,
        org: &OrgRepo,
    ) -> Result<std::sync::MutexGuard<'_, HashSet<[u8; BLOB_NAME_LEN]>>> {
        let names = self
            .names
            .get_or_try_init(|| async {
                let mut names = HashSet::new();
                for segment in self.segments.iter() {
                    let segment = org.blob_segment(segment).await?;
                    names.extend(segment.entries().iter().map(|e| e.name));
                }
                Ok::<_, Error>(Mutex::new(names))
            })
            .await?;
        names
            .lock()
            .map_err(|_| Error::Worker("the blob name set was poisoned".into()))
    }

    /// Whether `name` is stored and indexed.
    async fn contains(&self, org: &OrgRepo, name: &[u8; BLOB_NAME_LEN]) -> Result<bool> {
        Ok(self.locked(org).await?.contains(name))
    }

    /// Notes the bodies a finished object stored and indexed.
    async fn add(&self, org: &OrgRepo, stored: &[[u8; BLOB_NAME_LEN]]) -> Result<()> {
        if !stored.is_empty() {
            self.locked(org).await?.extend(stored.iter().copied());
        }
        Ok(())
    }
}

/// What an [`ObjectWriter`] knows of the object's stored versions.
enum Known {
    /// Not loaded yet ([`ObjectWriter::load_known`]).
    NotLoaded,
    /// Nothing of the object was stored before this run: there is nothing to compare with,
    /// so no map is kept (on a first backup it would grow with the org). Versions queued are
    /// sorted when the object's segment is written, and an exact repeat of a version key is
    /// dropped there.
    Fresh,
    /// The newest stored or queued version of each record.
    Map(HashMap<RecordId, Newest>),
}

/// The stamp and kind of a record's newest version, as [`Known::Map`] keeps them: the stamp
/// as bytes, so the pair aligns to 1 and a map slot takes 27 bytes with its Id instead of 40
/// (the map holds every record of the object while it is written).
#[derive(Clone, Copy)]
struct Newest {
    stamp_ms: [u8; 8],
    kind: EntryKind,
}

impl Newest {
    fn new(stamp_ms: i64, kind: EntryKind) -> Self {
        Self {
            stamp_ms: stamp_ms.to_ne_bytes(),
            kind,
        }
    }

    fn stamp_ms(self) -> i64 {
        i64::from_ne_bytes(self.stamp_ms)
    }

    fn get(self) -> (i64, EntryKind) {
        (self.stamp_ms(), self.kind)
    }
}

/// What a run needs to write one object: handed out by [`SnapshotWriter::object_writer`].
pub struct ObjectWriter {
    org: OrgRepo,
    object: String,
    /// The object's state before this run (the parent's, or the continued run's).
    previous: Option<ObjectState>,
    known: Known,
    run: Option<ObjectRun>,
    /// The run's record working buffers, shared by its objects.
    buffers: RunBuffers,
    blob_names: BlobNames,
    packer: Option<BlobPacker>,
    full_read: bool,
    packs_added: Vec<String>,
    bytes_added: u64,
    logical_bytes_added: u64,
    blobs_added: (u64, u64),
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("object", &self.object)
            .finish_non_exhaustive()
    }
}

impl ObjectWriter {
    /// The object written.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The object's state before this run.
    pub fn previous(&self) -> Option<&ObjectState> {
        self.previous.as_ref()
    }

    /// Loads the newest stored version of each record of the object (from the previous
    /// state's index segments), once. Versions can be queued only after this.
    pub async fn load_known(&mut self) -> Result<()> {
        if !matches!(self.known, Known::NotLoaded) {
            return Ok(());
        }
        let segments = self.previous.as_ref().map_or(&[][..], |s| &s.index[..]);
        if segments.is_empty() {
            self.known = Known::Fresh;
            return Ok(());
        }
        let mut known: HashMap<RecordId, Newest> = HashMap::new();
        for name in segments {
            let segment = self.org.segment(name).await?;
            for e in segment.entries() {
                let newest = Newest::new(e.stamp_ms, e.kind);
                let slot = known.entry(e.id).or_insert(newest);
                if e.stamp_ms >= slot.stamp_ms() {
                    *slot = newest;
                }
            }
        }
        self.known = Known::Map(known);
        Ok(())
    }

    /// The newest version of `id` stored before this run, or queued by it when the object
    /// had stored versions: its stamp and kind. `None` when the record is unknown, the object
    /// had none stored ([`Known::Fresh`]: every version read is new), or nothing was loaded
    /// ([`Self::load_known`]).
    pub fn newest(&self, id: &RecordId) -> Option<(i64, EntryKind)> {
        match &self.known {
            Known::Map(known) => known.get(id).map(|n| n.get()),
            Known::NotLoaded | Known::Fresh => None,
        }
    }

    /// Every record stored before this run or queued since, with its newest stamp and kind
    /// (nothing unless the object had stored versions and they were loaded).
    pub fn known_records(&self) -> impl Iterator<Item = (&RecordId, (i64, EntryKind))> {
        match &self.known {
            Known::Map(known) => Some(known.iter().map(|(id, n)| (id, n.get()))),
            Known::NotLoaded | Known::Fresh => None,
        }
        .into_iter()
        .flatten()
    }

    /// Records whose newest version is live (neither deleted nor gone).
    ///
    /// On a first run this sorts the versions queued (the order the segment needs anyway).
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the versions queued do not decode (a bug or corrupted memory).
    pub fn live_count(&mut self) -> Result<u64> {
        Ok(match &mut self.known {
            Known::Map(known) => known
                .values()
                .filter(|n| n.kind == EntryKind::Version)
                .count() as u64,
            Known::NotLoaded => 0,
            Known::Fresh => {
                // Only what this run queued: the newest version of each record, the last of
                // its entries in (Id, stamp) order.
                let Some(run) = &mut self.run else {
                    return Ok(0);
                };
                let mut live = 0u64;
                let mut newest: Option<(RecordId, EntryKind)> = None;
                run.entries.sort()?.for_each(|e| {
                    if let Some((id, kind)) = newest
                        && id != e.id
                        && kind == EntryKind::Version
                    {
                        live += 1;
                    }
                    newest = Some((e.id, e.kind));
                })?;
                if newest.is_some_and(|(_, kind)| kind == EntryKind::Version) {
                    live += 1;
                }
                live
            }
        })
    }

    /// Notes that this run read the object in full (in an otherwise incremental run), so the
    /// snapshot records the run's start as its last full read.
    pub fn mark_full_read(&mut self) {
        self.full_read = true;
    }

    /// Queues a stored version: `canonical` is the canonical record (`record::canonical`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless the version is newer than every version of the record
    /// stored or queued before (repository.md §6: a later segment only adds later stamps, which
    /// is what lets a reader stop at the first segment that knows a record).
    pub async fn add_version(
        &mut self,
        id: RecordId,
        stamp_ms: i64,
        deleted: bool,
        canonical: Vec<u8>,
    ) -> Result<()> {
        let kind = if deleted {
            EntryKind::Deleted
        } else {
            EntryKind::Version
        };
        self.push(Pending {
            id,
            stamp_ms,
            kind,
            canonical,
        })
        .await
    }

    /// Queues a record found gone (no content); the same ordering rule as [`Self::add_version`].
    pub async fn add_gone(&mut self, id: RecordId, stamp_ms: i64) -> Result<()> {
        self.push(Pending {
            id,
            stamp_ms,
            kind: EntryKind::Gone,
            canonical: Vec::new(),
        })
        .await
    }

    async fn push(&mut self, pending: Pending) -> Result<()> {
        let object = &self.object;
        if memchr::memchr(b'\n', &pending.canonical).is_some() {
            return Err(Error::InvalidArgument(format!(
                "a {object} record holds a raw newline (not canonical)"
            )));
        }
        match &mut self.known {
            Known::NotLoaded => {
                return Err(Error::InvalidArgument(format!(
                    "versions of {object} queued before its stored versions were loaded"
                )));
            }
            Known::Fresh => {}
            Known::Map(known) => {
                if let Some(stamp) = known.get(&pending.id).map(|n| n.stamp_ms())
                    && stamp >= pending.stamp_ms
                {
                    return Err(Error::InvalidArgument(format!(
                        "a version of {object} {} at {} is not newer than the one at {stamp}",
                        pending.id, pending.stamp_ms
                    )));
                }
                known.insert(pending.id, Newest::new(pending.stamp_ms, pending.kind));
            }
        }
        let run = match &mut self.run {
            Some(run) => run,
            None => self.run.insert(ObjectRun::new(&self.buffers)),
        };
        if pending.kind == EntryKind::Gone {
            run.gone += 1;
            run.entries.push(IndexEntry {
                id: pending.id,
                stamp_ms: pending.stamp_ms,
                kind: EntryKind::Gone,
                block: 0,
                ordinal: 0,
            });
            return Ok(());
        }
        run.versions += 1;
        self.logical_bytes_added += pending.canonical.len() as u64;
        run.push_version(
            pending.id,
            pending.stamp_ms,
            pending.kind,
            &pending.canonical,
        )?;
        if run.block.len() >= BLOCK_TARGET {
            run.flush_block(&self.object, &self.buffers).await?;
            if run.builder()?.len() >= PACK_TARGET
                && let Some((name, size)) = run.flush_pack(&self.org).await?
            {
                self.packs_added.push(name.to_hex());
                self.bytes_added += size;
            }
        }
        Ok(())
    }

    /// Stores a file body once: returns its name (`OrgRepo::blob_name`, as blob references
    /// carry it) and whether it is new. A new body is queued in a blob pack (compressed on a
    /// worker thread); it is in the repository once the object is finished.
    pub async fn add_blob(&mut self, body: Vec<u8>) -> Result<(String, bool)> {
        let key = self.org.blob_key(&body);
        let name = hex::encode(key);
        // Stored by an object that finished, or queued by this one (stored once it finishes).
        if self.blob_names.contains(&self.org, &key).await?
            || self.packer.as_ref().is_some_and(|p| p.has_queued(&key))
        {
            return Ok((name, false));
        }
        let size = body.len() as u64;
        let mut packer = match self.packer.take() {
            Some(packer) => packer,
            None => BlobPacker::new()?,
        };
        // A small body joins the block being filled (a copy); only a push that compresses a
        // block goes to a worker thread. A worker hand-off per body cost more than the copy
        // (the 3,000 bodies of an object are each a hand-off).
        let (packer, pushed) = if packer.push_only_copies(body.len()) {
            let pushed = packer.push(key, &body);
            (packer, pushed)
        } else {
            tokio::task::spawn_blocking(move || {
                let pushed = packer.push(key, &body);
                (packer, pushed)
            })
            .await
            .map_err(|e| Error::Worker(e.to_string()))?
        };
        let full = packer.pack_full();
        self.packer = Some(packer);
        pushed?;
        self.blobs_added.0 += 1;
        self.blobs_added.1 += size;
        self.logical_bytes_added += size;
        if full {
            self.store_blob_pack().await?;
        }
        Ok((name, true))
    }

    /// Stores the blob pack being built, if it holds anything.
    async fn store_blob_pack(&mut self) -> Result<()> {
        let Some(mut packer) = self.packer.take() else {
            return Ok(());
        };
        // Taking the pack compresses the block being filled (about `blobs::BLOCK_TARGET`):
        // a worker's job.
        let (mut packer, taken) = tokio::task::spawn_blocking(move || {
            let taken = packer.take_pack();
            (packer, taken)
        })
        .await
        .map_err(|e| Error::Worker(e.to_string()))?;
        if let Some(plaintext) = taken? {
            let (name, size) = self
                .org
                .put_content(ContentKind::BlobPack, plaintext)
                .await?;
            packer.pack_stored(name.0);
            self.bytes_added += size;
        }
        self.packer = Some(packer);
        Ok(())
    }

    /// Stores everything queued (the last packs, the index segment, the blob index segment)
    /// and says what the object now is: `watermark` (when the read had one) and `live` records.
    pub async fn finish(
        mut self,
        watermark: Option<Watermark>,
        live: u64,
    ) -> Result<FinishedObject> {
        // Bodies first: the object's records name them.
        let mut blob_segment = None;
        let mut blob_names = Vec::new();
        if self.packer.as_ref().is_some_and(|p| !p.is_empty()) {
            self.store_blob_pack().await?;
            // The packer's block and pack buffers go now, not with the writer: what follows
            // (the record index) takes longer the larger the object.
            if let Some(mut packer) = self.packer.take() {
                let segment = packer.finish()?;
                drop(packer);
                blob_names = segment.entries().iter().map(|e| e.name).collect();
                let (name, size) = self
                    .org
                    .put_content(ContentKind::BlobIndex, segment.to_stored()?)
                    .await?;
                self.bytes_added += size;
                blob_segment = Some(name.to_hex());
            }
        }
        let mut done = FinishedObject {
            object: std::mem::take(&mut self.object),
            watermark,
            live,
            full_read: self.full_read,
            index_segments: Vec::new(),
            versions: 0,
            gone: 0,
            blob_segment,
            blob_names,
            blobs_added: self.blobs_added,
            packs_added: Vec::new(),
            bytes_added: 0,
            logical_bytes_added: self.logical_bytes_added,
        };
        if let Some(mut run) = self.run.take() {
            run.flush_block(&done.object, &self.buffers).await?;
            if let Some((name, size)) = run.flush_pack(&self.org).await? {
                self.packs_added.push(name.to_hex());
                self.bytes_added += size;
            }
            done.versions = run.versions;
            done.gone = run.gone;
            // The block buffer and the pack builder go to the next object before the index is
            // built: sorting, encoding and compressing a large object's entries takes a while,
            // and other objects are being read meanwhile.
            let (packs, blocks, entries) = run.into_index_parts(&self.buffers);
            // Sorted by (Id, stamp), off the task that drives the other objects' reads: a first
            // run's version read twice is kept once, and with stored versions `push` admitted
            // one per pair.
            let mut entries = tokio::task::spawn_blocking(move || {
                let mut entries = entries;
                entries.sort()?;
                Ok::<_, Error>(entries)
            })
            .await
            .map_err(|e| Error::Worker(e.to_string()))??;
            // Merged already: this only reads them back.
            let sorted = entries.sort()?;
            let mut cursor = sorted.cursor();
            let mut left = sorted.len();
            while left > 0 {
                let take = left.min(SEGMENT_ENTRIES);
                left -= take;
                let mut part = Vec::with_capacity(take);
                while part.len() < take
                    && let Some(entry) = cursor.next()?
                {
                    part.push(entry);
                }
                let (object, packs, blocks) = (done.object.clone(), packs.clone(), blocks.clone());
                let stored = tokio::task::spawn_blocking(move || {
                    IndexSegment::new(object, packs, blocks, part)?.to_stored()
                })
                .await
                .map_err(|e| Error::Worker(e.to_string()))??;
                let (name, size) = self.org.put_content(ContentKind::Index, stored).await?;
                self.bytes_added += size;
                done.index_segments.push(name.to_hex());
            }
        }
        done.packs_added = std::mem::take(&mut self.packs_added);
        done.bytes_added = self.bytes_added;
        Ok(done)
    }
}

/// An object an [`ObjectWriter`] finished: everything it stored, for
/// [`SnapshotWriter::finish`] to record.
#[derive(Debug)]
pub struct FinishedObject {
    object: String,
    watermark: Option<Watermark>,
    live: u64,
    full_read: bool,
    /// The index segments of the versions stored, in (Id, stamp) order.
    index_segments: Vec<String>,
    versions: u64,
    gone: u64,
    blob_segment: Option<String>,
    /// The bodies `blob_segment` indexes.
    blob_names: Vec<[u8; BLOB_NAME_LEN]>,
    blobs_added: (u64, u64),
    packs_added: Vec<String>,
    bytes_added: u64,
    logical_bytes_added: u64,
}

impl FinishedObject {
    /// The object.
    pub fn object(&self) -> &str {
        &self.object
    }
}

/// Where the org's run stands, object by object, until it commits.
pub struct SnapshotWriter<'a> {
    org: &'a OrgRepo,
    parent: Option<Manifest>,
    kind: RunKind,
    run: String,
    started_ms: i64,
    objects: BTreeMap<String, ObjectState>,
    /// Objects handed out and not finished: by [`Self::object_writer`], or opened here by
    /// [`Self::load_known`] for the one-object-at-a-time calls.
    handed_out: BTreeSet<String>,
    open: BTreeMap<String, ObjectWriter>,
    /// Objects finished (by this run, or by the run it continues).
    finished: BTreeSet<String>,
    blob_names: BlobNames,
    buffers: RunBuffers,
    /// The number of the last journal written.
    journal_n: u64,
    packs_added: Vec<String>,
    bytes_added: u64,
    logical_bytes_added: u64,
    blobs: BlobTotals,
}

impl<'a> SnapshotWriter<'a> {
    /// Starts a run on top of the newest snapshot of `org`.
    pub async fn begin(
        org: &'a OrgRepo,
        kind: RunKind,
        run: String,
        started_ms: i64,
    ) -> Result<Self> {
        let parent = org.latest().await?;
        let objects = parent
            .as_ref()
            .map(|m| {
                m.objects
                    .iter()
                    .map(|(name, state)| {
                        let mut state = state.clone();
                        state.versions_added = 0;
                        state.gone_added = 0;
                        (name.clone(), state)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let blobs = parent.as_ref().map(|m| m.blobs.clone()).unwrap_or_default();
        Ok(Self {
            org,
            parent,
            kind,
            run,
            started_ms,
            objects,
            handed_out: BTreeSet::new(),
            open: BTreeMap::new(),
            finished: BTreeSet::new(),
            blob_names: BlobNames::new(blobs.index.clone()),
            buffers: RunBuffers::default(),
            journal_n: 0,
            packs_added: Vec::new(),
            bytes_added: 0,
            logical_bytes_added: 0,
            blobs,
        })
    }

    /// Continues the newest run that died on top of the newest snapshot of `org`, if its journal
    /// says it finished any object (repository.md §8); `None` when there is none to continue.
    /// The objects it finished are not to be read again ([`Self::is_finished`]): their packs and
    /// index segments are reused.
    pub async fn resume(org: &'a OrgRepo) -> Result<Option<Self>> {
        let parent = org.latest().await?;
        let parent_seq = parent.as_ref().map(|m| m.seq);
        let Some(journal) = org
            .journals()
            .await?
            .into_iter()
            .rev()
            .find(|j| j.parent == parent_seq && !j.finished.is_empty())
        else {
            return Ok(None);
        };
        Ok(Some(Self {
            org,
            parent,
            kind: journal.kind,
            run: journal.run,
            started_ms: journal.started_ms,
            objects: journal.objects,
            handed_out: BTreeSet::new(),
            open: BTreeMap::new(),
            finished: journal.finished,
            blob_names: BlobNames::new(journal.blobs.index.clone()),
            buffers: RunBuffers::default(),
            journal_n: journal.n,
            packs_added: journal.packs_added,
            bytes_added: journal.bytes_added,
            logical_bytes_added: journal.logical_bytes_added,
            blobs: journal.blobs,
        }))
    }

    /// The run's id.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// How the run reads the org.
    pub fn kind(&self) -> RunKind {
        self.kind
    }

    /// Whether `object` is finished: by this run, or by the run it continues.
    pub fn is_finished(&self, object: &str) -> bool {
        self.finished.contains(object)
    }

    /// The snapshot this run builds on.
    pub fn parent(&self) -> Option<&Manifest> {
        self.parent.as_ref()
    }

    /// The state of `object` so far (from the parent, updated by finished objects).
    pub fn object_state(&self, object: &str) -> Option<&ObjectState> {
        self.objects.get(object)
    }

    /// A writer for `object`, which may run concurrently with the writers of other objects;
    /// hand it back to [`Self::finish`]. One per object and run.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty name or an object already handed out.
    pub fn object_writer(&mut self, object: &str) -> Result<ObjectWriter> {
        if object.is_empty() {
            return Err(Error::InvalidArgument("empty object name".into()));
        }
        if !self.handed_out.insert(object.to_owned()) {
            return Err(Error::InvalidArgument(format!(
                "{object} is already being written"
            )));
        }
        Ok(ObjectWriter {
            org: self.org.clone(),
            object: object.to_owned(),
            previous: self.objects.get(object).cloned(),
            known: Known::NotLoaded,
            run: None,
            blob_names: self.blob_names.clone(),
            buffers: self.buffers.clone(),
            packer: None,
            full_read: false,
            packs_added: Vec::new(),
            bytes_added: 0,
            logical_bytes_added: 0,
            blobs_added: (0, 0),
        })
    }

    /// Records a finished object: its new segments, watermark and counts, and a journal so a
    /// run that dies after it does not read it again.
    pub async fn finish(&mut self, done: FinishedObject) -> Result<()> {
        let object = done.object;
        self.handed_out.remove(&object);
        let state = self
            .objects
            .entry(object.clone())
            .or_insert_with(|| ObjectState {
                watermark: None,
                live: 0,
                versions_added: 0,
                gone_added: 0,
                index: Vec::new(),
                dictionary: None,
                last_full_ms: None,
            });
        state.live = done.live;
        if done.watermark.is_some() {
            state.watermark = done.watermark;
        }
        if matches!(self.kind, RunKind::Full | RunKind::Reconcile) || done.full_read {
            state.last_full_ms = Some(self.started_ms);
        }
        state.index.extend(done.index_segments.iter().cloned());
        state.versions_added += done.versions;
        state.gone_added += done.gone;
        self.finished.insert(object);
        if let Some(segment) = done.blob_segment {
            self.blobs.index.push(segment);
        }
        // Indexed now: the objects still being written need not store these bodies again.
        self.blob_names.add(self.org, &done.blob_names).await?;
        self.blobs.count += done.blobs_added.0;
        self.blobs.bytes += done.blobs_added.1;
        self.packs_added.extend(done.packs_added);
        self.bytes_added += done.bytes_added;
        self.logical_bytes_added += done.logical_bytes_added;
        // Nothing stored: re-reading it costs little, unless it was a full read.
        if !done.index_segments.is_empty() || done.full_read {
            self.write_journal().await?;
        }
        Ok(())
    }

    fn opened(&mut self, object: &str) -> Result<&mut ObjectWriter> {
        self.open.get_mut(object).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "versions of {object} queued before its stored versions were loaded"
            ))
        })
    }

    /// Opens `object` for the one-object-at-a-time calls below and loads its stored versions
    /// ([`ObjectWriter::load_known`]).
    pub async fn load_known(&mut self, object: &str) -> Result<()> {
        if !self.open.contains_key(object) {
            let writer = self.object_writer(object)?;
            self.open.insert(object.to_owned(), writer);
        }
        self.opened(object)?.load_known().await
    }

    /// [`ObjectWriter::newest`] of an object opened by [`Self::load_known`].
    pub fn newest(&self, object: &str, id: &RecordId) -> Option<(i64, EntryKind)> {
        self.open.get(object)?.newest(id)
    }

    /// [`ObjectWriter::live_count`] of an object opened by [`Self::load_known`].
    pub fn live_count(&mut self, object: &str) -> Result<u64> {
        self.open
            .get_mut(object)
            .map_or(Ok(0), ObjectWriter::live_count)
    }

    /// [`ObjectWriter::add_version`] on an object opened by [`Self::load_known`].
    pub async fn add_version(
        &mut self,
        object: &str,
        id: &str,
        stamp_ms: i64,
        deleted: bool,
        canonical: Vec<u8>,
    ) -> Result<()> {
        let id = RecordId::parse(id)?;
        self.opened(object)?
            .add_version(id, stamp_ms, deleted, canonical)
            .await
    }

    /// [`ObjectWriter::add_gone`] on an object opened by [`Self::load_known`].
    pub async fn add_gone(&mut self, object: &str, id: &str, stamp_ms: i64) -> Result<()> {
        let id = RecordId::parse(id)?;
        self.opened(object)?.add_gone(id, stamp_ms).await
    }

    /// [`ObjectWriter::finish`] of an object opened by [`Self::load_known`], then
    /// [`Self::finish`].
    pub async fn finish_object(
        &mut self,
        object: &str,
        watermark: Option<Watermark>,
        live: u64,
    ) -> Result<()> {
        let writer = match self.open.remove(object) {
            Some(writer) => writer,
            None => self.object_writer(object)?,
        };
        let done = writer.finish(watermark, live).await?;
        self.finish(done).await
    }

    /// Records what the run has finished, so a run that dies can be continued.
    async fn write_journal(&mut self) -> Result<()> {
        self.journal_n += 1;
        let journal = Journal {
            version: FORMAT_VERSION,
            run: self.run.clone(),
            n: self.journal_n,
            parent: self.parent.as_ref().map(|p| p.seq),
            kind: self.kind,
            started_ms: self.started_ms,
            objects: self.objects.clone(),
            finished: self.finished.clone(),
            packs_added: self.packs_added.clone(),
            bytes_added: self.bytes_added,
            logical_bytes_added: self.logical_bytes_added,
            blobs: self.blobs.clone(),
        };
        // Not counted in `bytes_added`: the journal is removed once the snapshot commits.
        self.org.put_journal(&journal).await?;
        Ok(())
    }

    /// Commits the snapshot. Every object handed out must have been finished.
    pub async fn commit(
        self,
        org_id: &str,
        instance_url: &str,
        api_version: &str,
        finished_ms: i64,
    ) -> Result<Manifest> {
        // An object opened here and left untouched queued nothing; any other unfinished one
        // would be lost.
        if let Some(object) = self.handed_out.iter().find(|o| {
            self.open
                .get(*o)
                .is_none_or(|w| w.run.is_some() || w.packer.is_some())
        }) {
            return Err(Error::InvalidArgument(format!(
                "{object} was being written but was not finished"
            )));
        }
        let seq = self.parent.as_ref().map_or(1, |p| p.seq + 1);
        let mut manifest = Manifest {
            version: FORMAT_VERSION,
            seq,
            parent: self.parent.as_ref().map(|p| p.seq),
            run: self.run,
            kind: self.kind,
            started_ms: self.started_ms,
            finished_ms,
            org_id: org_id.to_owned(),
            instance_url: instance_url.to_owned(),
            api_version: api_version.to_owned(),
            objects: self.objects,
            blobs: self.blobs,
            packs_added: self.packs_added,
            bytes_added: self.bytes_added,
            logical_bytes_added: self.logical_bytes_added,
        };
        let size = self.org.commit(&manifest).await?;
        manifest.bytes_added += size;
        // The snapshot exists: its journals are of no further use. Failing to remove them is
        // harmless (a journal whose parent is not the newest snapshot is never continued, and
        // `prune` removes leftovers), so it does not fail a committed run.
        if self.journal_n > 0 {
            let _ = self.org.delete_journals(&manifest.run).await;
        }
        Ok(manifest)
    }
}

/// A record as stored in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// Its SystemModstamp (ms since the epoch).
    pub stamp_ms: i64,
    /// Live, deleted (content kept) or gone.
    pub kind: EntryKind,
    /// The canonical record (None when gone).
    pub canonical: Option<Vec<u8>>,
}

impl OrgRepo {
    /// The newest version of `object`/`id` as of snapshot `seq` (the newest when None), or
    /// None if the snapshot never saw the record.
    pub async fn read_record(
        &self,
        seq: Option<u64>,
        object: &str,
        id: &str,
    ) -> Result<Option<StoredVersion>> {
        let id = RecordId::parse(id)?;
        let manifest = match seq {
            Some(seq) => self.manifest(seq).await?,
            None => match self.latest().await? {
                Some(m) => m,
                None => return Ok(None),
            },
        };
        let Some(state) = manifest.objects.get(object) else {
            return Ok(None);
        };
        // Newest segment first: the first one that knows the record has its newest version,
        // because a run only adds versions newer than every stored one (`SnapshotWriter::push`).
        let mut found: Option<(IndexEntry, Option<Location>, [u8; 32])> = None;
        for name in state.index.iter().rev() {
            let segment = self.segment(name).await?;
            if let Some(entry) = segment.latest(&id) {
                let pack = segment.pack_of(entry).copied().unwrap_or([0; 32]);
                found = Some((entry.clone(), segment.location(entry), pack));
                break;
            }
        }
        let Some((entry, location, pack)) = found else {
            return Ok(None);
        };
        if entry.kind == EntryKind::Gone {
            return Ok(Some(StoredVersion {
                stamp_ms: entry.stamp_ms,
                kind: entry.kind,
                canonical: None,
            }));
        }
        // A decoded segment locates every entry but a gone one (its decoder checks).
        let loc = location.ok_or_else(|| Error::Corrupt {
            what: format!("index of {object}"),
            reason: format!("record {id} has no location"),
        })?;
        let block = self
            .read_pack_range(
                &ContentName(pack),
                loc.offset..loc.offset + u64::from(loc.length),
            )
            .await?;
        let mut decompressor =
            Decompressor::new(Limits::new(MAX_BLOCK_CONTENT)).map_err(Error::Compress)?;
        // Trained per-object dictionaries are not written yet, so blocks name none.
        let line = block_line(
            &block,
            loc.ordinal as usize,
            &mut decompressor,
            &DictionarySet::new(),
        )?
        .map_err(|count| Error::Corrupt {
            what: format!("block of {object}"),
            reason: format!("no record {} in a block of {count}", loc.ordinal),
        })?;
        if !is_version(&line, id.as_str(), entry.stamp_ms) {
            return Err(Error::Corrupt {
                what: format!("block of {object}"),
                reason: format!("record {} does not match its index entry", id),
            });
        }
        Ok(Some(StoredVersion {
            stamp_ms: entry.stamp_ms,
            kind: entry.kind,
            canonical: Some(line),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_versions_stay_small() {
        // A map slot: the Id and the newest version (40 bytes as `(RecordId, (i64, EntryKind))`).
        assert_eq!(std::mem::size_of::<(RecordId, Newest)>(), 27);
        for stamp in [i64::MIN, -1, 0, 1_700_000_000_123, i64::MAX] {
            assert_eq!(
                Newest::new(stamp, EntryKind::Deleted).get(),
                (stamp, EntryKind::Deleted)
            );
        }
    }
}
