//! An object's index entries while a run reads it, held compactly.
//!
//! A run keeps one [`IndexEntry`] per version it writes until the object's segment is
//! stored. As 40-byte structs they were what grew with the org: three large objects read at
//! once held 15 MB of them on benches/peers' 4x org. [`EntryLog`] sorts every
//! [`CHUNK`] entries by (Id, stamp) and keeps them delta-encoded, about a third of the
//! size, and [`EntryLog::sort`] merges the chunks into the one sorted run that the object's
//! index segments are cut from (`snapshot::ObjectWriter::finish`).
//!
//! The encoding is private to a run and never stored. An entry is written against the one
//! before it in its run (the first against an all-zero entry):
//!
//! | field | bytes |
//! |---|---|
//! | head | 1: the length of the Id prefix shared with the entry before (0 to 18), plus the kind's byte (`repository.md` §6) times 32 |
//! | Id | the rest of the Id, after the shared prefix |
//! | stamp | LEB128 varint of the zigzag of the difference from the stamp before |
//! | block | LEB128 varint of the zigzag of the difference from the block before |
//! | ordinal | LEB128 varint |

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::columns::push_varint;
use super::index::{EntryKind, ID_LEN, IndexEntry, Reader, RecordId};
use crate::error::{Error, Result};

/// Entries gathered as structs before they are sorted and encoded: 160 KB of them. Smaller
/// chunks make more runs to merge; larger ones hold more structs per object.
const CHUNK: usize = 4096;

/// An object's index entries, in the order pushed, held as sorted encoded runs.
#[derive(Debug, Default)]
pub(super) struct EntryLog {
    /// Entries not encoded yet (fewer than [`CHUNK`]).
    pending: Vec<IndexEntry>,
    /// Encoded runs, each sorted by (Id, stamp) and without repeats.
    runs: Vec<Run>,
}

impl EntryLog {
    /// Adds an entry.
    pub(super) fn push(&mut self, entry: IndexEntry) {
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(CHUNK);
        }
        self.pending.push(entry);
        if self.pending.len() == CHUNK {
            self.encode_pending();
        }
    }

    fn encode_pending(&mut self) {
        // Stable: of entries that share a key, the first pushed stays first.
        self.pending.sort_by(IndexEntry::key_cmp);
        let mut run = RunWriter::default();
        for entry in &self.pending {
            run.push_unique(entry);
        }
        self.pending.clear();
        self.runs.push(run.finish());
    }

    /// Every entry pushed, sorted by (Id, stamp), each (Id, stamp) once: the first pushed
    /// of entries that share one (a first run can read a version twice, with the same
    /// content, `repository.md` §4.4). Merges the runs into one (once; later calls reuse it).
    pub(super) fn sort(&mut self) -> Result<SortedEntries<'_>> {
        if !self.pending.is_empty() {
            self.encode_pending();
        }
        // The struct buffer is not needed again.
        self.pending = Vec::new();
        if self.runs.len() > 1 {
            let merged = merge(&self.runs)?;
            self.runs = vec![merged];
        }
        Ok(SortedEntries {
            run: self.runs.first(),
        })
    }
}

/// The entries of an [`EntryLog`], sorted ([`EntryLog::sort`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct SortedEntries<'a> {
    run: Option<&'a Run>,
}

impl<'a> SortedEntries<'a> {
    /// How many entries.
    pub(super) fn len(&self) -> usize {
        self.run.map_or(0, |r| r.len)
    }

    /// Reads the entries from the first, in order.
    pub(super) fn cursor(&self) -> Cursor<'a> {
        Cursor::new(self.run.unwrap_or(&EMPTY))
    }

    /// Calls `f` with each entry, in order.
    ///
    /// # Errors
    /// As [`Cursor::next`].
    pub(super) fn for_each(&self, mut f: impl FnMut(&IndexEntry)) -> Result<()> {
        let mut cursor = self.cursor();
        while let Some(entry) = cursor.next()? {
            f(&entry);
        }
        Ok(())
    }
}

/// The run of no entries.
static EMPTY: Run = Run {
    bytes: Vec::new(),
    len: 0,
};

/// Entries encoded against the one before (see the module's doc), sorted and unique.
#[derive(Debug, Default)]
struct Run {
    bytes: Vec<u8>,
    len: usize,
}

/// Writes a [`Run`].
#[derive(Default)]
struct RunWriter {
    run: Run,
    last: Option<IndexEntry>,
}

