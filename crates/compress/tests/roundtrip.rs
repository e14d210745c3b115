#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every input class round-trips through blocks and streams, is stored as-is when it is
//! already compressed, and shrinks when it is not.

mod common;

use std::sync::Arc;

use coffer_compress::{
    Compressor, Decompressor, DictionarySet, Level, Limits, Method, compress_stream, decompress,
    decompress_stream, dict, inspect,
};
use common::{input_classes, json_records};

const LIMITS: Limits = Limits::new(64 << 20);

#[test]
fn every_input_class_round_trips_as_a_block() {
    let mut compressor = Compressor::new(Level::DEFAULT).unwrap();
    let mut decompressor = Decompressor::new(LIMITS).unwrap();
    let none = DictionarySet::new();
    for (name, input) in input_classes() {
        let block = compressor.compress(&input).unwrap();
        assert!(
            block.len() <= input.len() + 1,
            "{name}: {} > {} + 1",
            block.len(),
            input.len()
        );
        let info = inspect(&block).unwrap();
        assert_eq!(info.decompressed_size, input.len() as u64, "{name}");
        assert_eq!(
            decompressor.decompress(&block, &none).unwrap(),
            input,
            "{name}"
        );
        let expected = match name {
            "png" | "jpeg" | "gif" | "webp" | "docx" | "gzip" | "mp4" | "pdf compressed"
            | "random" | "random small" | "empty" | "one byte" | "short text" => Method::Stored,
            _ => Method::Zstd,
        };
        assert_eq!(info.method, expected, "{name}");
        if expected == Method::Zstd {
            // Base64 of random bytes carries 6 bits per byte: at best 75%.
            let bound = if name == "base64" {
                input.len() * 4 / 5
            } else {
                input.len() / 2
            };
            assert!(
                block.len() < bound,
                "{name}: {} of {}",
                block.len(),
                input.len()
            );
        }
    }
}

#[test]
fn every_input_class_round_trips_as_a_stream() {
    for (name, input) in input_classes() {
        for hint in [None, Some(input.len() as u64)] {
            let mut stored = Vec::new();
            let summary =
                compress_stream(input.as_slice(), &mut stored, Level::DEFAULT, hint).unwrap();
            assert_eq!(summary.input_bytes, input.len() as u64);
            assert_eq!(summary.output_bytes, stored.len() as u64);
            assert!(stored.len() <= input.len() + 64, "{name}");
            let mut output = Vec::new();
            let written = decompress_stream(stored.as_slice(), &mut output, &LIMITS).unwrap();
            assert_eq!(written, input.len() as u64);
            assert_eq!(output, input, "{name} hint {hint:?}");
        }
    }
}

#[test]
fn small_streams_are_exactly_blocks() {
    let input = json_records(50, 3).join("\n").into_bytes();
    let mut stored = Vec::new();
    compress_stream(input.as_slice(), &mut stored, Level::DEFAULT, None).unwrap();
    assert_eq!(
        stored,
        coffer_compress::compress(&input, Level::DEFAULT).unwrap()
    );
    assert_eq!(
        decompress(&stored, &LIMITS, &DictionarySet::new()).unwrap(),
        input
    );
}

#[test]
fn large_streams_without_size_hint_decode_and_are_refused_by_blocks() {
    // Bigger than the stream's first chunk: the frame has no declared size.
    let input = json_records(3000, 8).join("\n").into_bytes();
    assert!(input.len() > 256 * 1024);
    let mut stored = Vec::new();
    let summary = compress_stream(input.as_slice(), &mut stored, Level::DEFAULT, None).unwrap();
    assert_eq!(summary.method, Method::Zstd);
    assert!(stored.len() * 3 < input.len());
    let mut output = Vec::new();
    decompress_stream(stored.as_slice(), &mut output, &LIMITS).unwrap();
    assert_eq!(output, input);
    // The block API insists on a declared size.
    assert!(matches!(
        decompress(&stored, &LIMITS, &DictionarySet::new()),
        Err(coffer_compress::Error::Malformed(_))
    ));
    // With the hint the frame declares its size, and the block API accepts it too.
    let mut hinted = Vec::new();
    compress_stream(
        input.as_slice(),
        &mut hinted,
        Level::DEFAULT,
        Some(input.len() as u64),
    )
    .unwrap();
    assert_eq!(
        inspect(&hinted).unwrap().decompressed_size,
        input.len() as u64
    );
    assert_eq!(
        decompress(&hinted, &LIMITS, &DictionarySet::new()).unwrap(),
        input
    );
}

