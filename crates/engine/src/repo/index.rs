//! Index segments (`docs/format/repository.md` §6): for one object type, where each stored
//! version of each record lives (pack, block, record within the block).
//!
//! A segment is immutable once written. This module only encodes and decodes its plaintext;
//! sealing and storing are the repository's business. Decoding is strict: every field has one
//! valid encoding, entries are sorted and unique, and every location points inside the
//! segment's pack table, so a decoded segment can be trusted to be well formed.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use coffer_compress::{DictionarySet, Level, Limits};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"CFIX";
/// 2: columnar entries, stored compressed (1, entry after entry uncompressed, preceded any
/// release and is not read).
const VERSION: u8 = 2;
/// zstd level of stored segments (index and blob index). Level 9 made them 7% smaller (1.41
/// against 1.52 MB on benches/peers' org) but took about 4% of a full backup's CPU, and its
/// last object's segment was compressed while nothing else was left to run; inflating is as
/// fast at either level.
const STORED_LEVEL: i32 = 3;
/// Largest segment a reader inflates (a bomb guard): about 34 million entries.
const MAX_SEGMENT_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Largest inflation ratio a reader accepts (a bomb guard with [`MAX_SEGMENT_BYTES`]): stored
/// segments inflate about 6 times (unique Ids and stamps, 150,000-record org) and blob index
/// segments less (random names), so 1000 refuses only forgeries, such as a 21-byte segment
/// declaring 2 GiB, before any memory is reserved for them.
const MAX_SEGMENT_RATIO: u32 = 1000;
/// Bytes of an encoded entry.
const ENTRY_LEN: usize = ID_LEN + 8 + 1 + 4 + 8 + 4 + 4;
/// Length of a record Id as the index stores it (the 18-character form).
pub const ID_LEN: usize = 18;
/// Length of a pack name (SHA-256 of the stored pack).
pub const PACK_NAME_LEN: usize = 32;

/// An 18-character Salesforce record Id, as the index stores it.
///
/// Only the shape is checked (18 ASCII alphanumerics), not the case checksum: some objects
/// return placeholder Ids, and the index must store whatever Salesforce handed out.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId([u8; ID_LEN]);

impl RecordId {
    /// Parses an 18-character Id.
    pub fn parse(id: &str) -> Result<Self> {
        let bytes: [u8; ID_LEN] = id.as_bytes().try_into().map_err(|_| {
            Error::InvalidArgument(format!("record Id {id:?} is not 18 characters"))
        })?;
        Self::from_bytes(bytes)
            .ok_or_else(|| Error::InvalidArgument(format!("record Id {id:?} is not alphanumeric")))
    }

    /// An Id of all `0`s: where a delta encoding of Ids starts.
    pub(super) const ORIGIN: Self = Self([b'0'; ID_LEN]);

    pub(super) fn from_bytes(bytes: [u8; ID_LEN]) -> Option<Self> {
        bytes
            .iter()
            .all(u8::is_ascii_alphanumeric)
            .then_some(Self(bytes))
    }

    /// The Id's bytes.
    pub(super) fn as_bytes(&self) -> &[u8; ID_LEN] {
        &self.0
    }

    /// The Id as a string.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics get in (`from_bytes`), so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({})", self.as_str())
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an index entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A version of a live record; its content is stored.
    Version,
    /// The version Salesforce reports with `IsDeleted = true`; its content is stored.
    Deleted,
    /// The record vanished (Recycle Bin emptied, hard delete), seen by getDeleted or a full
    /// reconciliation. No content.
    Gone,
}

impl EntryKind {
    pub(super) fn to_byte(self) -> u8 {
        match self {
            EntryKind::Version => 0,
            EntryKind::Deleted => 1,
            EntryKind::Gone => 2,
        }
    }

    pub(super) fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(EntryKind::Version),
            1 => Some(EntryKind::Deleted),
            2 => Some(EntryKind::Gone),
            _ => None,
        }
    }
}

