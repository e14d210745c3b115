//! `verify` (`docs/format/repository.md` §9): authenticate every manifest and index segment of
//! an org and, with `read_data`, every pack, checking that each index entry points at the
//! record it names, that each file a record refers to is in a blob index, and that each blob
//! index entry points at the body it names.

use std::collections::{BTreeMap, HashSet};

use coffer_compress::{Decompressor, DictionarySet, Limits};

use super::blobs::{BlobSegment, body_in_block};
use super::index::{EntryKind, IndexSegment};
use super::pack::{BlockInfo, block_records, parse_table};
use super::record::{blob_refs, is_version};
use super::store::{ContentKind, ContentName, OrgRepo};
use crate::error::{Error, Result};

/// Largest block content `verify` decompresses.
const MAX_BLOCK_CONTENT: u64 = 64 * 1024 * 1024;

/// What `verify` checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Snapshot manifests opened.
    pub snapshots: u64,
    /// Distinct index segments opened.
    pub segments: u64,
    /// Index entries checked.
    pub entries: u64,
    /// Distinct packs checked (opened in full with `read_data`, else only found present).
    pub packs: u64,
    /// Record versions read back and matched with their index entry (`read_data` only).
    pub records: u64,
    /// Distinct blob index segments opened.
    pub blob_segments: u64,
    /// Distinct blob packs checked (opened in full with `read_data`, else only found present).
    pub blob_packs: u64,
    /// File bodies read back and matched with their name (`read_data` only).
    pub blobs: u64,
    /// File references in the records read back, each found in a blob index segment
    /// (`read_data` only).
    pub blob_refs: u64,
}

impl OrgRepo {
    /// Verifies every snapshot of the org. The first problem found is the error, naming the
    /// object: [`Error::Tampered`] or [`Error::Crypto`] for what does not authenticate,
    /// [`Error::Corrupt`] for what is inconsistent, a store error for what is missing.
    pub async fn verify(&self, read_data: bool) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut segments: BTreeMap<String, IndexSegment> = BTreeMap::new();
        let mut blob_segments: BTreeMap<String, BlobSegment> = BTreeMap::new();
        let mut expected_parent = None;
        for seq in self.snapshots().await? {
            let manifest = self.manifest(seq).await?;
            if manifest.parent != expected_parent {
                return Err(Error::Corrupt {
                    what: format!("snapshot {seq}"),
                    reason: format!(
                        "its parent is {:?} but the snapshot before it is {:?}",
                        manifest.parent, expected_parent
                    ),
                });
            }
            expected_parent = Some(seq);
            report.snapshots += 1;
            for name in &manifest.blobs.index {
                if !blob_segments.contains_key(name) {
                    blob_segments.insert(name.clone(), self.blob_segment(name).await?);
                }
            }
            for (object, state) in &manifest.objects {
                for name in &state.index {
                    if segments.contains_key(name) {
                        continue;
                    }
                    let segment = self.segment(name).await?;
                    if segment.object() != object {
                        return Err(Error::Corrupt {
                            what: format!("index segment {name}"),
                            reason: format!(
                                "holds {} but snapshot {seq} lists it under {object}",
                                segment.object()
                            ),
                        });
                    }
                    segments.insert(name.clone(), segment);
                }
            }
        }
        report.segments = segments.len() as u64;

