//! Index segments (`docs/format/repository.md` §6): for one object type, where each stored
//! version of each record lives (pack, block, record within the block).
//!
//! A segment is immutable once written. This module only encodes and decodes its plaintext;
//! sealing and storing are the repository's business. Decoding is strict: every field has one
//! valid encoding, entries are sorted and unique, and every location points inside the
//! segment's pack table, so a decoded segment can be trusted to be well formed.

use std::cmp::Ordering;
use std::fmt;

use coffer_compress::{DictionarySet, Level, Limits};

use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"CFIX";
/// 2: columnar entries, stored compressed (1, entry after entry uncompressed, preceded any
/// release and is not read).
const VERSION: u8 = 2;
/// zstd level of stored segments (index and blob index): written once per object and run,
/// read often.
const STORED_LEVEL: i32 = 9;
/// Largest segment a reader inflates (a bomb guard): about 34 million entries.
const MAX_SEGMENT_BYTES: u64 = 2 * 1024 * 1024 * 1024;
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

    fn from_bytes(bytes: [u8; ID_LEN]) -> Option<Self> {
        bytes
            .iter()
            .all(u8::is_ascii_alphanumeric)
            .then_some(Self(bytes))
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
    fn to_byte(self) -> u8 {
        match self {
            EntryKind::Version => 0,
            EntryKind::Deleted => 1,
            EntryKind::Gone => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(EntryKind::Version),
            1 => Some(EntryKind::Deleted),
            2 => Some(EntryKind::Gone),
            _ => None,
        }
    }
}

/// Where a version's content is: a block of a pack, and the record's place in that block.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The record.
    pub id: RecordId,
    /// Its SystemModstamp, milliseconds since the Unix epoch.
    pub stamp_ms: i64,
    /// What the entry records.
    pub kind: EntryKind,
    /// Where the content is (all zero for [`EntryKind::Gone`]).
    pub location: Location,
}

impl IndexEntry {
    fn key_cmp(&self, other: &Self) -> Ordering {
        (self.id, self.stamp_ms).cmp(&(other.id, other.stamp_ms))
    }
}

/// An index segment: one object type's entries and the packs they point into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSegment {
    object: String,
    packs: Vec<[u8; PACK_NAME_LEN]>,
    entries: Vec<IndexEntry>,
}