#[test]
fn wrong_size_hint_is_an_error() {
    let input = json_records(20, 1).join("\n").into_bytes();
    let mut out = Vec::new();
    assert!(compress_stream(input.as_slice(), &mut out, Level::DEFAULT, Some(5)).is_err());
    let big = json_records(3000, 1).join("\n").into_bytes();
    let mut out = Vec::new();
    assert!(compress_stream(big.as_slice(), &mut out, Level::DEFAULT, Some(5)).is_err());
}

#[test]
fn large_incompressible_stream_is_stored() {
    let input = common::with_magic(b"\xff\xd8\xff\xe0", 1 << 20, 12);
    let mut stored = Vec::new();
    let summary = compress_stream(input.as_slice(), &mut stored, Level::DEFAULT, None).unwrap();
    assert_eq!(summary.method, Method::Stored);
    assert_eq!(stored.len(), input.len() + 1);
    let mut output = Vec::new();
    decompress_stream(stored.as_slice(), &mut output, &LIMITS).unwrap();
    assert_eq!(output, input);
}

#[test]
fn dictionary_blocks_round_trip_and_beat_plain_zstd_on_small_blocks() {
    let training = json_records(3000, 100);
    let dictionary = Arc::new(dict::from_samples(&training, 16 * 1024).unwrap());
    let dictionaries: DictionarySet = [dictionary.clone()].into_iter().collect();
    let mut with_dict = Compressor::with_dictionary(Level::DEFAULT, dictionary.clone()).unwrap();
    let mut plain = Compressor::new(Level::DEFAULT).unwrap();
    let mut decompressor = Decompressor::new(LIMITS).unwrap();
    // Different records than the training set.
    let records = json_records(400, 999);
    let (mut dict_total, mut plain_total) = (0, 0);
    for chunk in records.chunks(8) {
        let block_input = chunk.join("\n").into_bytes();
        let block = with_dict.compress(&block_input).unwrap();
        let info = inspect(&block).unwrap();
        assert_eq!(info.method, Method::ZstdDictionary);
        assert_eq!(info.dictionary, Some(dictionary.id()));
        assert_eq!(
            decompressor.decompress(&block, &dictionaries).unwrap(),
            block_input
        );
        dict_total += block.len();
        plain_total += plain.compress(&block_input).unwrap().len();
    }
    assert!(
        dict_total * 3 < plain_total * 2,
        "dictionary {dict_total} vs plain {plain_total}"
    );
    // Incompressible content is stored even by a dictionary compressor, and then needs no
    // dictionary to decode.
    let random = common::random_bytes(5000, 4);
    let block = with_dict.compress(&random).unwrap();
    assert_eq!(inspect(&block).unwrap().method, Method::Stored);
    assert_eq!(
        decompress(&block, &LIMITS, &DictionarySet::new()).unwrap(),
        random
    );
}

#[test]
fn dictionaries_serialize_and_keep_their_id() {
    let dictionary = dict::from_samples(&json_records(2000, 1), 8 * 1024).unwrap();
    let bytes = dictionary.to_bytes();
    assert_eq!(bytes[0], 1);
    let again = coffer_compress::Dictionary::from_bytes(&bytes).unwrap();
    assert_eq!(again.id(), dictionary.id());
    assert_eq!(again.zstd_id(), dictionary.zstd_id());
    assert_eq!(again.zstd_bytes(), dictionary.zstd_bytes());
    // The id is the SHA-256 of the serialized form.
    use sha2::Digest;
    let digest: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    assert_eq!(dictionary.id().as_bytes(), &digest);
    assert_eq!(dictionary.id().to_string(), hex::encode(digest));
    // Retraining on other samples gives another dictionary, so blocks name the right one.
    let other = dict::from_samples(&json_records(2000, 2), 8 * 1024).unwrap();
    assert_ne!(other.id(), dictionary.id());
}

#[test]
fn compress_into_appends_after_existing_bytes() {
    let input = json_records(30, 2).join("\n").into_bytes();
    let mut compressor = Compressor::new(Level::new(9).unwrap()).unwrap();
    let mut out = b"prefix".to_vec();
    assert_eq!(
        compressor.compress_into(&input, &mut out).unwrap(),
        Method::Zstd
    );
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(
        decompress(&out[6..], &LIMITS, &DictionarySet::new()).unwrap(),
        input
    );
    let mut reused = Vec::with_capacity(1);
    let mut decompressor = Decompressor::new(LIMITS).unwrap();
    decompressor
        .decompress_into(&out[6..], &DictionarySet::new(), &mut reused)
        .unwrap();
    assert_eq!(reused, input);
}

#[test]
fn levels_are_validated() {
    assert!(Level::new(0).is_err());
    assert!(Level::new(23).is_err());
    assert_eq!(Level::new(22).unwrap().get(), 22);
    assert_eq!(Level::default(), Level::DEFAULT);
    assert_eq!(Level::DEFAULT.get(), 3);
}
