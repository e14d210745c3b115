//! Pack plaintext (`docs/format/repository.md` §4.2): compressed blocks of record lines, then a
//! block table and a fixed footer. Sealing is the repository's business; this module builds and
//! parses the plaintext only.

use coffer_compress::{Compressor, Decompressor, DictionarySet};
use serde::{Deserialize, Serialize};

use super::columns::{self, ColumnEncoder};
use crate::error::{Error, Result};

const FOOTER_MAGIC: &[u8; 4] = b"CFPK";
const VERSION: u8 = 2;
/// Most bytes of record lines a block may give back (a bomb guard: blocks hold ~512 KiB, and
/// earlier writers' up to ~8 MiB).
const MAX_LINES_BYTES: usize = 64 * 1024 * 1024;
/// Footer: table length (u32be), magic, version.
const FOOTER_LEN: usize = 4 + 4 + 1;

/// One block of a pack: records of one object type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockInfo {
    /// The object type of every record in the block.
    pub object: String,
    /// Plaintext offset of the block in the pack.
    pub offset: u64,
    /// Length of the (compressed) block.
    pub length: u32,
    /// Number of record lines in the block.
    pub records: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    blocks: Vec<BlockInfo>,
}

/// Where blocks are compressed: the compressor, and the column encoder and its output (about a
/// block's size each), reused block after block. It belongs to no pack: a run keeps as many as
/// it compresses blocks at once, whichever objects they are of, rather than one per object
/// being written.
#[derive(Debug)]
pub struct BlockWorkspace {
    compressor: Compressor,
    encoder: ColumnEncoder,
    encoded: Vec<u8>,
}

impl BlockWorkspace {
    /// A workspace compressing with `compressor` (which carries a dictionary, if any).
    pub fn new(compressor: Compressor) -> Self {
        Self {
            compressor,
            encoder: ColumnEncoder::default(),
            encoded: Vec::new(),
        }
    }
}

/// Builds one pack's plaintext block by block.
#[derive(Debug, Default)]
pub struct PackBuilder {
    plaintext: Vec<u8>,
    blocks: Vec<BlockInfo>,
    /// Lines joined by [`Self::push_block`].
    scratch: Vec<u8>,
}

impl PackBuilder {
    /// An empty pack.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty pack whose plaintext has room for `capacity` bytes before it is moved to a
    /// larger allocation (each pack after it gets the same room).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            plaintext: Vec::with_capacity(capacity),
            ..Self::default()
        }
    }

    /// Plaintext bytes so far (blocks only).
    pub fn len(&self) -> usize {
        self.plaintext.len()
    }

    /// Whether no block was added.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Appends a block holding `lines` (canonical records, without their newline) of `object`,
    /// compressed in `workspace`.
    pub fn push_block<L: AsRef<[u8]>>(
        &mut self,
        object: &str,
        lines: &[L],
        workspace: &mut BlockWorkspace,
    ) -> Result<BlockInfo> {
        let mut content = std::mem::take(&mut self.scratch);
        content.clear();
        for line in lines {
            let line = line.as_ref();
            if memchr::memchr(b'\n', line).is_some() {
                self.scratch = content;
                return Err(Error::InvalidArgument(
                    "a canonical record cannot contain a raw newline".into(),
                ));
            }
            content.extend_from_slice(line);
            content.push(b'\n');
        }
        let info = self.push_content(object, &content, workspace);
        self.scratch = content;
        info
    }

    /// Appends a block whose content is record lines already joined: each canonical record
    /// followed by `\n`, at least one. The caller has checked that no record holds a raw
    /// newline (here it would read as two records).
    pub fn push_content(
        &mut self,
        object: &str,
        content: &[u8],
        workspace: &mut BlockWorkspace,
    ) -> Result<BlockInfo> {
        if content.is_empty() {
            return Err(Error::InvalidArgument(
                "a block needs at least one record".into(),
            ));
        }
        if content.last() != Some(&b'\n') {
            return Err(Error::InvalidArgument(
                "a block's content must end with a newline".into(),
            ));
        }
        // Lines are what the newlines delimit: a record with a raw newline would become two.
        let records = memchr::memchr_iter(b'\n', content).count();
        if content.starts_with(b"\n") || memchr::memmem::find(content, b"\n\n").is_some() {
            return Err(Error::InvalidArgument(
                "a canonical record cannot be empty or contain a raw newline".into(),
            ));
        }
        let BlockWorkspace {
            compressor,
            encoder,
            encoded,
        } = workspace;
        encoder.encode(content, encoded);
        let offset = self.plaintext.len();
        compressor
            .compress_into(encoded, &mut self.plaintext)
            .map_err(Error::Compress)?;
        let too_big = || Error::InvalidArgument("block larger than 4 GiB".into());
        let info = BlockInfo {
            object: object.to_owned(),
            offset: u64::try_from(offset).map_err(|_| too_big())?,
            length: u32::try_from(self.plaintext.len() - offset).map_err(|_| too_big())?,
            records: u32::try_from(records).map_err(|_| too_big())?,
        };
        self.blocks.push(info.clone());
        Ok(info)
    }

    /// Finishes the pack ([`PackBuilder::finish`]) and leaves this builder empty for the next
    /// one, keeping the buffer of joined lines ([`Self::push_block`]).
    pub fn take_pack(&mut self) -> Result<(Vec<u8>, Vec<BlockInfo>)> {
        let next = PackBuilder {
            plaintext: Vec::with_capacity(self.plaintext.capacity()),
            blocks: Vec::new(),
            scratch: std::mem::take(&mut self.scratch),
        };
        std::mem::replace(self, next).finish()
    }

    /// The finished plaintext (blocks, table, footer) and the block table.
    pub fn finish(mut self) -> Result<(Vec<u8>, Vec<BlockInfo>)> {
        let table = serde_json::to_vec(&Table {
            blocks: self.blocks.clone(),
        })
        .map_err(|e| Error::InvalidArgument(format!("pack table: {e}")))?;
        let table_len = u32::try_from(table.len())
            .map_err(|_| Error::InvalidArgument("pack table larger than 4 GiB".into()))?;
        self.plaintext.extend_from_slice(&table);
        self.plaintext.extend_from_slice(&table_len.to_be_bytes());
        self.plaintext.extend_from_slice(FOOTER_MAGIC);
        self.plaintext.push(VERSION);
        Ok((self.plaintext, self.blocks))
    }
}

