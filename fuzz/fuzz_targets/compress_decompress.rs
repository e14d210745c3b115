//! Arbitrary bytes through every decoder of coffer-compress, with tight limits and an empty
//! dictionary set: never panics, never returns more than the limit, and the block and stream
//! decoders agree on what they both accept.
#![no_main]

use coffer_compress::{Decompressor, DictionarySet, Limits, decompress_stream, inspect};
use libfuzzer_sys::fuzz_target;

const MAX_OUTPUT: u64 = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::new(MAX_OUTPUT).with_max_ratio(1000);
    let none = DictionarySet::new();
    let info = inspect(data);
    let block = Decompressor::new(limits)
        .ok()
        .map(|mut d| d.decompress(data, &none));
    if let Some(Ok(output)) = &block {
        assert!(output.len() as u64 <= MAX_OUTPUT);
        let info = info.expect("a block that decodes has a valid header");
        assert_eq!(info.decompressed_size, output.len() as u64);
    }
    let mut streamed = Vec::new();
    let stream = decompress_stream(data, &mut streamed, &limits);
    assert!(streamed.len() as u64 <= MAX_OUTPUT);
    if let (Some(Ok(output)), Ok(written)) = (&block, &stream) {
        assert_eq!(*written, output.len() as u64);
        assert_eq!(&streamed, output);
    }
});
