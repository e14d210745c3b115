//! Writing a snapshot (record versions → packs and index segments → a committed manifest) and
//! reading a record as of a snapshot (`docs/format/repository.md` §4, §6, §7).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use coffer_compress::{Compressor, Decompressor, DictionarySet, Level, Limits};

use super::index::{EntryKind, IndexEntry, IndexSegment, Location, RecordId};
use super::manifest::{
    BlobTotals, FORMAT_VERSION, Journal, Manifest, ObjectState, RunKind, Watermark,
};
use super::pack::{PackBuilder, block_line};
use super::record::is_version;
use super::store::{ContentKind, ContentName, OrgRepo};
use crate::error::{Error, Result};

/// Uncompressed record bytes per block. Larger blocks compress better (records of one object
/// repeat field names and values), smaller ones make a point read inflate less: at 8 MiB and
/// level 9 a block inflates in under 10 ms, and records take 32% fewer bytes than in 256 KiB
/// blocks at level 3 (2.83 against 4.15 MB for 30 MB of generated Contacts, `zstd -b9
/// -B8388608` against `zstd -b3 -B262144`).
const BLOCK_TARGET: usize = 8 * 1024 * 1024;
/// zstd level of record blocks.
const BLOCK_LEVEL: i32 = 9;
/// Plaintext bytes per pack before a new one starts.
const PACK_TARGET: usize = 16 * 1024 * 1024;
/// Largest block a reader decompresses (a bomb guard; blocks are ~8 MiB).
const MAX_BLOCK_CONTENT: u64 = 64 * 1024 * 1024;

/// One version waiting for its block.
struct Pending {
    id: RecordId,
    stamp_ms: i64,
    kind: EntryKind,
    canonical: Vec<u8>,
}

/// What a run has written of one object so far. Memory is bounded by one block being filled
/// and one pack being built (plus an index entry per version): a pack is stored as soon as it
/// is full, not when the object is finished.
struct ObjectRun {
    compressor: Compressor,
    /// Records waiting for the block being filled.
    block: Vec<Pending>,
    block_bytes: usize,
    /// The pack being built.
    builder: PackBuilder,
    /// Packs of this object stored by this run, in order (entries name them by ordinal).
    packs: Vec<[u8; 32]>,
    entries: Vec<IndexEntry>,
    versions: u64,
    gone: u64,
}

impl ObjectRun {
    fn new() -> Result<Self> {
        Ok(Self {
            compressor: Compressor::new(Level::new(BLOCK_LEVEL).map_err(Error::Compress)?)
                .map_err(Error::Compress)?,
            block: Vec::new(),
            block_bytes: 0,
            builder: PackBuilder::new(),
            packs: Vec::new(),
            entries: Vec::new(),
            versions: 0,
            gone: 0,
        })
    }

