#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Properties over arbitrary inputs: everything round-trips, random bytes are stored with at
//! most 16 bytes of overhead (in fact 1), and no byte string makes decoding panic.

use std::sync::{Arc, LazyLock};

use coffer_compress::{
    Compressor, Decompressor, Dictionary, DictionarySet, Level, Limits, compress_stream,
    decompress_stream, dict,
};
use proptest::prelude::*;

const LIMITS: Limits = Limits::new(16 << 20);

static DICTIONARY: LazyLock<Arc<Dictionary>> = LazyLock::new(|| {
    let samples: Vec<String> = (0..1500)
        .map(|i| {
            format!(
                r#"{{"Id":"003Dn{i:010}AAE","LastName":"Name{}","Email":"p{}@example.com"}}"#,
                i * 31 % 977,
                i * 17 % 1009
            )
        })
        .collect();
    Arc::new(dict::from_samples(&samples, 8 * 1024).unwrap())
});

/// Bytes with structure (repeats, text) as well as noise.
fn structured_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..5000),
        proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), Just(b' '), any::<u8>()],
            0..20_000
        ),
        ("[a-z ]{0,200}", 1usize..200).prop_map(|(s, n)| s.repeat(n).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_input_round_trips(input in structured_bytes(), level in 1i32..=9) {
        let mut compressor = Compressor::new(Level::new(level).unwrap()).unwrap();
        let block = compressor.compress(&input).unwrap();
        prop_assert!(block.len() <= input.len() + 1);
        let mut decompressor = Decompressor::new(LIMITS).unwrap();
        prop_assert_eq!(decompressor.decompress(&block, &DictionarySet::new()).unwrap(), input);
    }

    #[test]
    fn any_input_round_trips_with_a_dictionary(input in structured_bytes()) {
        let mut compressor = Compressor::with_dictionary(Level::DEFAULT, DICTIONARY.clone()).unwrap();
        let block = compressor.compress(&input).unwrap();
        prop_assert!(block.len() <= input.len() + 1);
        let set: DictionarySet = [DICTIONARY.clone()].into_iter().collect();
        let mut decompressor = Decompressor::new(LIMITS).unwrap();
        prop_assert_eq!(decompressor.decompress(&block, &set).unwrap(), input);
    }

    #[test]
    fn any_input_round_trips_as_a_stream(input in structured_bytes()) {
        let mut stored = Vec::new();
        compress_stream(input.as_slice(), &mut stored, Level::DEFAULT, None).unwrap();
        let mut output = Vec::new();
        decompress_stream(stored.as_slice(), &mut output, &LIMITS).unwrap();
        prop_assert_eq!(output, input);
    }

    #[test]
    fn random_bytes_cost_at_most_16_bytes(input in proptest::collection::vec(any::<u8>(), 0..200_000)) {
        let block = Compressor::new(Level::DEFAULT).unwrap().compress(&input).unwrap();
        prop_assert!(block.len() <= input.len() + 16, "{} -> {}", input.len(), block.len());
    }

    #[test]
    fn arbitrary_blocks_never_panic(block in proptest::collection::vec(any::<u8>(), 0..400), marker in 0u8..4) {
        let mut block = block;
        if let Some(first) = block.first_mut() {
            *first = marker;
        }
        let set: DictionarySet = [DICTIONARY.clone()].into_iter().collect();
        let mut decompressor = Decompressor::new(Limits::new(1 << 20)).unwrap();
        if let Ok(output) = decompressor.decompress(&block, &set) {
            prop_assert!(output.len() <= 1 << 20);
        }
        let mut out = Vec::new();
        if decompress_stream(block.as_slice(), &mut out, &Limits::new(1 << 20)).is_ok() {
            prop_assert!(out.len() <= 1 << 20);
        }
    }

    #[test]
    fn mutated_valid_blocks_decode_to_the_original_or_fail(
        input in structured_bytes(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let block = Compressor::new(Level::DEFAULT).unwrap().compress(&input).unwrap();
        let mut bad = block.clone();
        let at = position.index(bad.len());
        bad[at] ^= flip;
        let mut decompressor = Decompressor::new(LIMITS).unwrap();
        if let Ok(output) = decompressor.decompress(&bad, &DictionarySet::new()) {
            // Only a stored block (no checksum by design) or an ignored header bit can pass.
            if block[0] != 0 {
                prop_assert_eq!(output, input);
            }
        }
    }
}
