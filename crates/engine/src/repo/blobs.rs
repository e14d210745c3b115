//! File bodies (`docs/format/repository.md` §5): *blob packs*, blocks of compressed bodies, and
//! *blob index segments*, which map each body's keyed name to its place in a pack.
//!
//! Bodies are packed rather than stored one object each because an org's files are mostly small
//! (a few KiB): an object per body cost an envelope header, a wrapped key and a store write
//! (a file and directory sync on a disk) per body, and compressing small bodies together finds
//! what they share. This module builds and parses the plaintexts only; sealing and storing are
//! the repository's business.

use std::collections::HashSet;

use coffer_compress::{Compressor, Level};

use super::index::{Reader, open_segment, store_segment};
use crate::error::{Error, Result};

const MAGIC: &[u8; 4] = b"CFBX";
const VERSION: u8 = 1;
/// Length of a blob name: HMAC-SHA256 of the body under the org's name key.
pub const BLOB_NAME_LEN: usize = 32;
/// Length of a pack name (SHA-256 of the stored pack).
const PACK_NAME_LEN: usize = 32;
/// Bytes of an encoded entry.
const ENTRY_LEN: usize = BLOB_NAME_LEN + 4 + 8 + 4 + 8 + 8;
/// zstd level of blob blocks. Level 9 took 9% fewer bytes than level 3 on generated text,
/// CSV and JSON bodies but compressed six times slower (20 against 125 MB/s, `zstd -b9` and
/// `-b3 -B4194304`), which made it the largest cost of a full backup.
const LEVEL: i32 = 3;
/// Content of a block of small bodies before it is compressed. Bodies compress together
/// (generated and exported files repeat their structure), and reading one inflates at most this.
pub const BLOCK_TARGET: usize = 1024 * 1024;
/// Plaintext of a blob pack before the next one starts (a single larger body makes a larger
/// pack). A file object being written holds a block being filled, the pack and, while it is
/// stored, the pack's sealed copy: at 4 MiB blocks and 8 MiB packs, the two file objects of
/// benches/peers read together held about 50 MB of them (jemalloc heap profile at the peak),
/// and at 1 and 2 MiB the 4x org's peak was 89-94 MiB against 96-100 MiB at 2 and 4 MiB, for a
/// repository 0.2% larger.
pub const PACK_TARGET: usize = 2 * 1024 * 1024;

/// Where one body is: a block of a blob pack, and the body's bytes in the block's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobEntry {
    /// The body's name (HMAC-SHA256 under the org's name key, `OrgRepo::blob_name`).
    pub name: [u8; BLOB_NAME_LEN],
    /// Index into the segment's pack list.
    pub pack: u32,
    /// Plaintext offset of the block in the pack.
    pub offset: u64,
    /// Length of the (compressed) block.
    pub length: u32,
    /// Offset of the body in the block's content.
    pub start: u64,
    /// Length of the body.
    pub size: u64,
}

/// One run's blob index: where each body the run stored is (`repository.md` §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobSegment {
    packs: Vec<[u8; PACK_NAME_LEN]>,
    entries: Vec<BlobEntry>,
}

impl BlobSegment {
    /// A segment of `entries` (sorted here) whose packs are `packs`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a name listed twice or an entry naming no listed pack.
    pub fn new(packs: Vec<[u8; PACK_NAME_LEN]>, mut entries: Vec<BlobEntry>) -> Result<Self> {
        entries.sort_unstable_by_key(|e| e.name);
        let segment = Self { packs, entries };
        segment.check().map_err(Error::InvalidArgument)?;
        Ok(segment)
    }

    /// The packs the entries point into.
    pub fn packs(&self) -> &[[u8; PACK_NAME_LEN]] {
        &self.packs
    }

    /// Entries, sorted by name.
    pub fn entries(&self) -> &[BlobEntry] {
        &self.entries
    }