impl RunWriter {
    /// Appends `entry`, which sorts after the entries before or has the same key as the last
    /// of them (then it is dropped).
    fn push_unique(&mut self, entry: &IndexEntry) {
        let origin = origin();
        let last = match &self.last {
            Some(last) if last.id == entry.id && last.stamp_ms == entry.stamp_ms => return,
            Some(last) => last,
            None => &origin,
        };
        let (id, before) = (entry.id.as_bytes(), last.id.as_bytes());
        let shared = id.iter().zip(before).take_while(|(a, b)| a == b).count();
        let out = &mut self.run.bytes;
        // `shared` is at most ID_LEN (18) and a kind's byte at most 2: the head fits a byte.
        out.push(shared as u8 | entry.kind.to_byte() << 5);
        out.extend_from_slice(&id[shared..]);
        push_varint(out, zigzag(entry.stamp_ms.wrapping_sub(last.stamp_ms)));
        push_varint(out, zigzag(i64::from(entry.block) - i64::from(last.block)));
        push_varint(out, u64::from(entry.ordinal));
        self.run.len += 1;
        self.last = Some(entry.clone());
    }

    fn finish(mut self) -> Run {
        self.run.bytes.shrink_to_fit();
        self.run
    }
}

/// Reads a [`Run`] back, entry after entry.
pub(super) struct Cursor<'a> {
    reader: Reader<'a>,
    last: IndexEntry,
    left: usize,
}

impl<'a> Cursor<'a> {
    fn new(run: &'a Run) -> Self {
        Self {
            reader: Reader {
                bytes: &run.bytes,
                pos: 0,
            },
            last: origin(),
            left: run.len,
        }
    }

    /// The next entry, `None` after the last.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the run does not decode to as many entries as were written
    /// (memory corrupted, or a bug).
    pub(super) fn next(&mut self) -> Result<Option<IndexEntry>> {
        if self.left == 0 {
            return if self.reader.remaining() == 0 {
                Ok(None)
            } else {
                Err(corrupt("bytes after the last entry".into()))
            };
        }
        let entry = self.decode().map_err(corrupt)?;
        self.left -= 1;
        self.last = entry.clone();
        Ok(Some(entry))
    }

    fn decode(&mut self) -> std::result::Result<IndexEntry, String> {
        let head = self.reader.u8()?;
        let shared = usize::from(head & 0x1f);
        let kind = EntryKind::from_byte(head >> 5).ok_or_else(|| format!("head byte {head:#x}"))?;
        if shared > ID_LEN {
            return Err(format!("head byte {head:#x}"));
        }
        let mut id = *self.last.id.as_bytes();
        id[shared..].copy_from_slice(self.reader.take(ID_LEN - shared)?);
        let id = RecordId::from_bytes(id).ok_or("an Id that is not alphanumeric")?;
        let stamp_ms = self
            .last
            .stamp_ms
            .wrapping_add(unzigzag(self.reader.varint()?));
        let block = i64::from(self.last.block)
            .checked_add(unzigzag(self.reader.varint()?))
            .and_then(|b| u32::try_from(b).ok())
            .ok_or("a block out of range")?;
        let ordinal =
            u32::try_from(self.reader.varint()?).map_err(|_| "an ordinal out of range")?;
        Ok(IndexEntry {
            id,
            stamp_ms,
            kind,
            block,
            ordinal,
        })
    }
}

/// Merges sorted runs into one, keeping the first run's entry of a key that several hold.
fn merge(runs: &[Run]) -> Result<Run> {
    let mut cursors: Vec<Cursor<'_>> = runs.iter().map(Cursor::new).collect();
    // The next entry of each run, smallest key first, then lowest run.
    let mut heads = BinaryHeap::with_capacity(cursors.len());
    for (i, cursor) in cursors.iter_mut().enumerate() {
        if let Some(entry) = cursor.next()? {
            heads.push(Reverse(Head { entry, run: i }));
        }
    }
    let mut out = RunWriter::default();
    while let Some(Reverse(Head { entry, run })) = heads.pop() {
        out.push_unique(&entry);
        if let Some(next) = cursors
            .get_mut(run)
            .map(Cursor::next)
            .transpose()?
            .flatten()
        {
            heads.push(Reverse(Head { entry: next, run }));
        }
    }
    Ok(out.finish())
}

/// A run's next entry in the merge, ordered by (Id, stamp, run).
struct Head {
    entry: IndexEntry,
    run: usize,
}