        // Every entry's pack, and (read_data) the record at its location.
        let mut by_pack: BTreeMap<[u8; 32], Vec<(&IndexSegment, usize)>> = BTreeMap::new();
        for segment in segments.values() {
            for (i, entry) in segment.entries().iter().enumerate() {
                report.entries += 1;
                if entry.kind == EntryKind::Gone {
                    continue;
                }
                if let Some(pack) = segment.pack_of(entry) {
                    by_pack.entry(*pack).or_default().push((segment, i));
                }
            }
        }
        // The file bodies the blob index segments hold: every reference a record makes must
        // be among them.
        let stored_blobs: HashSet<[u8; 32]> = blob_segments
            .values()
            .flat_map(|segment| segment.entries().iter().map(|e| e.name))
            .collect();
        let mut decompressor =
            Decompressor::new(Limits::new(MAX_BLOCK_CONTENT)).map_err(Error::Compress)?;
        for (pack, users) in by_pack {
            let name = ContentName(pack);
            report.packs += 1;
            if !read_data {
                self.head_content(ContentKind::Pack, &name).await?;
                continue;
            }
            let plaintext = self.get_content(ContentKind::Pack, &name).await?;
            let table = parse_table(&plaintext)?;
            let blocks: BTreeMap<u64, &BlockInfo> = table.iter().map(|b| (b.offset, b)).collect();
            let mut decoded: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
            for (segment, i) in users {
                let entry = &segment.entries()[i];
                // Only entries with a pack were gathered, and they have a location.
                let Some(loc) = segment.location(entry) else {
                    continue;
                };
                let bad = |reason: String| Error::Corrupt {
                    what: format!("pack {}", name.to_hex()),
                    reason,
                };
                let block = blocks.get(&loc.offset).ok_or_else(|| {
                    bad(format!(
                        "no block at {} for {} {}",
                        loc.offset,
                        segment.object(),
                        entry.id
                    ))
                })?;
                if block.length != loc.length || block.object != segment.object() {
                    return Err(bad(format!(
                        "block at {} does not match the index entry of {}",
                        loc.offset, entry.id
                    )));
                }
                let records = match decoded.entry(loc.offset) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => {
                        // `parse_table` checked that blocks tile the plaintext before the table.
                        let bytes = usize::try_from(block.offset)
                            .ok()
                            .and_then(|start| plaintext.get(start..start + block.length as usize))
                            .ok_or_else(|| {
                                bad(format!("block at {} out of range", block.offset))
                            })?;
                        e.insert(block_records(
                            bytes,
                            block.records,
                            &mut decompressor,
                            &DictionarySet::new(),
                        )?)
                    }
                };
                let line = records.get(loc.ordinal as usize).ok_or_else(|| {
                    bad(format!(
                        "no record {} in block at {}",
                        loc.ordinal, loc.offset
                    ))
                })?;
                if !is_version(line, entry.id.as_str(), entry.stamp_ms) {
                    return Err(bad(format!(
                        "record {} does not match its index entry",
                        entry.id
                    )));
                }
                let refs = blob_refs(line).map_err(|reason| {
                    bad(format!(
                        "record {} {}: {reason}",
                        segment.object(),
                        entry.id
                    ))
                })?;
                if let Some(missing) = refs.iter().find(|name| !stored_blobs.contains(*name)) {
                    return Err(bad(format!(
                        "record {} {} names file body {}, which no blob index segment holds",
                        segment.object(),
                        entry.id,
                        hex::encode(missing)
                    )));
                }
                report.blob_refs += refs.len() as u64;
                report.records += 1;
            }
        }
        report.blob_segments = blob_segments.len() as u64;
        self.verify_blobs(&blob_segments, read_data, &mut report)
            .await?;
        Ok(report)
    }

    /// Checks that every blob pack the segments name is there and (`read_data`) that every
    /// entry's body is where it says, under its name.
    async fn verify_blobs(
        &self,
        segments: &BTreeMap<String, BlobSegment>,
        read_data: bool,
        report: &mut VerifyReport,
    ) -> Result<()> {
        let mut by_pack: BTreeMap<[u8; 32], Vec<&super::blobs::BlobEntry>> = BTreeMap::new();
        for segment in segments.values() {
            for entry in segment.entries() {
                if let Some(pack) = segment.pack_of(entry) {
                    by_pack.entry(*pack).or_default().push(entry);
                }
            }
        }
        let mut decompressor = Decompressor::new(Limits::new(1 << 32)).map_err(Error::Compress)?;
        for (pack, entries) in by_pack {
            let name = ContentName(pack);
            report.blob_packs += 1;
            if !read_data {
                self.head_content(ContentKind::BlobPack, &name).await?;
                continue;
            }
            let plaintext = self.get_content(ContentKind::BlobPack, &name).await?;
            let bad = |reason: String| Error::Corrupt {
                what: format!("blob pack {}", name.to_hex()),
                reason,
            };
            // Entries sharing a block are next to each other once sorted by offset.
            let mut entries = entries;
            entries.sort_by_key(|e| e.offset);
            let mut content: Option<(u64, Vec<u8>)> = None;
            for entry in entries {
                if content.as_ref().is_none_or(|(at, _)| *at != entry.offset) {
                    let block = usize::try_from(entry.offset)
                        .ok()
                        .and_then(|start| {
                            plaintext.get(start..start.checked_add(entry.length as usize)?)
                        })
                        .ok_or_else(|| bad(format!("no block at {}", entry.offset)))?;
                    let inflated = decompressor
                        .decompress(block, &DictionarySet::new())
                        .map_err(|e| bad(format!("block at {}: {e}", entry.offset)))?;
                    content = Some((entry.offset, inflated));
                }
                let Some((_, bytes)) = &content else {
                    continue;
                };
                let body = body_in_block(bytes, entry)?;
                if self.blob_key(body) != entry.name {
                    return Err(bad(format!(
                        "the body at {}+{} is not blob {}",
                        entry.offset,
                        entry.start,
                        hex::encode(entry.name)
                    )));
                }
                report.blobs += 1;
            }
        }
        Ok(())
    }
}