/// Parses a whole pack's plaintext: the block table, checked to tile the bytes before it.
pub fn parse_table(plaintext: &[u8]) -> Result<Vec<BlockInfo>> {
    let corrupt = |reason: String| Error::Corrupt {
        what: "pack".into(),
        reason,
    };
    let footer_start = plaintext
        .len()
        .checked_sub(FOOTER_LEN)
        .ok_or_else(|| corrupt("shorter than its footer".into()))?;
    let footer = &plaintext[footer_start..];
    if &footer[4..8] != FOOTER_MAGIC {
        return Err(corrupt("bad footer magic".into()));
    }
    if footer[8] != VERSION {
        return Err(Error::UnsupportedVersion {
            what: "pack",
            version: u32::from(footer[8]),
        });
    }
    let table_len = usize::try_from(u32::from_be_bytes([
        footer[0], footer[1], footer[2], footer[3],
    ]))
    .map_err(|_| corrupt("table length does not fit".into()))?;
    let table_start = footer_start
        .checked_sub(table_len)
        .ok_or_else(|| corrupt("table longer than the pack".into()))?;
    let table: Table = serde_json::from_slice(&plaintext[table_start..footer_start])
        .map_err(|e| corrupt(format!("block table: {e}")))?;
    let mut expected = 0u64;
    for block in &table.blocks {
        if block.offset != expected || block.length == 0 || block.records == 0 {
            return Err(corrupt(format!(
                "block at {} does not follow the previous one (expected {expected})",
                block.offset
            )));
        }
        expected += u64::from(block.length);
    }
    if expected != table_start as u64 {
        return Err(corrupt("blocks do not end where the table starts".into()));
    }
    Ok(table.blocks)
}

/// Decompresses a block and splits it into its record lines (without newlines).
pub fn block_lines(
    block: &[u8],
    decompressor: &mut Decompressor,
    dictionaries: &DictionarySet,
) -> Result<Vec<Vec<u8>>> {
    let content = decompressor
        .decompress(block, dictionaries)
        .map_err(Error::Compress)?;
    columns::lines_of(&content, MAX_LINES_BYTES)
}

/// Decompresses a block and returns its record line `ordinal` (without its newline), or the
/// number of lines when it has no such line: a point read copies one record, not the block.
pub fn block_line(
    block: &[u8],
    ordinal: usize,
    decompressor: &mut Decompressor,
    dictionaries: &DictionarySet,
) -> Result<std::result::Result<Vec<u8>, usize>> {
    let content = decompressor
        .decompress(block, dictionaries)
        .map_err(Error::Compress)?;
    columns::line_of(&content, ordinal)
}