    /// The entry of the body named `name`.
    pub fn get(&self, name: &[u8; BLOB_NAME_LEN]) -> Option<&BlobEntry> {
        self.entries
            .binary_search_by(|e| e.name.cmp(name))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The name of the pack `entry` points into.
    pub fn pack_of(&self, entry: &BlobEntry) -> Option<&[u8; PACK_NAME_LEN]> {
        self.packs.get(entry.pack as usize)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if let Some(w) = self.entries.windows(2).find(|w| w[0].name >= w[1].name) {
            return Err(format!(
                "blob {} is listed twice or out of order",
                hex::encode(w[1].name)
            ));
        }
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| e.pack as usize >= self.packs.len())
        {
            return Err(format!(
                "blob {} names pack {} of {}",
                hex::encode(e.name),
                e.pack,
                self.packs.len()
            ));
        }
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| e.length == 0 || e.offset.checked_add(u64::from(e.length)).is_none())
        {
            return Err(format!("blob {} has an empty block", hex::encode(e.name)));
        }
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| e.start.checked_add(e.size).is_none())
        {
            return Err(format!("blob {} ends past 2^64 bytes", hex::encode(e.name)));
        }
        Ok(())
    }

    /// The plaintext encoding (`repository.md` §5).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            MAGIC.len()
                + 1
                + 4
                + self.packs.len() * PACK_NAME_LEN
                + 4
                + self.entries.len() * ENTRY_LEN,
        );
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        // Saturating: memory runs out long before 2^32 packs or entries, and `decode` would
        // refuse the mismatch.
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
        // Column after column, as index segments (§6): the numeric columns compress.
        for e in &self.entries {
            out.extend_from_slice(&e.name);
        }
        for e in &self.entries {
            out.extend_from_slice(&e.pack.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.offset.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.length.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.start.to_be_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.size.to_be_bytes());
        }
        out
    }

    /// The stored form: the encoding as a `compression.md` block (the plaintext that is sealed).
    pub fn to_stored(&self) -> Result<Vec<u8>> {
        store_segment(&self.encode())
    }

    /// Opens the stored form ([`Self::to_stored`]): inflates (bounded) and decodes.
    pub fn from_stored(block: &[u8]) -> Result<Self> {
        Self::decode(&open_segment(block, "blob index segment")?)
    }

    /// Decodes and checks a segment's plaintext.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = |reason: String| Error::Corrupt {
            what: "blob index segment".into(),
            reason,
        };
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4).map_err(&corrupt)? != MAGIC {
            return Err(corrupt("not a blob index segment (bad magic)".into()));
        }
        let version = r.u8().map_err(&corrupt)?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                what: "blob index segment",
                version: u32::from(version),
            });
        }
        let pack_count = r.count(PACK_NAME_LEN).map_err(&corrupt)?;
        let mut packs = Vec::with_capacity(pack_count);
        for _ in 0..pack_count {
            packs.push(r.array::<PACK_NAME_LEN>().map_err(&corrupt)?);
        }
        let n = r.count(ENTRY_LEN).map_err(&corrupt)?;
        let mut column = |width: usize| -> Result<Reader<'_>> {
            Ok(Reader {
                bytes: r.take(n * width).map_err(&corrupt)?,
                pos: 0,
            })
        };
        let (mut names, mut pack_ordinals) = (column(BLOB_NAME_LEN)?, column(4)?);
        let (mut offsets, mut lengths) = (column(8)?, column(4)?);
        let (mut starts, mut sizes) = (column(8)?, column(8)?);
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            entries.push(BlobEntry {
                name: names.array().map_err(&corrupt)?,
                pack: u32::from_be_bytes(pack_ordinals.array().map_err(&corrupt)?),
                offset: u64::from_be_bytes(offsets.array().map_err(&corrupt)?),
                length: u32::from_be_bytes(lengths.array().map_err(&corrupt)?),
                start: u64::from_be_bytes(starts.array().map_err(&corrupt)?),
                size: u64::from_be_bytes(sizes.array().map_err(&corrupt)?),
            });
        }
        if r.remaining() != 0 {
            return Err(corrupt(format!("{} trailing bytes", r.remaining())));
        }
        let segment = Self { packs, entries };
        segment.check().map_err(corrupt)?;
        Ok(segment)
    }
}

