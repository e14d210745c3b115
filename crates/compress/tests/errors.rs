#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Bad input gives typed errors: corrupted and truncated frames, wrong or missing dictionaries,
//! unknown markers, frames outside the format, and decompression bombs (refused before the
//! output is allocated).

mod common;

use std::sync::Arc;

use coffer_compress::{
    Compressor, Decompressor, DictionarySet, Error, Level, Limits, compress, decompress,
    decompress_stream, dict,
};
use common::json_records;

const LIMITS: Limits = Limits::new(64 << 20);

fn records_block() -> (Vec<u8>, Vec<u8>) {
    let input = json_records(60, 4).join("\n").into_bytes();
    let block = compress(&input, Level::DEFAULT).unwrap();
    (input, block)
}

#[test]
fn every_single_byte_corruption_is_detected() {
    let (input, block) = records_block();
    let none = DictionarySet::new();
    let mut decompressor = Decompressor::new(LIMITS).unwrap();
    let mut detected = 0;
    for position in 0..block.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = block.clone();
            bad[position] ^= flip;
            match decompressor.decompress(&bad, &none) {
                // Turned into a stored block: stored blocks carry no checksum by design (the
                // envelope around every block authenticates it).
                Ok(output) if bad[0] == 0x00 => assert_eq!(output, &bad[1..]),
                // A flip in a bit the decoder ignores (e.g. the unused window descriptor of a
                // single-segment frame) may still decode: then it must decode to the original.
                Ok(output) => assert_eq!(output, input, "byte {position} ^ {flip:#x}"),
                Err(
                    Error::Corrupt(_)
                    | Error::Malformed(_)
                    | Error::UnknownMarker(_)
                    | Error::OutputTooLarge { .. },
                ) => detected += 1,
                Err(other) => panic!("byte {position} ^ {flip:#x}: unexpected {other:?}"),
            }
        }
    }
    assert!(
        detected >= 3 * block.len() - 8,
        "{detected} of {}",
        3 * block.len()
    );
}

#[test]
fn checksum_catches_a_flipped_literal() {
    // Repetitive text (so zstd keeps the frame) then noise, which zstd stores as raw literals:
    // a flipped literal still decodes, and only the content checksum notices.
    let noise = common::random_bytes(400, 3);
    let mut input = b"renewal quote ".repeat(150);
    input.extend_from_slice(&noise);
    let block = compress(&input, Level::new(1).unwrap()).unwrap();
    assert_eq!(block[0], 0x01, "expected a zstd block");
    let at = block
        .windows(16)
        .position(|w| w == &noise[100..116])
        .expect("noise stored verbatim as literals");
    let mut bad = block.clone();
    bad[at + 3] ^= 0x01;
    let error = decompress(&bad, &LIMITS, &DictionarySet::new()).unwrap_err();
    assert!(
        matches!(error, Error::Corrupt(m) if m.contains("checksum")),
        "{error:?}"
    );
}