/// [`block_lines`], checked against the number of records the block table gives.
pub fn block_records(
    block: &[u8],
    expected_records: u32,
    decompressor: &mut Decompressor,
    dictionaries: &DictionarySet,
) -> Result<Vec<Vec<u8>>> {
    let lines = block_lines(block, decompressor, dictionaries)?;
    if lines.len() != expected_records as usize {
        return Err(Error::Corrupt {
            what: "block".into(),
            reason: format!(
                "{} records where the table says {expected_records}",
                lines.len()
            ),
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_compress::{Level, Limits};

    fn lines(object: &str, n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!(r#"{{"attributes":{{"type":"{object}"}},"Id":"001{i:015}","N":{i}}}"#))
            .collect()
    }

    #[test]
    fn a_reused_builder_makes_the_packs_fresh_ones_make() {
        let mut workspace = BlockWorkspace::new(Compressor::new(Level::DEFAULT).unwrap());
        let (a, c) = (lines("Account", 40), lines("Contact", 30));
        let mut reused = PackBuilder::new();
        reused.push_block("Account", &a, &mut workspace).unwrap();
        let first = reused.take_pack().unwrap();
        assert_eq!((reused.is_empty(), reused.len()), (true, 0));
        reused.push_block("Contact", &c, &mut workspace).unwrap();
        let second = reused.take_pack().unwrap();
        for (object, records, taken) in [("Account", &a, first), ("Contact", &c, second)] {
            let mut fresh = PackBuilder::new();
            fresh.push_block(object, records, &mut workspace).unwrap();
            assert_eq!(fresh.finish().unwrap(), taken);
        }
    }

    #[test]
    fn blocks_round_trip_through_the_table() {
        let mut workspace = BlockWorkspace::new(Compressor::new(Level::DEFAULT).unwrap());
        let mut builder = PackBuilder::new();
        let a = lines("Account", 50);
        let c = lines("Contact", 20);
        builder.push_block("Account", &a, &mut workspace).unwrap();
        builder.push_block("Contact", &c, &mut workspace).unwrap();
        let (plaintext, blocks) = builder.finish().unwrap();
        assert_eq!(parse_table(&plaintext).unwrap(), blocks);

        let mut decompressor = Decompressor::new(Limits::new(1 << 20)).unwrap();
        let block = &blocks[1];
        let bytes = &plaintext[block.offset as usize..][..block.length as usize];
        let records = block_records(
            bytes,
            block.records,
            &mut decompressor,
            &DictionarySet::new(),
        )
        .unwrap();
        assert_eq!(records[19], c[19].as_bytes());
        // A wrong record count is corruption, not a silent short read.
        assert!(block_records(bytes, 21, &mut decompressor, &DictionarySet::new()).is_err());
        // A point read takes one line; past the end it says how many there are.
        let none = DictionarySet::new();
        for (i, line) in c.iter().enumerate() {
            let got = block_line(bytes, i, &mut decompressor, &none).unwrap();
            assert_eq!(got.unwrap(), line.as_bytes());
        }
        assert_eq!(
            block_line(bytes, 20, &mut decompressor, &none).unwrap(),
            Err(20)
        );
    }

    #[test]
    fn damaged_tables_are_refused() {
        let mut workspace = BlockWorkspace::new(Compressor::new(Level::DEFAULT).unwrap());
        let mut builder = PackBuilder::new();
        builder
            .push_block("Account", &lines("Account", 5), &mut workspace)
            .unwrap();
        let (plaintext, _) = builder.finish().unwrap();
        for cut in 0..FOOTER_LEN + 3 {
            assert!(parse_table(&plaintext[..plaintext.len() - cut - 1]).is_err());
        }
        let mut version = plaintext.clone();
        let last = version.len() - 1;
        version[last] = 9;
        assert!(matches!(
            parse_table(&version),
            Err(Error::UnsupportedVersion { .. })
        ));
        assert!(parse_table(&[]).is_err());
    }

    #[test]
    fn newlines_inside_records_are_refused() {
        let mut workspace = BlockWorkspace::new(Compressor::new(Level::DEFAULT).unwrap());
        let mut builder = PackBuilder::new();
        assert!(builder.push_block("A", &["a\nb"], &mut workspace).is_err());
        assert!(
            builder
                .push_block::<&str>("A", &[], &mut workspace)
                .is_err()
        );
    }
}