/// The body an entry names, out of its block's decompressed content.
pub fn body_in_block<'a>(content: &'a [u8], entry: &BlobEntry) -> Result<&'a [u8]> {
    usize::try_from(entry.start)
        .ok()
        .zip(usize::try_from(entry.size).ok())
        .and_then(|(start, size)| content.get(start..start.checked_add(size)?))
        .ok_or_else(|| Error::Corrupt {
            what: format!("blob {}", hex::encode(entry.name)),
            reason: format!(
                "bytes {}+{} lie outside its block of {} bytes",
                entry.start,
                entry.size,
                content.len()
            ),
        })
}

/// The most content a block of small bodies holds, whichever writer made it: less than twice
/// the block target, which was 4 MiB at most before it became [`BLOCK_TARGET`].
const SMALL_BODIES_BLOCK_BOUND: u64 = 8 * 1024 * 1024;

/// The most a reader inflates for `entry`'s block (a bomb guard): a block of small bodies holds
/// less than [`SMALL_BODIES_BLOCK_BOUND`], a block of its own holds the body.
pub fn max_block_content(entry: &BlobEntry) -> u64 {
    entry
        .start
        .saturating_add(entry.size)
        .max(SMALL_BODIES_BLOCK_BOUND)
}

/// Builds a run's blob packs, body by body. Small compressible bodies share blocks of about
/// [`BLOCK_TARGET`]; a body that is already compressed (by `coffer_compress`'s sniffing) or
/// large gets a block of its own. Memory: one block being filled and one pack being built.
pub struct BlobPacker {
    compressor: Compressor,
    /// Content of the block being filled, and its bodies: (name, start, size).
    block: Vec<u8>,
    block_bodies: Vec<([u8; BLOB_NAME_LEN], u64, u64)>,
    /// Plaintext of the pack being built.
    pack: Vec<u8>,
    /// Packs stored so far, in order (entries name them by ordinal).
    packs: Vec<[u8; PACK_NAME_LEN]>,
    entries: Vec<BlobEntry>,
    /// Names queued, to refuse a body twice.
    names: HashSet<[u8; BLOB_NAME_LEN]>,
}

