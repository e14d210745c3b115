//! Round trips for every length up to three segments and one byte, and rejection of every
//! single-bit flip, truncation, extension, reordering, duplication, wrong key and wrong context,
//! through all three openers (whole buffer, streaming, range).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Read, Write};

use coffer_envelope::{
    Config, DataKey, Error, Header, Opener, SEGMENT_OVERHEAD, Suite, open, open_range, sealed_len,
};
use proptest::prelude::*;

fn key(byte: u8) -> DataKey {
    DataKey::from_slice(&[byte; 32]).unwrap()
}

fn data(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

fn config(suite: Suite, segment_size: u32) -> Config {
    Config::new()
        .with_suite(suite)
        .with_segment_size(segment_size)
        .unwrap()
}

fn seal_streaming(
    config: &Config,
    key: &DataKey,
    ctx: &[u8],
    plaintext: &[u8],
    piece: usize,
) -> Vec<u8> {
    let mut sealer = config.sealer(key, b"key-ref", ctx, Vec::new()).unwrap();
    for chunk in plaintext.chunks(piece.max(1)) {
        sealer.write_all(chunk).unwrap();
    }
    sealer.finish().unwrap()
}

fn open_streaming(key: &DataKey, ctx: &[u8], envelope: &[u8]) -> Result<Vec<u8>, Error> {
    let mut opener = Opener::new(key, ctx, envelope)?;
    let mut out = Vec::new();
    opener.read_to_end(&mut out)?;
    Ok(out)
}

fn open_whole_range(key: &DataKey, ctx: &[u8], envelope: &[u8]) -> Result<Vec<u8>, Error> {
    let header = Header::parse(envelope)?;
    let len = header.plaintext_len(envelope.len() as u64)?;
    open_range(key, ctx, Cursor::new(envelope), 0..len)
}

/// Opens `envelope` all three ways; all must agree.
fn open_all_ways(key: &DataKey, ctx: &[u8], envelope: &[u8]) -> Result<Vec<u8>, Error> {
    let whole = open(key, ctx, envelope);
    let streamed = open_streaming(key, ctx, envelope);
    let ranged = open_whole_range(key, ctx, envelope);
    match (&whole, &streamed, &ranged) {
        (Ok(a), Ok(b), Ok(c)) => {
            assert_eq!(a, b);
            assert_eq!(a, c);
        }
        (Err(_), Err(_), Err(_)) => {}
        _ => panic!("openers disagree: {whole:?} / {streamed:?} / {ranged:?}"),
    }
    whole
}

fn assert_rejected(key: &DataKey, ctx: &[u8], envelope: &[u8], what: &str) {
    assert!(
        open_all_ways(key, ctx, envelope).is_err(),
        "{what} was accepted"
    );
}

fn assert_unauthentic(key: &DataKey, ctx: &[u8], envelope: &[u8], what: &str) {
    assert!(
        matches!(open(key, ctx, envelope), Err(Error::Authentication)),
        "{what}: expected an authentication failure"
    );
    assert!(
        matches!(
            open_streaming(key, ctx, envelope),
            Err(Error::Authentication)
        ),
        "{what}: expected an authentication failure from the streaming opener"
    );
    assert_rejected(key, ctx, envelope, what);
}

#[test]
fn every_length_up_to_three_segments_and_one_byte_round_trips() {
    for suite in Suite::ALL {
        for segment in [16_u32, 17, 64] {
            let cfg = config(suite, segment);
            let s = segment as usize;
            let plaintext = data(3 * s + 1);
            for len in 0..=3 * s + 1 {
                let pt = &plaintext[..len];
                let envelope = cfg.seal(&key(1), b"key-ref", b"ctx", pt).unwrap();
                assert_eq!(
                    envelope.len() as u64,
                    sealed_len(&cfg, b"key-ref".len(), len as u64).unwrap()
                );
                assert_eq!(open_all_ways(&key(1), b"ctx", &envelope).unwrap(), pt);
                let streamed = seal_streaming(&cfg, &key(1), b"ctx", pt, 7);
                assert_eq!(streamed.len(), envelope.len());
                assert_eq!(open_all_ways(&key(1), b"ctx", &streamed).unwrap(), pt);
            }
        }
    }
}

/// A three-segment envelope (16-byte segments, 40 bytes of plaintext) and its header length.
fn small_envelope(suite: Suite) -> (Vec<u8>, usize) {
    let envelope = config(suite, 16)
        .seal(&key(1), b"key-ref", b"ctx", &data(40))
        .unwrap();
    let header_len = Header::parse(&envelope).unwrap().encoded_len();
    (envelope, header_len)
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for suite in Suite::ALL {
        let (envelope, header_len) = small_envelope(suite);
        for bit in 0..envelope.len() * 8 {
            let mut tampered = envelope.clone();
            tampered[bit / 8] ^= 1 << (bit % 8);
            if bit / 8 >= header_len {
                assert_unauthentic(&key(1), b"ctx", &tampered, &format!("flip of bit {bit}"));
            } else {
                assert_rejected(
                    &key(1),
                    b"ctx",
                    &tampered,
                    &format!("flip of header bit {bit}"),
                );
            }
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    for suite in Suite::ALL {
        let (envelope, header_len) = small_envelope(suite);
        for cut in 0..envelope.len() {
            let truncated = &envelope[..cut];
            if cut >= header_len {
                assert_unauthentic(&key(1), b"ctx", truncated, &format!("cut at {cut}"));
            } else {
                assert_rejected(&key(1), b"ctx", truncated, &format!("cut at {cut}"));
            }
        }
    }
}

fn segments(envelope: &[u8], header_len: usize) -> Vec<Vec<u8>> {
    envelope[header_len..]
        .chunks(16 + SEGMENT_OVERHEAD)
        .map(<[u8]>::to_vec)
        .collect()
}

fn assemble(header: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header.to_vec();
    for segment in segments {
        out.extend_from_slice(segment);
    }
    out
}

#[test]
fn every_reordering_duplication_and_extension_is_rejected() {
    for suite in Suite::ALL {
        let (envelope, header_len) = small_envelope(suite);
        let header = &envelope[..header_len];
        let original = segments(&envelope, header_len);
        assert_eq!(original.len(), 3);

        for i in 0..3 {
            for j in i + 1..3 {
                let mut swapped = original.clone();
                swapped.swap(i, j);
                let what = format!("swap of segments {i} and {j}");
                assert_unauthentic(&key(1), b"ctx", &assemble(header, &swapped), &what);
            }
            for at in 0..=3 {
                let mut duplicated = original.clone();
                duplicated.insert(at, original[i].clone());
                let what = format!("segment {i} duplicated at {at}");
                assert_unauthentic(&key(1), b"ctx", &assemble(header, &duplicated), &what);
            }
            let mut dropped = original.clone();
            dropped.remove(i);
            let what = format!("segment {i} dropped");
            assert_unauthentic(&key(1), b"ctx", &assemble(header, &dropped), &what);
        }
        // Appending any number of bytes, up to a whole extra segment and one more.
        for extra in 1..=16 + SEGMENT_OVERHEAD + 1 {
            let mut extended = envelope.clone();
            extended.extend((0..extra).map(|b| b as u8));
            let what = format!("{extra} bytes appended");
            assert_unauthentic(&key(1), b"ctx", &extended, &what);
        }
    }
}

#[test]
fn wrong_keys_and_contexts_are_rejected() {
    for suite in Suite::ALL {
        let (envelope, _) = small_envelope(suite);
        assert_unauthentic(&key(2), b"ctx", &envelope, "wrong key");
        for ctx in [&b""[..], b"ct", b"ctx\0", b"ctX", b"CTX"] {
            assert_unauthentic(&key(1), ctx, &envelope, "wrong context");
        }
    }
}

#[test]
fn a_sealer_dropped_before_finish_leaves_a_truncated_envelope() {
    let cfg = config(Suite::Aes256Gcm, 16);
    for len in [0, 10, 16, 40] {
        let mut sink = Vec::new();
        {
            let mut sealer = cfg.sealer(&key(1), b"", b"ctx", &mut sink).unwrap();
            sealer.write_all(&data(len)).unwrap();
        }
        assert_rejected(
            &key(1),
            b"ctx",
            &sink,
            &format!("unfinished stream of {len} bytes"),
        );
    }
}

fn suite_strategy() -> impl Strategy<Value = Suite> {
    prop_oneof![Just(Suite::Aes256Gcm), Just(Suite::ChaCha20Poly1305)]
}

/// A segment size, then a plaintext length in 0..=3 segments + 1.
fn shape() -> impl Strategy<Value = (u32, usize)> {
    (16_u32..=300).prop_flat_map(|segment| (Just(segment), 0..=3 * segment as usize + 1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn round_trips_with_random_segment_sizes(
        suite in suite_strategy(),
        (segment, len) in shape(),
        piece in 1_usize..700,
        key_ref in proptest::collection::vec(any::<u8>(), 0..64),
        ctx in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let cfg = config(suite, segment);
        let pt = data(len);
        let envelope = cfg.seal(&key(3), &key_ref, &ctx, &pt).unwrap();
        let header = Header::parse(&envelope).unwrap();
        prop_assert_eq!(header.key_ref(), key_ref.as_slice());
        prop_assert_eq!(open_all_ways(&key(3), &ctx, &envelope).unwrap(), pt.clone());
        let mut sealer = cfg.sealer(&key(3), &key_ref, &ctx, Vec::new()).unwrap();
        for chunk in pt.chunks(piece) {
            sealer.write_all(chunk).unwrap();
        }
        let streamed = sealer.finish().unwrap();
        prop_assert_eq!(open_all_ways(&key(3), &ctx, &streamed).unwrap(), pt);
    }

    #[test]
    fn any_bit_flip_fails(suite in suite_strategy(), (segment, len) in shape(), bit in any::<prop::sample::Index>()) {
        let envelope = config(suite, segment).seal(&key(4), b"r", b"c", &data(len)).unwrap();
        let mut tampered = envelope.clone();
        let bit = bit.index(envelope.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(open_all_ways(&key(4), b"c", &tampered).is_err());
    }

    #[test]
    fn any_truncation_fails(suite in suite_strategy(), (segment, len) in shape(), cut in any::<prop::sample::Index>()) {
        let envelope = config(suite, segment).seal(&key(5), b"r", b"c", &data(len)).unwrap();
        let cut = cut.index(envelope.len());
        prop_assert!(open_all_ways(&key(5), b"c", &envelope[..cut]).is_err());
    }

    #[test]
    fn any_segment_swap_fails(
        suite in suite_strategy(),
        segment in 16_u32..=64,
        extra in 1_usize..=64,
        i in 0_usize..3,
        j in 0_usize..3,
    ) {
        prop_assume!(i != j);
        // Three full segments plus a partial fourth, so all four are distinct.
        let pt = data(3 * segment as usize + extra.min(segment as usize));
        let envelope = config(suite, segment).seal(&key(6), b"r", b"c", &pt).unwrap();
        let header_len = Header::parse(&envelope).unwrap().encoded_len();
        let sealed = segment as usize + SEGMENT_OVERHEAD;
        let mut swapped = envelope.clone();
        let (a, b) = (header_len + i * sealed, header_len + j * sealed);
        let segment_i = envelope[a..a + sealed].to_vec();
        swapped.copy_within(b..b + sealed, a);
        swapped[b..b + sealed].copy_from_slice(&segment_i);
        prop_assert!(matches!(open(&key(6), b"c", &swapped), Err(Error::Authentication)));
        prop_assert!(open_all_ways(&key(6), b"c", &swapped).is_err());
    }

    #[test]
    fn any_other_context_fails(
        suite in suite_strategy(),
        ctx in proptest::collection::vec(any::<u8>(), 0..48),
        other in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        prop_assume!(ctx != other);
        let envelope = config(suite, 32).seal(&key(7), b"r", &ctx, &data(70)).unwrap();
        prop_assert!(matches!(open(&key(7), &other, &envelope), Err(Error::Authentication)));
        prop_assert!(open_all_ways(&key(7), &other, &envelope).is_err());
    }

    #[test]
    fn any_range_opens_to_the_matching_slice(
        suite in suite_strategy(),
        (segment, len) in shape(),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
    ) {
        let pt = data(len);
        let envelope = config(suite, segment).seal(&key(8), b"r", b"c", &pt).unwrap();
        let (a, b) = (a.index(len + 1), b.index(len + 1));
        let (start, end) = (a.min(b), a.max(b));
        let got = open_range(&key(8), b"c", Cursor::new(&envelope), start as u64..end as u64).unwrap();
        prop_assert_eq!(got, pt[start..end].to_vec());
    }
}
