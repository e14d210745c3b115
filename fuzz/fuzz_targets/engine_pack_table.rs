//! A pack's plaintext footer and JSON block table (`repository.md` §4.2, `pack::parse_table`)
//! from arbitrary bytes. Never panics. An accepted table tiles the bytes before it: every block
//! is non-empty and holds a record, the first starts at 0, each starts where the previous one
//! ends, and the last ends where the table starts. The table survives a JSON round trip: the
//! same blocks with the table re-encoded parse to the same list. Block contents are not
//! decoded here (their encoding is `pack::block_lines`' business).
#![no_main]

use coffer_engine::repo::pack::{BlockInfo, parse_table};
use libfuzzer_sys::fuzz_target;

/// Table length (u32be), magic, version.
const FOOTER_LEN: usize = 9;

fuzz_target!(|data: &[u8]| {
    let Ok(blocks) = parse_table(data) else {
        return;
    };
    let footer = &data[data.len() - FOOTER_LEN..];
    assert_eq!(&footer[4..8], b"CFPK");
    let table_len = u32::from_be_bytes([footer[0], footer[1], footer[2], footer[3]]) as usize;
    let table_start = data.len() - FOOTER_LEN - table_len;
    let mut next = 0u64;
    for block in &blocks {
        assert_eq!(block.offset, next);
        assert!(block.length > 0 && block.records > 0);
        next += u64::from(block.length);
    }
    assert_eq!(next, table_start as u64);

    // The same blocks under a table re-encoded from what was parsed (the footer's version byte
    // kept as it was, so this target follows the pack version).
    let table = serde_json::to_vec(&serde_json::json!({ "blocks": blocks }))
        .expect("a parsed table serializes");
    let mut rebuilt = data[..table_start].to_vec();
    rebuilt.extend_from_slice(&table);
    let rebuilt_len = u32::try_from(table.len()).expect("a re-encoded table fits in a u32");
    rebuilt.extend_from_slice(&rebuilt_len.to_be_bytes());
    rebuilt.extend_from_slice(&footer[4..]);
    let again: Vec<BlockInfo> = parse_table(&rebuilt).expect("a re-encoded table parses");
    assert_eq!(again, blocks);
});
