//! A record block's content (`repository.md` §4.2: the line form or the column form) from
//! arbitrary bytes, through `pack::block_lines` and `pack::block_line`. Never panics. Accepted
//! content gives the same line whether read whole or by ordinal, and those lines written again
//! by a `PackBuilder` (which picks the form itself) read back unchanged.
#![no_main]

use coffer_compress::{Compressor, Decompressor, DictionarySet, Level, Limits, compress};
use coffer_engine::repo::pack::{BlockWorkspace, PackBuilder, block_line, block_lines};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let block = compress(data, Level::DEFAULT).expect("compressing a small input works");
    let none = DictionarySet::new();
    let mut decompressor = Decompressor::new(Limits::new(1 << 24)).expect("limits are valid");
    let whole = block_lines(&block, &mut decompressor, &none);
    let first = block_line(&block, 0, &mut decompressor, &none);
    let Ok(lines) = whole else {
        return;
    };
    // The whole read can refuse (its size guard) what a point read gives, not the reverse.
    let count = lines.len();
    for (i, line) in lines.iter().enumerate().take(64) {
        let one = block_line(&block, i, &mut decompressor, &none).expect("a listed line reads");
        assert_eq!(one.as_ref(), Ok(line));
    }
    assert_eq!(
        block_line(&block, count, &mut decompressor, &none).expect("content that parsed"),
        Err(count)
    );
    assert!(first.is_ok());

    // Lines with a raw newline or empty ones are refused by the builder: a line-form block
    // can carry neither, so only a column-form block gives them back.
    if lines.iter().any(|l| l.is_empty() || l.contains(&b'\n')) {
        return;
    }
    let mut workspace =
        BlockWorkspace::new(Compressor::new(Level::DEFAULT).expect("the default level is valid"));
    let mut builder = PackBuilder::new();
    let info = builder
        .push_block("Fuzz", &lines, &mut workspace)
        .expect("lines that read back are written again");
    let (plaintext, _) = builder.finish().expect("a pack of one block finishes");
    let rewritten = &plaintext[info.offset as usize..][..info.length as usize];
    let again = block_lines(rewritten, &mut decompressor, &none).expect("rewritten lines read");
    assert_eq!(again, lines);
});