impl Head {
    fn key(&self) -> (&RecordId, i64, usize) {
        (&self.entry.id, self.entry.stamp_ms, self.run)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Head {}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// What the first entry of a run is encoded against.
fn origin() -> IndexEntry {
    IndexEntry {
        id: RecordId::ORIGIN,
        stamp_ms: 0,
        kind: EntryKind::Version,
        block: 0,
        ordinal: 0,
    }
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn corrupt(reason: String) -> Error {
    Error::Corrupt {
        what: "index entries held in memory".into(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(n: u32, stamp_ms: i64, kind: EntryKind, block: u32, ordinal: u32) -> IndexEntry {
        IndexEntry {
            id: RecordId::parse(&format!("003{n:015}")).unwrap(),
            stamp_ms,
            kind,
            block,
            ordinal,
        }
    }

    fn sorted(log: &mut EntryLog) -> Vec<IndexEntry> {
        let mut out = Vec::new();
        log.sort()
            .unwrap()
            .for_each(|e| out.push(e.clone()))
            .unwrap();
        out
    }

    #[test]
    fn zigzag_round_trips_the_extremes() {
        for v in [0, 1, -1, i64::MAX, i64::MIN, 1_700_000_000_000] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn an_empty_log_sorts_to_nothing() {
        let mut log = EntryLog::default();
        let sorted = log.sort().unwrap();
        assert_eq!(sorted.len(), 0);
        sorted.for_each(|_| panic!("an entry")).unwrap();
    }

    #[test]
    fn entries_take_a_fraction_of_their_struct_size() {
        // Ids handed out in order, stamps a few seconds apart, 2,000 records a block: what a
        // read of one object looks like.
        let mut log = EntryLog::default();
        let n = 100_000u32;
        for i in 0..n {
            log.push(entry(
                i * 3,
                1_700_000_000_000 + i64::from(i) * 4321,
                EntryKind::Version,
                i / 2000,
                i % 2000,
            ));
        }
        let held: usize = log.runs.iter().map(|r| r.bytes.len()).sum::<usize>()
            + log.pending.capacity() * std::mem::size_of::<IndexEntry>();
        let structs = n as usize * std::mem::size_of::<IndexEntry>();
        assert!(
            held * 3 < structs,
            "{held} bytes held for {structs} of structs"
        );
        assert_eq!(log.sort().unwrap().len(), n as usize);
    }

    #[test]
    fn the_first_of_repeated_keys_is_kept_across_and_within_chunks() {
        let mut log = EntryLog::default();
        log.push(entry(7, 10, EntryKind::Version, 0, 1));
        log.push(entry(7, 10, EntryKind::Version, 0, 2));
        for i in 0..CHUNK as u32 {
            log.push(entry(1000 + i, 5, EntryKind::Version, 1, i));
        }
        // In a later chunk.
        log.push(entry(7, 10, EntryKind::Deleted, 3, 9));
        let all = sorted(&mut log);
        assert_eq!(all.len(), CHUNK + 1);
        assert_eq!(all[0], entry(7, 10, EntryKind::Version, 0, 1));
    }

    proptest! {
        /// Whatever is pushed, in whatever order, comes back sorted by (Id, stamp) with each
        /// key once, the first pushed of it, and every field intact.
        #[test]
        fn sorting_keeps_every_key_once_with_its_first_entry(
            pushed in prop::collection::vec(
                (0u32..3000, -3i64..3, 0u8..3, 0u32..50, 0u32..5000),
                0..3 * CHUNK,
            ),
            extreme in any::<bool>(),
        ) {
            // Stamps far apart make differences that wrap.
            let scale = if extreme { i64::MAX / 4 } else { 1_000 };
            let entries: Vec<IndexEntry> = pushed
                .iter()
                .map(|&(id, stamp, kind, block, ordinal)| {
                    let kind = EntryKind::from_byte(kind).unwrap();
                    entry(id, stamp * scale, kind, block, ordinal)
                })
                .collect();
            let mut log = EntryLog::default();
            for e in &entries {
                log.push(e.clone());
            }
            let mut seen = std::collections::HashSet::new();
            let mut expected: Vec<IndexEntry> = entries
                .iter()
                .filter(|e| seen.insert((e.id, e.stamp_ms)))
                .cloned()
                .collect();
            expected.sort_by(IndexEntry::key_cmp);
            prop_assert_eq!(sorted(&mut log), expected.clone());
            // Sorting again gives the same.
            prop_assert_eq!(sorted(&mut log), expected);
        }
    }
}