    /// Compresses the records waiting into one block of the pack being built.
    fn flush_block(&mut self, object: &str) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let lines: Vec<&[u8]> = self.block.iter().map(|p| p.canonical.as_slice()).collect();
        let info = self
            .builder
            .push_block(object, &lines, &mut self.compressor)?;
        let pack = u32::try_from(self.packs.len())
            .map_err(|_| Error::InvalidArgument("too many packs".into()))?;
        for (ordinal, p) in self.block.drain(..).enumerate() {
            self.entries.push(IndexEntry {
                id: p.id,
                stamp_ms: p.stamp_ms,
                kind: p.kind,
                location: Location {
                    pack,
                    offset: info.offset,
                    length: info.length,
                    ordinal: u32::try_from(ordinal).unwrap_or(u32::MAX),
                },
            });
        }
        self.block_bytes = 0;
        Ok(())
    }

    /// Stores the pack being built (if it holds anything); returns its name and stored size.
    async fn flush_pack(&mut self, org: &OrgRepo) -> Result<Option<(ContentName, u64)>> {
        if self.builder.is_empty() {
            return Ok(None);
        }
        let (plaintext, _) = std::mem::take(&mut self.builder).finish()?;
        let (name, size) = org.put_content(ContentKind::Pack, &plaintext).await?;
        self.packs.push(name.0);
        Ok(Some((name, size)))
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
    /// Objects with versions queued and not yet finished.
    runs: BTreeMap<String, ObjectRun>,
    /// Per object, once loaded: the newest stored or queued version of each record.
    known: BTreeMap<String, HashMap<RecordId, (i64, EntryKind)>>,
    /// Objects this run read in full (their `last_full_ms` becomes the run's start).
    full_reads: BTreeSet<String>,
    /// Objects finished (by this run, or by the run it continues).
    finished: BTreeSet<String>,
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
        let blobs = parent.as_ref().map(|m| m.blobs).unwrap_or_default();
        Ok(Self {
            org,
            parent,
            kind,
            run,
            started_ms,
            objects,
            runs: BTreeMap::new(),
            known: BTreeMap::new(),
            full_reads: BTreeSet::new(),
            finished: BTreeSet::new(),
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
            runs: BTreeMap::new(),
            known: BTreeMap::new(),
            full_reads: BTreeSet::new(),
            finished: journal.finished,
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

    /// Loads the newest stored version of each record of `object` (from the parent snapshot's
    /// index segments), once per run. Versions of `object` can be queued only after this.
    pub async fn load_known(&mut self, object: &str) -> Result<()> {
        if self.known.contains_key(object) {
            return Ok(());
        }
        let mut known: HashMap<RecordId, (i64, EntryKind)> = HashMap::new();
        let segments = self.objects.get(object).map_or(&[][..], |s| &s.index[..]);
        for name in segments {
            let segment = self.org.segment(name).await?;
            for e in segment.entries() {
                let slot = known.entry(e.id).or_insert((e.stamp_ms, e.kind));
                if e.stamp_ms >= slot.0 {
                    *slot = (e.stamp_ms, e.kind);
                }
            }
        }
        self.known.insert(object.to_owned(), known);
        Ok(())
    }

    /// The newest version of `object`/`id` stored or queued so far: its stamp and kind.
    /// `None` when the record is unknown or `object` was not loaded ([`Self::load_known`]).
    pub fn newest(&self, object: &str, id: &RecordId) -> Option<(i64, EntryKind)> {
        self.known.get(object)?.get(id).copied()
    }

    /// Every record of `object` stored or queued so far, with its newest stamp and kind
    /// (nothing unless `object` was loaded, [`Self::load_known`]).
    pub fn known_records(
        &self,
        object: &str,
    ) -> impl Iterator<Item = (&RecordId, &(i64, EntryKind))> {
        self.known.get(object).into_iter().flatten()
    }

    /// Records of `object` whose newest version is live (neither deleted nor gone).
    pub fn live_count(&self, object: &str) -> u64 {
        self.known.get(object).map_or(0, |known| {
            known
                .values()
                .filter(|(_, kind)| *kind == EntryKind::Version)
                .count() as u64
        })
    }

    /// Queues a stored version: `canonical` is the canonical record (`record::canonical`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless the version is newer than every version of the record
    /// stored or queued before (repository.md §6: a later segment only adds later stamps, which
    /// is what lets a reader stop at the first segment that knows a record).
    pub async fn add_version(
        &mut self,
        object: &str,
        id: &str,
        stamp_ms: i64,
        deleted: bool,
        canonical: Vec<u8>,
    ) -> Result<()> {
        let kind = if deleted {
            EntryKind::Deleted
        } else {
            EntryKind::Version
        };
        self.push(
            object,
            Pending {
                id: RecordId::parse(id)?,
                stamp_ms,
                kind,
                canonical,
            },
        )
        .await
    }

    /// Queues a record found gone (no content); the same ordering rule as [`Self::add_version`].
    pub async fn add_gone(&mut self, object: &str, id: &str, stamp_ms: i64) -> Result<()> {
        self.push(
            object,
            Pending {
                id: RecordId::parse(id)?,
                stamp_ms,
                kind: EntryKind::Gone,
                canonical: Vec::new(),
            },
        )
        .await
    }

    async fn push(&mut self, object: &str, pending: Pending) -> Result<()> {
        if object.is_empty() {
            return Err(Error::InvalidArgument("empty object name".into()));
        }
        let Some(known) = self.known.get_mut(object) else {
            return Err(Error::InvalidArgument(format!(
                "versions of {object} queued before its stored versions were loaded"
            )));
        };
        if let Some(&(stamp, _)) = known.get(&pending.id)
            && stamp >= pending.stamp_ms
        {
            return Err(Error::InvalidArgument(format!(
                "a version of {object} {} at {} is not newer than the one at {stamp}",
                pending.id, pending.stamp_ms
            )));
        }
        known.insert(pending.id, (pending.stamp_ms, pending.kind));
        let run = match self.runs.entry(object.to_owned()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(ObjectRun::new()?),
        };
        if pending.kind == EntryKind::Gone {
            run.gone += 1;
            run.entries.push(IndexEntry {
                id: pending.id,
                stamp_ms: pending.stamp_ms,
                kind: EntryKind::Gone,
                location: Location::default(),
            });
            return Ok(());
        }
        run.versions += 1;
        run.block_bytes += pending.canonical.len() + 1;
        self.logical_bytes_added += pending.canonical.len() as u64;
        run.block.push(pending);
        if run.block_bytes >= BLOCK_TARGET {
            run.flush_block(object)?;
            if run.builder.len() >= PACK_TARGET
                && let Some((name, size)) = run.flush_pack(self.org).await?
            {
                self.packs_added.push(name.to_hex());
                self.bytes_added += size;
            }
        }
        Ok(())
    }

    /// Notes that this run read `object` in full (in an otherwise incremental run), so the
    /// snapshot records the run's start as the object's last full read. Call it before
    /// [`Self::finish_object`].
    pub fn mark_full_read(&mut self, object: &str) {
        self.full_reads.insert(object.to_owned());
    }

    /// Stores what was queued for `object` (packs, then one index segment) and records its new
    /// watermark and live count.
    pub async fn finish_object(
        &mut self,
        object: &str,
        watermark: Option<Watermark>,
        live: u64,
    ) -> Result<()> {
        let run = self.runs.remove(object);
        // The object's newest-version map is not needed once it is finished (a later
        // `load_known` reloads it from the segments, this run's included), and keeping every
        // object's map made a run's memory grow with the org rather than its largest object.
        self.known.remove(object);
        let state = self
            .objects
            .entry(object.to_owned())
            .or_insert_with(|| ObjectState {
                watermark: None,
                live: 0,
                versions_added: 0,
                gone_added: 0,
                index: Vec::new(),
                dictionary: None,
                last_full_ms: None,
            });
        state.live = live;
        if watermark.is_some() {
            state.watermark = watermark;
        }
        if matches!(self.kind, RunKind::Full | RunKind::Reconcile)
            || self.full_reads.contains(object)
        {
            state.last_full_ms = Some(self.started_ms);
        }
        self.finished.insert(object.to_owned());
        let full_read = self.full_reads.contains(object);
        let Some(mut run) = run else {
            // Nothing stored: re-reading it costs little, unless it was a full read.
            if full_read {
                self.write_journal().await?;
            }
            return Ok(());
        };
        run.flush_block(object)?;
        if let Some((name, size)) = run.flush_pack(self.org).await? {
            self.packs_added.push(name.to_hex());
            self.bytes_added += size;
        }
        // The segment sorts its entries by (Id, stamp); `push` admitted one per pair.
        let segment = IndexSegment::new(object, run.packs, run.entries)?;
        let (name, size) = self
            .org
            .put_content(ContentKind::Index, &segment.to_stored()?)
            .await?;
        self.bytes_added += size;
        state.index.push(name.to_hex());
        state.versions_added += run.versions;
        state.gone_added += run.gone;
        self.write_journal().await
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
            blobs: self.blobs,
        };
        // Not counted in `bytes_added`: the journal is removed once the snapshot commits.
        self.org.put_journal(&journal).await?;
        Ok(())
    }

    /// Adds to the blob totals.
    pub fn add_blobs(&mut self, count: u64, bytes: u64, stored_bytes: u64) {
        self.blobs.count += count;
        self.blobs.bytes += bytes;
        self.bytes_added += stored_bytes;
        self.logical_bytes_added += bytes;
    }

    /// Commits the snapshot. Every object with queued versions must have been finished.
    pub async fn commit(
        self,
        org_id: &str,
        instance_url: &str,
        api_version: &str,
        finished_ms: i64,
    ) -> Result<Manifest> {
        if let Some(object) = self.runs.keys().next() {
            return Err(Error::InvalidArgument(format!(
                "versions of {object} were queued but the object was not finished"
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
        let mut found: Option<(IndexEntry, [u8; 32])> = None;
        for name in state.index.iter().rev() {
            let segment = self.segment(name).await?;
            if let Some(entry) = segment.latest(&id) {
                let pack = segment.pack_of(entry).copied().unwrap_or([0; 32]);
                found = Some((entry.clone(), pack));
                break;
            }
        }
        let Some((entry, pack)) = found else {
            return Ok(None);
        };
        if entry.kind == EntryKind::Gone {
            return Ok(Some(StoredVersion {
                stamp_ms: entry.stamp_ms,
                kind: entry.kind,
                canonical: None,
            }));
        }
        let loc = entry.location;
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