/// A block of records: which pack holds it, and where in the pack's plaintext.
///
/// Every record of a block shares these, so a segment keeps them once, in its block table
/// ([`IndexSegment::blocks`]), and an entry names its block by its place there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Block {
    /// Index into the segment's pack table.
    pub pack: u32,
    /// Plaintext length of the block.
    pub length: u32,
    /// Plaintext offset of the block in the pack.
    pub offset: u64,
}

/// Where a version's content is, resolved through the segment's tables
/// ([`IndexSegment::location`]): a block of a pack, and the record's place in that block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// Index into the segment's pack table.
    pub pack: u32,
    /// Plaintext offset of the block in the pack.
    pub offset: u64,
    /// Plaintext length of the block.
    pub length: u32,
    /// The record's position among the block's record lines (0-based).
    pub ordinal: u32,
}

/// One version of one record.
///
/// Kept small (40 bytes) because a run holds one per version it writes until the object's
/// segment is stored: the block's pack, offset and length live once in the block table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The record.
    pub id: RecordId,
    /// Its SystemModstamp, milliseconds since the Unix epoch.
    pub stamp_ms: i64,
    /// What the entry records.
    pub kind: EntryKind,
    /// Index into the segment's block table (0 for [`EntryKind::Gone`], which has no content).
    pub block: u32,
    /// The record's position among the block's record lines (0-based; 0 for
    /// [`EntryKind::Gone`]).
    pub ordinal: u32,
}

impl IndexEntry {
    pub(super) fn key_cmp(&self, other: &Self) -> Ordering {
        (self.id, self.stamp_ms).cmp(&(other.id, other.stamp_ms))
    }
}

/// An index segment: one object type's entries, and the packs and blocks they point into.
///
/// The block table is canonical: it holds exactly the blocks some entry points into, each
/// once, in the order the sorted entries first name them. That is what decoding yields (the
/// encoding repeats each entry's pack, offset and length), so equal segments encode to equal
/// bytes and a decoded segment equals the one encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSegment {
    object: String,
    packs: Vec<[u8; PACK_NAME_LEN]>,
    blocks: Vec<Block>,
    entries: Vec<IndexEntry>,
}

impl IndexSegment {
    /// A segment from unsorted entries, which name their blocks by index into `blocks` (the
    /// table is made canonical: blocks no entry names are dropped, repeats merged). Fails on
    /// two entries with the same (Id, stamp), on a block or pack index out of range, or on a
    /// `Gone` entry that carries a block or ordinal.
    pub fn new(
        object: impl Into<String>,
        packs: Vec<[u8; PACK_NAME_LEN]>,
        blocks: Vec<Block>,
        mut entries: Vec<IndexEntry>,
    ) -> Result<Self> {
        let object = object.into();
        if object.is_empty() || object.len() > usize::from(u16::MAX) {
            return Err(Error::InvalidArgument(
                "index segment object name must be 1 to 65535 bytes".into(),
            ));
        }
        entries.sort_unstable_by(IndexEntry::key_cmp);
        let mut segment = Self {
            object,
            packs,
            blocks,
            entries,
        };
        segment.check().map_err(Error::InvalidArgument)?;
        segment.canonical_blocks();
        Ok(segment)
    }

    /// The object type.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The pack table.
    pub fn packs(&self) -> &[[u8; PACK_NAME_LEN]] {
        &self.packs
    }

    /// The block table ([`IndexEntry::block`] indexes it).
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Every entry, sorted by (Id, stamp).
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// Every version of `id` in this segment, oldest first.
    pub fn versions(&self, id: &RecordId) -> &[IndexEntry] {
        let start = self.entries.partition_point(|e| e.id < *id);
        let end = self.entries.partition_point(|e| e.id <= *id);
        &self.entries[start..end]
    }

    /// The newest version of `id` in this segment.
    pub fn latest(&self, id: &RecordId) -> Option<&IndexEntry> {
        self.versions(id).last()
    }