impl std::fmt::Debug for BlobPacker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobPacker")
            .field("block", &self.block.len())
            .field("pack", &self.pack.len())
            .field("packs", &self.packs.len())
            .field("entries", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl BlobPacker {
    /// An empty packer.
    pub fn new() -> Result<Self> {
        Ok(Self {
            compressor: Compressor::new(Level::new(LEVEL).map_err(Error::Compress)?)
                .map_err(Error::Compress)?,
            block: Vec::new(),
            block_bodies: Vec::new(),
            pack: Vec::new(),
            packs: Vec::new(),
            entries: Vec::new(),
            names: HashSet::new(),
        })
    }

    /// Whether no body was added since the last [`Self::finish`].
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether the pack being built is full (time to [`Self::take_pack`] and store it).
    pub fn pack_full(&self) -> bool {
        self.pack.len() >= PACK_TARGET
    }

    /// Whether a body named `name` was added since the last [`Self::finish`].
    pub fn has_queued(&self, name: &[u8; BLOB_NAME_LEN]) -> bool {
        self.names.contains(name)
    }

    /// Whether [`Self::push`] of a body of `len` bytes only copies it (into the block being
    /// filled), compressing nothing: a caller can then push on its own thread rather than hand
    /// the packer to a worker for a memcpy.
    pub fn push_only_copies(&self, len: usize) -> bool {
        self.block.len().saturating_add(len) < BLOCK_TARGET
    }

    /// Adds a body named `name`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a name added before, or a body whose block would pass
    /// 4 GiB; a compression failure.
    pub fn push(&mut self, name: [u8; BLOB_NAME_LEN], body: &[u8]) -> Result<()> {
        if !self.names.insert(name) {
            return Err(Error::InvalidArgument(format!(
                "blob {} was added twice",
                hex::encode(name)
            )));
        }
        let size = body.len() as u64;
        if body.len() >= BLOCK_TARGET || coffer_compress::sniff::sniff(body).store {
            // Its own block: already compressed (zstd would only spend time), or big enough
            // to compress well alone.
            let (offset, length) = self.push_block(body)?;
            self.entries.push(BlobEntry {
                name,
                pack: self.pack_ordinal()?,
                offset,
                length,
                start: 0,
                size,
            });
            return Ok(());
        }
        self.block_bodies
            .push((name, self.block.len() as u64, size));
        if self.block.capacity() == 0 {
            // Room for the whole block at once (it ends at most one body, itself smaller than
            // BLOCK_TARGET, past BLOCK_TARGET) rather than copies as it doubles; untouched room
            // takes no memory.
            self.block.reserve_exact(2 * BLOCK_TARGET);
        }
        self.block.extend_from_slice(body);
        if self.block.len() >= BLOCK_TARGET {
            self.flush_block()?;
        }
        Ok(())
    }

    fn pack_ordinal(&self) -> Result<u32> {
        u32::try_from(self.packs.len())
            .map_err(|_| Error::InvalidArgument("too many blob packs".into()))
    }

    /// Compresses `content` into a new block of the pack; its (offset, length).
    fn push_block(&mut self, content: &[u8]) -> Result<(u64, u32)> {
        if self.pack.capacity() == 0 {
            // Room for the pack at once: it is taken once past PACK_TARGET, and a block of small
            // bodies compresses into less than 2 * BLOCK_TARGET (zstd's bound adds 1/256). A
            // body of its own block larger than that grows it.
            self.pack
                .reserve_exact(PACK_TARGET + 2 * BLOCK_TARGET + BLOCK_TARGET / 64);
        }
        let offset = self.pack.len();
        self.compressor
            .compress_into(content, &mut self.pack)
            .map_err(Error::Compress)?;
        let Ok(length) = u32::try_from(self.pack.len() - offset) else {
            self.pack.truncate(offset);
            return Err(Error::InvalidArgument(
                "a file body's block would pass 4 GiB".into(),
            ));
        };
        Ok((offset as u64, length))
    }

    /// Compresses the small bodies waiting into one block.
    fn flush_block(&mut self) -> Result<()> {
        if self.block_bodies.is_empty() {
            return Ok(());
        }
        let content = std::mem::take(&mut self.block);
        let (offset, length) = self.push_block(&content)?;
        let pack = self.pack_ordinal()?;
        for (name, start, size) in self.block_bodies.drain(..) {
            self.entries.push(BlobEntry {
                name,
                pack,
                offset,
                length,
                start,
                size,
            });
        }
        // Reuse the allocation for the next block.
        self.block = content;
        self.block.clear();
        Ok(())
    }

    /// The plaintext of the pack being built, its bodies complete, for the caller to seal and
    /// store and then name with [`Self::pack_stored`]; `None` when it holds nothing.
    pub fn take_pack(&mut self) -> Result<Option<Vec<u8>>> {
        self.flush_block()?;
        if self.pack.is_empty() {
            return Ok(None);
        }
        Ok(Some(std::mem::take(&mut self.pack)))
    }

    /// Names the pack [`Self::take_pack`] returned, once stored.
    pub fn pack_stored(&mut self, name: [u8; PACK_NAME_LEN]) {
        self.packs.push(name);
    }

    /// The blob index segment of every body added since the last call (every pack must have
    /// been taken and stored), and an empty packer for what comes next.
    pub fn finish(&mut self) -> Result<BlobSegment> {
        if !self.pack.is_empty() || !self.block_bodies.is_empty() {
            return Err(Error::InvalidArgument(
                "blob index segment asked for before its packs were stored".into(),
            ));
        }
        self.names.clear();
        BlobSegment::new(
            std::mem::take(&mut self.packs),
            std::mem::take(&mut self.entries),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_compress::{Decompressor, DictionarySet, Limits};
    use proptest::prelude::*;

    fn name(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn blocks_of_small_bodies_written_at_the_old_targets_still_inflate() {
        // Writers once filled blocks of small bodies to 4 MiB (so up to 8 MiB of content):
        // the bound a reader allows them does not follow today's smaller target.
        let small = BlobEntry {
            name: name(1),
            pack: 0,
            offset: 0,
            length: 100,
            start: 0,
            size: 10,
        };
        assert!(2 * BLOCK_TARGET as u64 <= SMALL_BODIES_BLOCK_BOUND);
        assert_eq!(max_block_content(&small), 8 * 1024 * 1024);
        // A body of its own block is bounded by its own end.
        let large = BlobEntry {
            size: 20 * 1024 * 1024,
            ..small
        };
        assert_eq!(max_block_content(&large), 20 * 1024 * 1024);
    }

    fn entry(n: u8, pack: u32) -> BlobEntry {
        BlobEntry {
            name: name(n),
            pack,
            offset: u64::from(n) * 100,
            length: 90,
            start: 0,
            size: 4000,
        }
    }

    /// Reads every body of `segment` back out of `packs` (plaintexts, in pack order).
    fn read_back(segment: &BlobSegment, packs: &[Vec<u8>]) -> Vec<([u8; 32], Vec<u8>)> {
        let mut d = Decompressor::new(Limits::new(1 << 30)).unwrap();
        segment
            .entries()
            .iter()
            .map(|e| {
                let pack = &packs[e.pack as usize];
                let block = &pack[e.offset as usize..e.offset as usize + e.length as usize];
                let content = d.decompress(block, &DictionarySet::new()).unwrap();
                (e.name, body_in_block(&content, e).unwrap().to_vec())
            })
            .collect()
    }

    #[test]
    fn packer_round_trips_small_large_and_compressed_bodies() {
        let mut packer = BlobPacker::new().unwrap();
        let mut bodies: Vec<([u8; 32], Vec<u8>)> = Vec::new();
        for n in 0..40u8 {
            let body = format!("{{\"invoice\":{n},\"lines\":[{}]}}\n", "1,".repeat(500));
            bodies.push((name(n), body.into_bytes()));
        }
        // A PNG (stored as it is) and a large text body (a block of its own).
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        bodies.push((name(200), png));
        bodies.push((name(201), b"abc".repeat(BLOCK_TARGET / 2)));
        let mut packs = Vec::new();
        for (n, body) in &bodies {
            packer.push(*n, body).unwrap();
            if packer.pack_full() {
                let pack = packer.take_pack().unwrap().unwrap();
                packer.pack_stored([packs.len() as u8; 32]);
                packs.push(pack);
            }
        }
        if let Some(pack) = packer.take_pack().unwrap() {
            packer.pack_stored([packs.len() as u8; 32]);
            packs.push(pack);
        }
        let segment = packer.finish().unwrap();
        assert!(packer.is_empty());
        let mut got = read_back(&segment, &packs);
        got.sort();
        bodies.sort();
        assert_eq!(got, bodies);
        // The small bodies share one block, which compresses what they repeat.
        let small = segment.get(&name(0)).unwrap();
        assert_eq!(segment.get(&name(39)).unwrap().offset, small.offset);
        assert!(small.length < 2000, "{}", small.length);
        // The stored segment round-trips.
        let stored = segment.to_stored().unwrap();
        assert_eq!(BlobSegment::from_stored(&stored).unwrap(), segment);
    }

    #[test]
    fn a_push_only_copies_until_a_block_would_fill() {
        let mut packer = BlobPacker::new().unwrap();
        assert!(packer.push_only_copies(BLOCK_TARGET - 1));
        assert!(!packer.push_only_copies(BLOCK_TARGET));
        let body = b"0123456789".repeat(BLOCK_TARGET / 20);
        packer.push(name(1), &body).unwrap();
        // Nothing was compressed: the body waits in the block.
        assert_eq!(packer.pack.len(), 0);
        assert!(packer.push_only_copies(BLOCK_TARGET - body.len() - 1));
        assert!(!packer.push_only_copies(BLOCK_TARGET - body.len()));
        // The push it refused is the one that compresses the block into the pack.
        let rest = vec![b'x'; BLOCK_TARGET - body.len()];
        packer.push(name(2), &rest).unwrap();
        assert!(!packer.pack.is_empty());
        assert!(packer.push_only_copies(BLOCK_TARGET - 1));
    }

    #[test]
    fn packer_refuses_a_body_twice_and_an_early_finish() {
        let mut packer = BlobPacker::new().unwrap();
        packer.push(name(1), b"hello").unwrap();
        assert!(packer.push(name(1), b"hello").is_err());
        assert!(packer.finish().is_err());
        assert!(packer.take_pack().unwrap().is_some());
        packer.pack_stored(name(9));
        assert_eq!(packer.finish().unwrap().entries().len(), 1);
    }

    #[test]
    fn new_refuses_duplicates_and_dangling_packs() {
        assert!(BlobSegment::new(vec![name(9)], vec![entry(1, 0), entry(1, 0)]).is_err());
        assert!(BlobSegment::new(vec![name(9)], vec![entry(1, 1)]).is_err());
        let s = BlobSegment::new(vec![name(9)], vec![entry(2, 0), entry(1, 0)]).unwrap();
        assert_eq!(s.entries()[0].name, name(1));
        assert_eq!(s.pack_of(&s.entries()[0]), Some(&name(9)));
        assert!(s.get(&name(3)).is_none());
    }

    #[test]
    fn decode_refuses_malformed_input() {
        let s = BlobSegment::new(vec![name(9)], vec![entry(1, 0), entry(2, 0)]).unwrap();
        let good = s.encode();
        assert_eq!(BlobSegment::decode(&good).unwrap(), s);
        let mut bad_magic = good.clone();
        bad_magic[0] = b'X';
        assert!(BlobSegment::decode(&bad_magic).is_err());
        let mut bad_version = good.clone();
        bad_version[4] = 9;
        assert!(matches!(
            BlobSegment::decode(&bad_version),
            Err(Error::UnsupportedVersion { .. })
        ));
        assert!(BlobSegment::decode(&good[..good.len() - 1]).is_err());
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(BlobSegment::decode(&trailing).is_err());
        // Entries out of order.
        let swapped = BlobSegment {
            packs: vec![name(9)],
            entries: vec![entry(2, 0), entry(1, 0)],
        };
        assert!(BlobSegment::decode(&swapped.encode()).is_err());
        // A forged count does not allocate.
        let mut forged = good[..9 + 32].to_vec();
        forged.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(BlobSegment::decode(&forged).is_err());
        let entry_bad = BlobEntry {
            start: u64::MAX,
            size: 2,
            ..entry(1, 0)
        };
        assert!(BlobSegment::new(vec![name(9)], vec![entry_bad]).is_err());
        assert!(
            body_in_block(
                b"abc",
                &BlobEntry {
                    start: 2,
                    size: 2,
                    ..entry(1, 0)
                }
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn any_segment_round_trips(
            raw in proptest::collection::btree_map(any::<[u8; 32]>(), (0u32..3, any::<u64>(), 1u32.., any::<u32>(), any::<u32>()), 0..40)
        ) {
            let entries: Vec<BlobEntry> = raw
                .into_iter()
                .map(|(name, (pack, offset, length, start, size))| BlobEntry {
                    name,
                    pack,
                    offset: offset >> 1,
                    length,
                    start: u64::from(start),
                    size: u64::from(size),
                })
                .collect();
            let segment = BlobSegment::new(vec![[1; 32], [2; 32], [3; 32]], entries).unwrap();
            prop_assert_eq!(BlobSegment::decode(&segment.encode()).unwrap(), segment.clone());
            prop_assert_eq!(BlobSegment::from_stored(&segment.to_stored().unwrap()).unwrap(), segment);
        }

        #[test]
        fn decode_accepts_only_canonical_bytes(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
            // Whatever decodes encodes back to the same bytes: one encoding per segment.
            let mut bytes = b"CFBX\x01".to_vec();
            bytes.extend_from_slice(&tail);
            if let Ok(segment) = BlobSegment::decode(&bytes) {
                prop_assert_eq!(segment.encode(), bytes);
            }
        }
    }
}