impl IndexSegment {
    /// A segment from unsorted entries. Fails on two entries with the same (Id, stamp), on a
    /// pack ordinal outside `packs`, or on a `Gone` entry that carries a location.
    pub fn new(
        object: impl Into<String>,
        packs: Vec<[u8; PACK_NAME_LEN]>,
        mut entries: Vec<IndexEntry>,
    ) -> Result<Self> {
        let object = object.into();
        if object.is_empty() || object.len() > usize::from(u16::MAX) {
            return Err(Error::InvalidArgument(
                "index segment object name must be 1 to 65535 bytes".into(),
            ));
        }
        entries.sort_by(IndexEntry::key_cmp);
        let segment = Self {
            object,
            packs,
            entries,
        };
        segment.check().map_err(Error::InvalidArgument)?;
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

    /// The name of the pack an entry points into.
    pub fn pack_of(&self, entry: &IndexEntry) -> Option<&[u8; PACK_NAME_LEN]> {
        usize::try_from(entry.location.pack)
            .ok()
            .and_then(|i| self.packs.get(i))
    }

    /// Sorted, unique, locations in range, `Gone` entries empty.
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
                    if entry.location != Location::default() {
                        return Err(format!("gone entry {} carries a location", entry.id));
                    }
                }
                EntryKind::Version | EntryKind::Deleted => {
                    if self.pack_of(entry).is_none() {
                        return Err(format!(
                            "entry {} points at pack {} of {}",
                            entry.id,
                            entry.location.pack,
                            self.packs.len()
                        ));
                    }
                }
            }
        }
        Ok(())
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
        // 2^32 entries of 63 bytes; saturating keeps this infallible, and `decode` would
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
        for e in &self.entries {
            out.extend_from_slice(&e.location.pack.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.location.offset.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.location.length.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.location.ordinal.to_be_bytes());
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
        for _ in 0..n {
            let id = RecordId::from_bytes(ids.array().map_err(&corrupt)?)
                .ok_or_else(|| corrupt("record Id is not alphanumeric".into()))?;
            let kind_byte = kinds.u8().map_err(&corrupt)?;
            let kind = EntryKind::from_byte(kind_byte)
                .ok_or_else(|| corrupt(format!("unknown entry kind {kind_byte}")))?;
            entries.push(IndexEntry {
                id,
                stamp_ms: i64::from_be_bytes(stamps.array().map_err(&corrupt)?),
                kind,
                location: Location {
                    pack: u32::from_be_bytes(pack_ordinals.array().map_err(&corrupt)?),
                    offset: u64::from_be_bytes(offsets.array().map_err(&corrupt)?),
                    length: u32::from_be_bytes(lengths.array().map_err(&corrupt)?),
                    ordinal: u32::from_be_bytes(ordinals.array().map_err(&corrupt)?),
                },
            });
        }
        if r.pos != bytes.len() {
            return Err(corrupt(format!("{} trailing bytes", bytes.len() - r.pos)));
        }
        let segment = Self {
            object,
            packs,
            entries,
        };
        segment.check().map_err(corrupt)?;
        Ok(segment)
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
        &Limits::new(MAX_SEGMENT_BYTES),
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

    pub(super) fn u8(&mut self) -> std::result::Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> std::result::Result<u16, String> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A u32 count of items of `item_len` bytes, refused when the rest of the input cannot
    /// hold that many (so a forged count cannot make us allocate).
    pub(super) fn count(&mut self, item_len: usize) -> std::result::Result<usize, String> {
        let count = usize::try_from(u32::from_be_bytes(self.array()?))
            .map_err(|_| "count does not fit in memory".to_owned())?;
        let remaining = self.bytes.len() - self.pos;
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

    fn entry(n: u32, stamp_ms: i64, pack: u32) -> IndexEntry {
        IndexEntry {
            id: id(n),
            stamp_ms,
            kind: EntryKind::Version,
            location: Location {
                pack,
                offset: u64::from(n) * 100,
                length: 100,
                ordinal: n % 7,
            },
        }
    }

    #[test]
    fn round_trip_and_lookup() {
        let gone = IndexEntry {
            id: id(2),
            stamp_ms: 50,
            kind: EntryKind::Gone,
            location: Location::default(),
        };
        let segment = IndexSegment::new(
            "Account",
            vec![[1; 32], [2; 32]],
            vec![
                entry(3, 10, 1),
                entry(1, 30, 0),
                entry(1, 20, 1),
                entry(2, 10, 0),
                gone,
            ],
        )
        .unwrap();
        let decoded = IndexSegment::decode(&segment.encode()).unwrap();
        assert_eq!(decoded, segment);
        assert_eq!(decoded.latest(&id(1)).unwrap().stamp_ms, 30);
        assert_eq!(decoded.versions(&id(1)).len(), 2);
        assert_eq!(decoded.latest(&id(2)).unwrap().kind, EntryKind::Gone);
        assert!(decoded.latest(&id(4)).is_none());
        assert_eq!(
            decoded.pack_of(decoded.latest(&id(3)).unwrap()),
            Some(&[2; 32])
        );
    }

    #[test]
    fn new_refuses_duplicates_and_dangling_packs() {
        assert!(
            IndexSegment::new("A", vec![[0; 32]], vec![entry(1, 1, 0), entry(1, 1, 0)]).is_err()
        );
        assert!(IndexSegment::new("A", vec![[0; 32]], vec![entry(1, 1, 1)]).is_err());
        assert!(IndexSegment::new("", vec![[0; 32]], vec![]).is_err());
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
            .map(|n| entry(n, 1_700_000_000_000 + i64::from(n % 97), 0))
            .collect();
        let segment = IndexSegment::new("Account", vec![[7; PACK_NAME_LEN]], entries).unwrap();
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
        let segment = IndexSegment::new(
            "Contact",
            vec![[9; 32]],
            vec![entry(1, 1, 0), entry(2, 2, 0)],
        )
        .unwrap();
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
    }

    proptest! {
        #[test]
        fn any_segment_round_trips(
            raw in proptest::collection::btree_map((0u32..500, -5i64..5), 0u8..3, 0..60),
        ) {
            let entries: Vec<IndexEntry> = raw
                .into_iter()
                .map(|((n, stamp), kind)| match EntryKind::from_byte(kind).unwrap() {
                    EntryKind::Gone => IndexEntry {
                        id: id(n),
                        stamp_ms: stamp,
                        kind: EntryKind::Gone,
                        location: Location::default(),
                                },
                    kind => IndexEntry { kind, ..entry(n, stamp, n % 3) },
                })
                .collect();
            let segment = IndexSegment::new("Case", vec![[1; 32], [2; 32], [3; 32]], entries).unwrap();
            prop_assert_eq!(IndexSegment::decode(&segment.encode()).unwrap(), segment);
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
}