    /// The block an entry's content is in (`None` for a `Gone` entry, or an index out of
    /// range, which a segment built by [`Self::new`] or [`Self::decode`] never holds).
    pub fn block_of(&self, entry: &IndexEntry) -> Option<&Block> {
        if entry.kind == EntryKind::Gone {
            return None;
        }
        usize::try_from(entry.block)
            .ok()
            .and_then(|i| self.blocks.get(i))
    }

    /// Where an entry's content is (`None` as for [`Self::block_of`]).
    pub fn location(&self, entry: &IndexEntry) -> Option<Location> {
        self.block_of(entry).map(|b| Location {
            pack: b.pack,
            offset: b.offset,
            length: b.length,
            ordinal: entry.ordinal,
        })
    }

    /// The name of the pack an entry points into (`None` as for [`Self::block_of`]).
    pub fn pack_of(&self, entry: &IndexEntry) -> Option<&[u8; PACK_NAME_LEN]> {
        self.block_of(entry)
            .and_then(|b| usize::try_from(b.pack).ok())
            .and_then(|i| self.packs.get(i))
    }

    /// Sorted, unique, blocks and packs in range, `Gone` entries empty.
    fn check(&self) -> std::result::Result<(), String> {
        for pair in self.entries.windows(2) {
            if pair[0].key_cmp(&pair[1]) != Ordering::Less {
                return Err(format!(
                    "index entries out of order or duplicated at {} {}",
                    pair[1].id, pair[1].stamp_ms
                ));
            }
        }
        for entry in &self.entries {
            match entry.kind {
                EntryKind::Gone => {
                    if entry.block != 0 || entry.ordinal != 0 {
                        return Err(format!("gone entry {} carries a location", entry.id));
                    }
                }
                EntryKind::Version | EntryKind::Deleted => {
                    let Some(block) = self.block_of(entry) else {
                        return Err(format!(
                            "entry {} points at block {} of {}",
                            entry.id,
                            entry.block,
                            self.blocks.len()
                        ));
                    };
                    if usize::try_from(block.pack)
                        .ok()
                        .and_then(|i| self.packs.get(i))
                        .is_none()
                    {
                        return Err(format!(
                            "entry {} points at pack {} of {}",
                            entry.id,
                            block.pack,
                            self.packs.len()
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Makes the block table canonical (see the type's doc). Indexes were checked.
    fn canonical_blocks(&mut self) {
        let mut renumbered = vec![u32::MAX; self.blocks.len()];
        let mut table = BlockTable::default();
        for entry in &mut self.entries {
            if entry.kind == EntryKind::Gone {
                continue;
            }
            let Some(i) = usize::try_from(entry.block).ok() else {
                continue;
            };
            let (Some(slot), Some(block)) = (renumbered.get_mut(i), self.blocks.get(i)) else {
                continue;
            };
            if *slot == u32::MAX {
                *slot = table.index(*block);
            }
            entry.block = *slot;
        }
        self.blocks = table.blocks;
    }

    /// The plaintext encoding (`repository.md` §6).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            MAGIC.len()
                + 1
                + 2
                + self.object.len()
                + 4
                + self.packs.len() * PACK_NAME_LEN
                + 4
                + self.entries.len() * ENTRY_LEN,
        );
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        // Lengths were bounded by `new` (object name) or are bounded by memory long before
        // 2^32 entries of 47 bytes; saturating keeps this infallible, and `decode` would
        // refuse the mismatch.
        out.extend_from_slice(
            &u16::try_from(self.object.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(self.object.as_bytes());
        out.extend_from_slice(
            &u32::try_from(self.packs.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for pack in &self.packs {
            out.extend_from_slice(pack);
        }
        out.extend_from_slice(
            &u32::try_from(self.entries.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        // Column after column, not entry after entry: each column holds similar values (sorted
        // Ids, nearby stamps, a few blocks), which is what lets the stored form compress.
        for e in &self.entries {
            out.extend_from_slice(&e.id.0);
        }
        for e in &self.entries {
            out.extend_from_slice(&e.stamp_ms.to_be_bytes());
        }
        out.extend(self.entries.iter().map(|e| e.kind.to_byte()));
        // A `Gone` entry's pack, offset and length are zero (`block_of` is None for it).
        let block = |e: &IndexEntry| self.block_of(e).copied().unwrap_or_default();
        for e in &self.entries {
            out.extend_from_slice(&block(e).pack.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&block(e).offset.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&block(e).length.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.ordinal.to_be_bytes());
        }
        out
    }

    /// The stored form: the encoding as a `compression.md` block (the plaintext that is
    /// sealed).
    pub fn to_stored(&self) -> Result<Vec<u8>> {
        store_segment(&self.encode())
    }

    /// Opens the stored form ([`Self::to_stored`]): inflates (bounded) and decodes.
    pub fn from_stored(block: &[u8]) -> Result<Self> {
        Self::decode(&open_segment(block, "index segment")?)
    }

    /// Decodes and checks a segment's plaintext.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = |reason: String| Error::Corrupt {
            what: "index segment".into(),
            reason,
        };
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4).map_err(&corrupt)? != MAGIC {
            return Err(corrupt("not an index segment (bad magic)".into()));
        }
        let version = r.u8().map_err(&corrupt)?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                what: "index segment",
                version: u32::from(version),
            });
        }
        let name_len = usize::from(r.u16().map_err(&corrupt)?);
        let object = std::str::from_utf8(r.take(name_len).map_err(&corrupt)?)
            .map_err(|_| corrupt("object name is not UTF-8".into()))?
            .to_owned();
        if object.is_empty() {
            return Err(corrupt("empty object name".into()));
        }
        let pack_count = r.count(PACK_NAME_LEN).map_err(&corrupt)?;
        let mut packs = Vec::with_capacity(pack_count);
        for _ in 0..pack_count {
            packs.push(r.array::<PACK_NAME_LEN>().map_err(&corrupt)?);
        }
        let n = r.count(ENTRY_LEN).map_err(&corrupt)?;
        // One cursor per column, each over exactly its n values.
        let mut column = |width: usize| -> Result<Reader<'_>> {
            Ok(Reader {
                bytes: r.take(n * width).map_err(&corrupt)?,
                pos: 0,
            })
        };
        let (mut ids, mut stamps, mut kinds) = (column(ID_LEN)?, column(8)?, column(1)?);
        let (mut pack_ordinals, mut offsets) = (column(4)?, column(8)?);
        let (mut lengths, mut ordinals) = (column(4)?, column(4)?);
        let mut entries = Vec::with_capacity(n);
        let mut blocks = BlockTable::default();
        for _ in 0..n {
            let id = RecordId::from_bytes(ids.array().map_err(&corrupt)?)
                .ok_or_else(|| corrupt("record Id is not alphanumeric".into()))?;
            let kind_byte = kinds.u8().map_err(&corrupt)?;
            let kind = EntryKind::from_byte(kind_byte)
                .ok_or_else(|| corrupt(format!("unknown entry kind {kind_byte}")))?;
            let block = Block {
                pack: u32::from_be_bytes(pack_ordinals.array().map_err(&corrupt)?),
                offset: u64::from_be_bytes(offsets.array().map_err(&corrupt)?),
                length: u32::from_be_bytes(lengths.array().map_err(&corrupt)?),
            };
            let ordinal = u32::from_be_bytes(ordinals.array().map_err(&corrupt)?);
            let block = if kind == EntryKind::Gone {
                if block != Block::default() || ordinal != 0 {
                    return Err(corrupt(format!("gone entry {id} carries a location")));
                }
                0
            } else {
                blocks.index(block)
            };
            entries.push(IndexEntry {
                id,
                stamp_ms: i64::from_be_bytes(stamps.array().map_err(&corrupt)?),
                kind,
                block,
                ordinal,
            });
        }
        if r.remaining() != 0 {
            return Err(corrupt(format!("{} trailing bytes", r.remaining())));
        }
        let segment = Self {
            object,
            packs,
            blocks: blocks.blocks,
            entries,
        };
        segment.check().map_err(corrupt)?;
        Ok(segment)
    }
}

/// A block table being built: each distinct block once, in the order first asked for.
#[derive(Default)]
struct BlockTable {
    blocks: Vec<Block>,
    index: HashMap<Block, u32>,
}

impl BlockTable {
    /// The index of `block`, added if new.
    fn index(&mut self, block: Block) -> u32 {
        // Entries of one block mostly come together (a block holds consecutive rows of the
        // read, and Ids are handed out in order): skip the map then.
        if let Some(last) = self.blocks.len().checked_sub(1)
            && self.blocks[last] == block
        {
            return last as u32;
        }
        let next = self.blocks.len() as u32;
        *self.index.entry(block).or_insert_with(|| {
            self.blocks.push(block);
            next
        })
    }
}

/// The stored form of a segment's encoding (index and blob index segments alike): a
/// `compression.md` block, the plaintext that is sealed.
pub(super) fn store_segment(encoded: &[u8]) -> Result<Vec<u8>> {
    let level = Level::new(STORED_LEVEL).map_err(Error::Compress)?;
    coffer_compress::compress(encoded, level).map_err(Error::Compress)
}

/// Inflates a stored segment ([`store_segment`]), bounded; `what` names it in errors.
pub(super) fn open_segment(block: &[u8], what: &str) -> Result<Vec<u8>> {
    coffer_compress::decompress(
        block,
        &Limits::new(MAX_SEGMENT_BYTES).with_max_ratio(MAX_SEGMENT_RATIO),
        &DictionarySet::new(),
    )
    .map_err(|e| Error::Corrupt {
        what: what.to_owned(),
        reason: format!("does not decompress: {e}"),
    })
}

/// A bounds-checked cursor over untrusted bytes.
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(super) fn array<const N: usize>(&mut self) -> std::result::Result<[u8; N], String> {
        let slice = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(super) fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> std::result::Result<u16, String> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A LEB128 varint of at most ten bytes.
    pub(super) fn varint(&mut self) -> std::result::Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!(
            "a varint longer than ten bytes at byte {}",
            self.pos
        ))
    }

    /// A u32 count of items of `item_len` bytes, refused when the rest of the input cannot
    /// hold that many (so a forged count cannot make us allocate).
    pub(super) fn count(&mut self, item_len: usize) -> std::result::Result<usize, String> {
        let count = usize::try_from(u32::from_be_bytes(self.array()?))
            .map_err(|_| "count does not fit in memory".to_owned())?;
        let remaining = self.remaining();
        if count
            .checked_mul(item_len)
            .is_none_or(|need| need > remaining)
        {
            return Err(format!(
                "count {count} exceeds the remaining {remaining} bytes"
            ));
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(n: u32) -> RecordId {
        RecordId::parse(&format!("001{n:015}")).unwrap()
    }

    #[test]
    fn segments_that_inflate_beyond_the_ratio_are_refused() {
        // 8 MiB of zeros stores in a few hundred bytes: far beyond any real segment's ratio.
        let bomb = store_segment(&vec![0u8; 8 << 20]).unwrap();
        assert!(bomb.len() * 1000 < 8 << 20);
        let err = open_segment(&bomb, "index segment x").unwrap_err();
        assert!(
            matches!(&err, Error::Corrupt { what, reason } if what == "index segment x" && reason.contains("ratio")),
            "{err:?}"
        );
        // A real segment's ratio is far inside the limit.
        let entries: Vec<IndexEntry> = (0..10_000u32)
            .map(|n| IndexEntry {
                id: id(n),
                stamp_ms: 1_700_000_000_000,
                kind: EntryKind::Version,
                block: 0,
                ordinal: n,
            })
            .collect();
        let segment =
            IndexSegment::new("Account", vec![[7u8; 32]], blocks()[..1].to_vec(), entries).unwrap();
        let stored = store_segment(&segment.encode()).unwrap();
        assert_eq!(
            open_segment(&stored, "index segment").unwrap(),
            segment.encode()
        );
    }

    /// Packs of `PACKS`, block `n % 5` of them: a table every `entry` can point into.
    const PACKS: usize = 3;
    fn blocks() -> Vec<Block> {
        (0..5u32)
            .map(|b| Block {
                pack: b % PACKS as u32,
                offset: u64::from(b) * 1000,
                length: 1000,
            })
            .collect()
    }

    fn entry(n: u32, stamp_ms: i64) -> IndexEntry {
        IndexEntry {
            id: id(n),
            stamp_ms,
            kind: EntryKind::Version,
            block: n % 5,
            ordinal: n % 7,
        }
    }

    fn gone(n: u32, stamp_ms: i64) -> IndexEntry {
        IndexEntry {
            id: id(n),
            stamp_ms,
            kind: EntryKind::Gone,
            block: 0,
            ordinal: 0,
        }
    }

    fn segment(object: &str, entries: Vec<IndexEntry>) -> Result<IndexSegment> {
        IndexSegment::new(object, vec![[1; 32], [2; 32], [3; 32]], blocks(), entries)
    }

    #[test]
    fn index_entries_stay_small() {
        // A run holds one entry per version it writes until the object's segment is stored
        // (56 bytes while each entry carried its block's pack, offset and length).
        assert_eq!(std::mem::size_of::<IndexEntry>(), 40);
    }

    #[test]
    fn round_trip_and_lookup() {
        let segment = segment(
            "Account",
            vec![
                entry(3, 10),
                entry(1, 30),
                IndexEntry {
                    block: 4,
                    ..entry(1, 20)
                },
                entry(2, 10),
                gone(2, 50),
            ],
        )
        .unwrap();
        let decoded = IndexSegment::decode(&segment.encode()).unwrap();
        assert_eq!(decoded, segment);
        assert_eq!(decoded.latest(&id(1)).unwrap().stamp_ms, 30);
        assert_eq!(decoded.versions(&id(1)).len(), 2);
        let gone = decoded.latest(&id(2)).unwrap();
        assert_eq!(gone.kind, EntryKind::Gone);
        assert_eq!(decoded.location(gone), None);
        assert_eq!(decoded.pack_of(gone), None);
        assert!(decoded.latest(&id(4)).is_none());
        // Block 3 is in pack 0, at 3000.
        let three = decoded.latest(&id(3)).unwrap();
        assert_eq!(decoded.pack_of(three), Some(&[1; 32]));
        assert_eq!(
            decoded.location(three),
            Some(Location {
                pack: 0,
                offset: 3000,
                length: 1000,
                ordinal: 3
            })
        );
        // The table keeps the blocks named, once each, in the order the entries name them:
        // (1, 20) names block 4, (1, 30) block 1, (2, 10) block 2, (3, 10) block 3.
        let offsets: Vec<u64> = decoded.blocks().iter().map(|b| b.offset).collect();
        assert_eq!(offsets, [4000, 1000, 2000, 3000]);
    }

    /// The encoding of a segment made by the code before entries named their blocks by index
    /// (each entry carried its pack, offset and length): the layout of `repository.md` §6,
    /// which must not change.
    const PINNED: [&str; 9] = [
        "434649580200074163636f756e7400000002abababababababababababababababababababababababababababababab",
        "abab01010101010101010101010101010101010101010101010101010101010101010000000730303130303030303030",
        "303030303030303130303130303030303030303030303030303130303130303030303030303030303030303230303130",
        "303030303030303030303030303330303130303030303030303030303030303430303130303030303030303030303030",
        "30343030313030303030303030303030303030350000018bcfe568000000018bcfed092000000174876e8000ffffffff",
        "fffffffb0000018bcfe56801000001a3185c50000000018bcfe568000001020000010000000000000000010000000000",
        "00000000000000000000010000000100000000000004d200000000000000000000000000000000000000000000000000",
        "000000000004d200000000000010000000000000000000000003090000100000000000000004d2000003090000012c00",
        "00100000000003000000010000000000000000000000000001117000000000",
    ];

    #[test]
    fn encoding_is_pinned() {
        let pinned = hex::decode(PINNED.concat()).unwrap();
        let block = |pack, offset, length| Block {
            pack,
            offset,
            length,
        };
        // Blocks in write order, one no entry names (dropped) and one repeated (merged).
        let blocks = vec![
            block(0, 0, 1234),
            block(0, 1234, 777),
            block(1, 0, 4096),
            block(1, 4096, 300),
            block(1, 4396, 10),
            block(0, 1234, 777),
        ];
        let e = |n, stamp_ms, kind, block, ordinal| IndexEntry {
            id: id(n),
            stamp_ms,
            kind,
            block,
            ordinal,
        };
        let segment = IndexSegment::new(
            "Account",
            vec![[0xAB; 32], [0x01; 32]],
            blocks,
            vec![
                e(5, 1_700_000_000_000, EntryKind::Version, 2, 0),
                e(1, 1_700_000_000_000, EntryKind::Version, 1, 3),
                e(1, 1_700_000_500_000, EntryKind::Deleted, 2, 1),
                e(3, -5, EntryKind::Version, 0, 0),
                e(2, 1_600_000_000_000, EntryKind::Gone, 0, 0),
                e(4, 1_700_000_000_001, EntryKind::Version, 5, 0),
                e(4, 1_800_000_000_000, EntryKind::Deleted, 3, 70_000),
            ],
        )
        .unwrap();
        assert_eq!(segment.encode(), pinned);
        let decoded = IndexSegment::decode(&pinned).unwrap();
        assert_eq!(decoded, segment);
        assert_eq!(decoded.encode(), pinned);
        // What the code before read from these bytes, entry by entry (sorted): the location.
        let loc = |pack, offset, length, ordinal| {
            Some(Location {
                pack,
                offset,
                length,
                ordinal,
            })
        };
        let locations: Vec<(String, i64, EntryKind, Option<Location>)> = decoded
            .entries()
            .iter()
            .map(|e| (e.id.to_string(), e.stamp_ms, e.kind, decoded.location(e)))
            .collect();
        let expected = vec![
            (
                1,
                1_700_000_000_000,
                EntryKind::Version,
                loc(0, 1234, 777, 3),
            ),
            (1, 1_700_000_500_000, EntryKind::Deleted, loc(1, 0, 4096, 1)),
            (2, 1_600_000_000_000, EntryKind::Gone, None),
            (3, -5, EntryKind::Version, loc(0, 0, 1234, 0)),
            (
                4,
                1_700_000_000_001,
                EntryKind::Version,
                loc(0, 1234, 777, 0),
            ),
            (
                4,
                1_800_000_000_000,
                EntryKind::Deleted,
                loc(1, 4096, 300, 70_000),
            ),
            (5, 1_700_000_000_000, EntryKind::Version, loc(1, 0, 4096, 0)),
        ];
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(n, stamp, kind, loc)| (id(n).to_string(), stamp, kind, loc))
            .collect();
        assert_eq!(locations, expected);
        assert_eq!(decoded.blocks().len(), 4);
    }

    #[test]
    fn new_refuses_duplicates_and_dangling_references() {
        assert!(segment("A", vec![entry(1, 1), entry(1, 1)]).is_err());
        // Block out of range.
        assert!(
            segment(
                "A",
                vec![IndexEntry {
                    block: 5,
                    ..entry(1, 1)
                }]
            )
            .is_err()
        );
        // Pack out of range (block 2 is in pack 2, of 2).
        assert!(IndexSegment::new("A", vec![[0; 32]; 2], blocks(), vec![entry(2, 1)]).is_err());
        // A gone entry with a location.
        assert!(
            segment(
                "A",
                vec![IndexEntry {
                    ordinal: 1,
                    ..gone(1, 1)
                }]
            )
            .is_err()
        );
        assert!(segment("", vec![]).is_err());
    }

    #[test]
    fn record_ids_are_checked() {
        assert!(RecordId::parse("001000000000001AAA").is_ok());
        assert!(RecordId::parse("001000000000001").is_err());
        assert!(RecordId::parse("001000000000001AA-").is_err());
    }

    #[test]
    fn stored_segments_round_trip_and_compress() {
        let entries: Vec<IndexEntry> = (0..10_000)
            .map(|n| entry(n, 1_700_000_000_000 + i64::from(n % 97)))
            .collect();
        let segment = segment("Account", entries).unwrap();
        let stored = segment.to_stored().unwrap();
        assert_eq!(IndexSegment::from_stored(&stored).unwrap(), segment);
        // Columns of sorted Ids, nearby stamps and a few blocks compress.
        assert!(
            stored.len() * 3 < segment.encode().len(),
            "{}",
            stored.len()
        );
        // The plain encoding is not a stored segment, and a truncated one does not open.
        assert!(IndexSegment::from_stored(&segment.encode()).is_err());
        assert!(IndexSegment::from_stored(&stored[..stored.len() / 2]).is_err());
    }

    #[test]
    fn decode_refuses_malformed_input() {
        let segment = segment("Contact", vec![entry(1, 1), entry(2, 2)]).unwrap();
        let bytes = segment.encode();
        // Every truncation is refused, never a panic.
        for cut in 0..bytes.len() {
            assert!(IndexSegment::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(IndexSegment::decode(&extra).is_err());
        // Version 1 (the row layout before any release) and unknown versions are refused.
        for v in [1, 3] {
            let mut version = bytes.clone();
            version[4] = v;
            assert!(matches!(
                IndexSegment::decode(&version),
                Err(Error::UnsupportedVersion { .. })
            ));
        }
        // Swap the two Ids of the Id column: out of order.
        let start = bytes.len() - 2 * ENTRY_LEN;
        let mut swapped = bytes.clone();
        swapped[start..start + 2 * ID_LEN].rotate_left(ID_LEN);
        assert!(IndexSegment::decode(&swapped).is_err());
        // A gone entry that carries a location: the second entry made gone (the kind column
        // follows the Ids and the stamps).
        let kinds = start + 2 * ID_LEN + 2 * 8;
        let mut gone = bytes.clone();
        gone[kinds + 1] = 2;
        assert!(IndexSegment::decode(&gone).is_err());
    }

    proptest! {
        #[test]
        fn any_segment_round_trips(
            raw in proptest::collection::btree_map((0u32..500, -5i64..5), 0u8..3, 0..60),
        ) {
            let entries: Vec<IndexEntry> = raw
                .into_iter()
                .map(|((n, stamp), kind)| match EntryKind::from_byte(kind).unwrap() {
                    EntryKind::Gone => gone(n, stamp),
                    kind => IndexEntry { kind, ..entry(n, stamp) },
                })
                .collect();
            let segment = segment("Case", entries).unwrap();
            let decoded = IndexSegment::decode(&segment.encode()).unwrap();
            // Every entry resolves to the same place it was written with.
            for e in segment.entries() {
                let want = (e.kind != EntryKind::Gone).then(|| {
                    let b = blocks()[(id_number(&e.id) % 5) as usize];
                    Location { pack: b.pack, offset: b.offset, length: b.length, ordinal: e.ordinal }
                });
                prop_assert_eq!(segment.location(e), want);
            }
            prop_assert_eq!(decoded, segment);
        }

        /// Arbitrary bytes never panic the decoder, and whatever it accepts is canonical:
        /// it re-encodes to exactly the bytes it came from.
        #[test]
        fn decode_accepts_only_canonical_bytes(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut bytes = b"CFIX\x01\x00\x01A".to_vec();
            bytes.extend_from_slice(&tail);
            if let Ok(segment) = IndexSegment::decode(&bytes) {
                prop_assert_eq!(segment.encode(), bytes);
            }
        }
    }

    fn id_number(id: &RecordId) -> u32 {
        id.as_str()[3..].parse().unwrap()
    }
}