#[test]
fn truncated_and_extended_blocks_are_malformed() {
    let (_, block) = records_block();
    let none = DictionarySet::new();
    for len in [0, 1, 3, 5, 8, block.len() / 2, block.len() - 1] {
        let error = decompress(&block[..len], &LIMITS, &none).unwrap_err();
        assert!(matches!(error, Error::Malformed(_)), "len {len}: {error:?}");
    }
    let mut extended = block.clone();
    extended.push(0);
    assert!(matches!(
        decompress(&extended, &LIMITS, &none),
        Err(Error::Malformed(_))
    ));
    // Two frames back to back are not one block.
    let mut doubled = block.clone();
    doubled.extend_from_slice(&block[1..]);
    assert!(matches!(
        decompress(&doubled, &LIMITS, &none),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn unknown_markers_are_refused() {
    let (_, block) = records_block();
    for marker in [0x03u8, 0x10, 0x7f, 0xff] {
        let mut bad = block.clone();
        bad[0] = marker;
        assert!(matches!(
            decompress(&bad, &LIMITS, &DictionarySet::new()),
            Err(Error::UnknownMarker(m)) if m == marker
        ));
    }
}

#[test]
fn frames_outside_the_format_are_refused() {
    let input = json_records(40, 9).join("\n").into_bytes();
    // A frame without checksum.
    let mut no_checksum = vec![0x01];
    let mut encoder = zstd::bulk::Compressor::new(3).unwrap();
    encoder.include_checksum(false).unwrap();
    no_checksum.extend(encoder.compress(&input).unwrap());
    assert!(matches!(
        decompress(&no_checksum, &LIMITS, &DictionarySet::new()),
        Err(Error::Malformed("frame has no content checksum"))
    ));
    // A frame without declared size (streaming encoder, no pledged size).
    let mut no_size = vec![0x01];
    let mut stream = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    stream.include_checksum(true).unwrap();
    std::io::Write::write_all(&mut stream, &input).unwrap();
    no_size.extend(stream.finish().unwrap());
    assert!(matches!(
        decompress(&no_size, &LIMITS, &DictionarySet::new()),
        Err(Error::Malformed("frame does not declare its size"))
    ));
    // A skippable frame and a legacy-format magic.
    for payload in [
        &b"\x50\x2a\x4d\x18\x04\0\0\0abcd"[..],
        &b"\x27\xb5\x2f\xfd\0\0\0\0"[..],
    ] {
        let mut block = vec![0x01];
        block.extend_from_slice(payload);
        assert!(matches!(
            decompress(&block, &LIMITS, &DictionarySet::new()),
            Err(Error::Malformed("payload is not a standard zstd frame"))
        ));
    }
}

/// A hand-built frame that declares `size` bytes of content: one RLE block producing one byte.
fn frame_declaring(size: u64) -> Vec<u8> {
    let mut frame = vec![0x01, 0x28, 0xb5, 0x2f, 0xfd];
    // Descriptor: 8-byte content size, single segment, checksum; no dictionary id.
    frame.push(0b1110_0100);
    frame.extend_from_slice(&size.to_le_bytes());
    // Last block, type RLE, regenerated size 1, then the byte.
    frame.extend_from_slice(&[0b0000_1011, 0, 0, b'A']);
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame
}

#[test]
fn bombs_are_refused_before_allocation() {
    // 2^60 bytes could never be allocated: reaching the allocator would abort the test.
    let bomb = frame_declaring(1 << 60);
    let error = decompress(&bomb, &Limits::new(1 << 30), &DictionarySet::new()).unwrap_err();
    assert!(
        matches!(error, Error::OutputTooLarge { size, limit } if size == 1 << 60 && limit == 1 << 30),
        "{error:?}"
    );
    // Even with an absurd limit the failure is an error, not an abort.
    let error = decompress(&bomb, &Limits::new(u64::MAX), &DictionarySet::new()).unwrap_err();
    assert!(
        matches!(error, Error::Allocation { .. } | Error::Corrupt(_)),
        "{error:?}"
    );

    // A real bomb: 256 MiB of zeros compress to a few KiB.
    let zeros = vec![0u8; 256 << 20];
    let block = compress(&zeros, Level::DEFAULT).unwrap();
    assert!(block.len() < 64 * 1024);
    drop(zeros);
    let small = Limits::new(16 << 20);
    assert!(matches!(
        decompress(&block, &small, &DictionarySet::new()),
        Err(Error::OutputTooLarge { .. })
    ));
    let by_ratio = Limits::new(1 << 30).with_max_ratio(1000);
    assert!(matches!(
        decompress(&block, &by_ratio, &DictionarySet::new()),
        Err(Error::RatioExceeded { limit: 1000, .. })
    ));
    // As a stream: refused from the declared size, nothing written.
    let mut out = Vec::new();
    assert!(matches!(
        decompress_stream(block.as_slice(), &mut out, &small),
        Err(Error::OutputTooLarge { .. })
    ));
    assert!(out.is_empty());
}

#[test]
fn stream_bombs_without_declared_size_stop_at_the_limit() {
    let zeros = vec![0u8; 8 << 20];
    let mut stored = Vec::new();
    coffer_compress::compress_stream(zeros.as_slice(), &mut stored, Level::DEFAULT, None).unwrap();
    let limit = 1 << 20;
    let mut out = Vec::new();
    let error = decompress_stream(stored.as_slice(), &mut out, &Limits::new(limit)).unwrap_err();
    assert!(matches!(error, Error::OutputTooLarge { .. }), "{error:?}");
    assert!(
        out.len() as u64 <= limit + 256 * 1024,
        "wrote {} bytes",
        out.len()
    );
    // Ratio limits apply to streams too.
    let mut out = Vec::new();
    let ratio = Limits::new(1 << 30).with_max_ratio(50);
    assert!(matches!(
        decompress_stream(stored.as_slice(), &mut out, &ratio),
        Err(Error::RatioExceeded { .. })
    ));
    // A stored stream longer than the limit stops at the limit.
    let mut raw = vec![0x00];
    raw.extend(common::random_bytes(5000, 1));
    let mut out = Vec::new();
    assert!(matches!(
        decompress_stream(raw.as_slice(), &mut out, &Limits::new(4096)),
        Err(Error::OutputTooLarge { .. })
    ));
    assert_eq!(out.len(), 4096);
}

#[test]
fn corrupted_streams_give_typed_errors() {
    let input = json_records(3000, 6).join("\n").into_bytes();
    let mut stored = Vec::new();
    coffer_compress::compress_stream(input.as_slice(), &mut stored, Level::DEFAULT, None).unwrap();
    let mut truncated = Vec::new();
    assert!(matches!(
        decompress_stream(&stored[..stored.len() - 10], &mut truncated, &LIMITS),
        Err(Error::Malformed("truncated frame"))
    ));
    let mut bad = stored.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x55;
    let mut out = Vec::new();
    assert!(matches!(
        decompress_stream(bad.as_slice(), &mut out, &LIMITS),
        Err(Error::Corrupt(_))
    ));
    let mut trailing = stored.clone();
    trailing.push(7);
    let mut out = Vec::new();
    assert!(matches!(
        decompress_stream(trailing.as_slice(), &mut out, &LIMITS),
        Err(Error::Malformed("trailing bytes after the frame"))
    ));
    let mut out = Vec::new();
    assert!(matches!(
        decompress_stream(&[][..], &mut out, &LIMITS),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn wrong_and_missing_dictionaries_are_typed_errors() {
    let first = Arc::new(dict::from_samples(&json_records(2000, 1), 8 * 1024).unwrap());
    let second = Arc::new(dict::from_samples(&json_records(2000, 2), 8 * 1024).unwrap());
    assert_ne!(first.zstd_id(), second.zstd_id());
    let input = json_records(20, 50).join("\n").into_bytes();
    let block = Compressor::with_dictionary(Level::DEFAULT, first.clone())
        .unwrap()
        .compress(&input)
        .unwrap();

    // Missing: the set does not hold the named dictionary.
    let only_second: DictionarySet = [second.clone()].into_iter().collect();
    assert!(matches!(
        decompress(&block, &LIMITS, &only_second),
        Err(Error::DictionaryMissing(id)) if id == first.id()
    ));
    // Wrong: the block is re-labelled to name the other dictionary.
    let mut relabelled = block.clone();
    relabelled[1..33].copy_from_slice(second.id().as_bytes());
    assert!(matches!(
        decompress(&relabelled, &LIMITS, &only_second),
        Err(Error::DictionaryMismatch(id)) if id == second.id()
    ));
    // A dictionary frame presented as a plain zstd block.
    let mut plain = vec![0x01];
    plain.extend_from_slice(&block[33..]);
    assert!(matches!(
        decompress(&plain, &LIMITS, &only_second),
        Err(Error::Malformed(_))
    ));
    // Dictionary blocks are not streams.
    let mut out = Vec::new();
    assert!(matches!(
        decompress_stream(block.as_slice(), &mut out, &LIMITS),
        Err(Error::Malformed(_))
    ));
    // And the right set decodes it.
    let both: DictionarySet = [first, second].into_iter().collect();
    assert_eq!(decompress(&block, &LIMITS, &both).unwrap(), input);
}

#[test]
fn invalid_dictionaries_and_training_failures_are_typed() {
    assert!(matches!(
        coffer_compress::Dictionary::from_bytes(&[]),
        Err(Error::InvalidDictionary(_))
    ));
    assert!(matches!(
        coffer_compress::Dictionary::from_bytes(&[2, 0x37, 0xa4, 0x30, 0xec]),
        Err(Error::InvalidDictionary("unknown serialized version"))
    ));
    assert!(matches!(
        coffer_compress::Dictionary::from_bytes(b"\x01not a dictionary"),
        Err(Error::InvalidDictionary(_))
    ));
    let mut truncated = dict::from_samples(&json_records(2000, 1), 8 * 1024)
        .unwrap()
        .to_bytes();
    truncated.truncate(40);
    assert!(matches!(
        coffer_compress::Dictionary::from_bytes(&truncated),
        Err(Error::InvalidDictionary(_))
    ));
    let too_few = ["a", "b"];
    assert!(matches!(
        dict::from_samples(&too_few, 8 * 1024),
        Err(Error::Training(_))
    ));
}
