//! Writing a snapshot (record versions → packs and index segments → a committed manifest) and
//! reading a record as of a snapshot (`docs/format/repository.md` §4, §6, §7).

use std::collections::BTreeMap;

use coffer_compress::{Compressor, Decompressor, DictionarySet, Level, Limits};

use super::index::{DIGEST_LEN, EntryKind, IndexEntry, IndexSegment, Location, RecordId};
use super::manifest::{BlobTotals, FORMAT_VERSION, Manifest, ObjectState, RunKind, Watermark};
use super::pack::{PackBuilder, block_lines};
use super::record::digest;
use super::store::{ContentKind, ContentName, OrgRepo};
use crate::error::{Error, Result};

/// Uncompressed record bytes per block.
const BLOCK_TARGET: usize = 256 * 1024;
/// Plaintext bytes per pack before a new one starts.
const PACK_TARGET: usize = 16 * 1024 * 1024;
/// Largest block a reader decompresses (a bomb guard; blocks are ~256 KiB).
const MAX_BLOCK_CONTENT: u64 = 64 * 1024 * 1024;

/// One version waiting to be stored.
struct Pending {
    id: RecordId,
    stamp_ms: i64,
    kind: EntryKind,
    canonical: Vec<u8>,
}

/// Where the org's run stands, object by object, until it commits.
pub struct SnapshotWriter<'a> {
    org: &'a OrgRepo,
    parent: Option<Manifest>,
    kind: RunKind,
    run: String,
    started_ms: i64,
    objects: BTreeMap<String, ObjectState>,
    pending: BTreeMap<String, Vec<Pending>>,
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
            pending: BTreeMap::new(),
            packs_added: Vec::new(),
            bytes_added: 0,
            logical_bytes_added: 0,
            blobs,
        })
    }

    /// The snapshot this run builds on.
    pub fn parent(&self) -> Option<&Manifest> {
        self.parent.as_ref()
    }

    /// The state of `object` so far (from the parent, updated by finished objects).
    pub fn object_state(&self, object: &str) -> Option<&ObjectState> {
        self.objects.get(object)
    }

    /// Queues a stored version: `canonical` is the canonical record (`record::canonical`).
    pub fn add_version(
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
    }

    /// Queues a record found gone (no content).
    pub fn add_gone(&mut self, object: &str, id: &str, stamp_ms: i64) -> Result<()> {
        self.push(
            object,
            Pending {
                id: RecordId::parse(id)?,
                stamp_ms,
                kind: EntryKind::Gone,
                canonical: Vec::new(),
            },
        )
    }

    fn push(&mut self, object: &str, pending: Pending) -> Result<()> {
        if object.is_empty() {
            return Err(Error::InvalidArgument("empty object name".into()));
        }
        self.pending
            .entry(object.to_owned())
            .or_default()
            .push(pending);
        Ok(())
    }

    /// Stores what was queued for `object` (packs, then one index segment) and records its new
    /// watermark and live count.
    pub async fn finish_object(
        &mut self,
        object: &str,
        watermark: Option<Watermark>,
        live: u64,
    ) -> Result<()> {
        let mut pending = self.pending.remove(object).unwrap_or_default();
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
        if matches!(self.kind, RunKind::Full | RunKind::Reconcile) {
            state.last_full_ms = Some(self.started_ms);
        }
        if pending.is_empty() {
            return Ok(());
        }
        pending.sort_by_key(|p| (p.id, p.stamp_ms));
        pending.dedup_by(|b, a| a.id == b.id && a.stamp_ms == b.stamp_ms);

        let mut compressor = Compressor::new(Level::DEFAULT).map_err(Error::Compress)?;
        let mut packs: Vec<[u8; 32]> = Vec::new();
        let mut entries = Vec::with_capacity(pending.len());
        let mut builder = PackBuilder::new();
        let mut block: Vec<&Pending> = Vec::new();
        let mut block_bytes = 0usize;
        let stored: Vec<&Pending> = pending
            .iter()
            .filter(|p| p.kind != EntryKind::Gone)
            .collect();
        for (i, p) in stored.iter().enumerate() {
            block.push(p);
            block_bytes += p.canonical.len() + 1;
            self.logical_bytes_added += p.canonical.len() as u64;
            let last = i + 1 == stored.len();
            if block_bytes >= BLOCK_TARGET || last {
                let lines: Vec<&[u8]> = block.iter().map(|p| p.canonical.as_slice()).collect();
                let info = builder.push_block(object, &lines, &mut compressor)?;
                let pack = u32::try_from(packs.len())
                    .map_err(|_| Error::InvalidArgument("too many packs".into()))?;
                for (ordinal, p) in block.iter().enumerate() {
                    entries.push(IndexEntry {
                        id: p.id,
                        stamp_ms: p.stamp_ms,
                        kind: p.kind,
                        location: Location {
                            pack,
                            offset: info.offset,
                            length: info.length,
                            ordinal: u32::try_from(ordinal).unwrap_or(u32::MAX),
                        },
                        digest: digest(self.org.name_key(), &p.canonical),
                    });
                }
                block.clear();
                block_bytes = 0;
                if builder.len() >= PACK_TARGET || last {
                    let (plaintext, _) = std::mem::take(&mut builder).finish()?;
                    let (name, size) = self.org.put_content(ContentKind::Pack, &plaintext).await?;
                    packs.push(name.0);
                    self.packs_added.push(name.to_hex());
                    self.bytes_added += size;
                }
            }
        }
        for p in pending.iter().filter(|p| p.kind == EntryKind::Gone) {
            entries.push(IndexEntry {
                id: p.id,
                stamp_ms: p.stamp_ms,
                kind: EntryKind::Gone,
                location: Location::default(),
                digest: [0; DIGEST_LEN],
            });
        }
        let versions = stored.len() as u64;
        let gone = (pending.len() - stored.len()) as u64;
        let segment = IndexSegment::new(object, packs, entries)?;
        let (name, size) = self
            .org
            .put_content(ContentKind::Index, &segment.encode())
            .await?;
        self.bytes_added += size;
        state.index.push(name.to_hex());
        state.versions_added += versions;
        state.gone_added += gone;
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
        if let Some(object) = self.pending.keys().next() {
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
        // Newest segment first: the first one that knows the record has its newest version
        // (segments of later runs only add later stamps).
        let mut best: Option<(IndexEntry, [u8; 32])> = None;
        for name in state.index.iter().rev() {
            let segment = IndexSegment::decode(
                &self
                    .get_content(ContentKind::Index, &ContentName::from_hex(name)?)
                    .await?,
            )?;
            if let Some(entry) = segment.latest(&id)
                && best
                    .as_ref()
                    .is_none_or(|(b, _)| entry.stamp_ms > b.stamp_ms)
            {
                let pack = segment.pack_of(entry).copied().unwrap_or([0; 32]);
                best = Some((entry.clone(), pack));
            }
        }
        let Some((entry, pack)) = best else {
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
        let records = block_lines(&block, &mut decompressor, &DictionarySet::new())?;
        let line = records
            .get(loc.ordinal as usize)
            .cloned()
            .ok_or_else(|| Error::Corrupt {
                what: format!("block of {object}"),
                reason: format!("no record {} in a block of {}", loc.ordinal, records.len()),
            })?;
        if digest(self.name_key(), &line) != entry.digest {
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
