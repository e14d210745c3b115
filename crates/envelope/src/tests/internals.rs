//! Structural properties that need the crate's internals.

use std::io::{BufRead, Read, Write};

use crate::header::Header;
use crate::kdf::derive;
use crate::seal::{Sealer, seal_with_salt};
use crate::segment::{Geometry, nonce};
use crate::suite::{Suite, TAG_LEN};
use crate::{Config, DataKey, Opener, open};

fn key() -> DataKey {
    DataKey::from_slice(&[7; 32]).unwrap()
}

#[test]
fn nonce_is_an_88_bit_big_endian_counter_then_the_final_flag() {
    assert_eq!(nonce(0, false), [0; 12]);
    assert_eq!(nonce(1, true), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    assert_eq!(
        nonce(0x0102_0304_0506_0708, false),
        [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
    );
    assert_eq!(
        nonce(u64::MAX, true)[3..],
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]
    );
}

#[test]
fn only_canonical_payload_lengths_have_a_plaintext_length() {
    for segment in [16_u32, 17, 64] {
        let geometry = Geometry::new(segment);
        let sealed = u64::from(segment) + TAG_LEN as u64;
        let mut canonical = std::collections::BTreeMap::new();
        for plaintext_len in 0..=6 * u64::from(segment) {
            let payload_len = geometry.payload_len(plaintext_len).unwrap();
            assert!(canonical.insert(payload_len, plaintext_len).is_none());
        }
        for payload_len in 0..=6 * sealed {
            match canonical.get(&payload_len) {
                Some(&plaintext_len) => {
                    assert_eq!(geometry.plaintext_len(payload_len).unwrap(), plaintext_len);
                }
                None => assert!(
                    geometry.plaintext_len(payload_len).is_err(),
                    "{payload_len}"
                ),
            }
        }
    }
}

#[test]
fn streaming_seal_writes_the_same_bytes_as_buffer_seal() {
    let config = Config::new().with_segment_size(16).unwrap();
    let plaintext: Vec<u8> = (0..200_u8).collect();
    for len in [0, 1, 15, 16, 17, 32, 33, 200] {
        let expected =
            seal_with_salt(&config, &key(), b"ref", b"ctx", [3; 32], &plaintext[..len]).unwrap();
        // Feed the writer in uneven pieces, including empty writes.
        for piece in [1, 5, 16, 40] {
            let mut sealer =
                Sealer::with_salt(&config, &key(), b"ref", b"ctx", [3; 32], Vec::new()).unwrap();
            for chunk in plaintext[..len].chunks(piece) {
                sealer.write_all(chunk).unwrap();
                sealer.write_all(&[]).unwrap();
            }
            assert_eq!(
                sealer.finish().unwrap(),
                expected,
                "len {len}, piece {piece}"
            );
        }
    }
}

#[test]
fn streaming_buffers_never_grow_with_the_object() {
    // 16 MiB through one 64 KiB-segment sealer and opener: their buffers keep the capacity
    // they were created with, which is why memory does not depend on the object size.
    let config = Config::new();
    let block = vec![0xa5_u8; 1 << 16];
    let mut sealer = config.sealer(&key(), b"", b"", Vec::new()).unwrap();
    let sealer_capacity = sealer.buffer_capacity();
    assert_eq!(sealer_capacity, (1 << 16) + TAG_LEN);
    for _ in 0..256 {
        sealer.write_all(&block).unwrap();
        assert_eq!(sealer.buffer_capacity(), sealer_capacity);
    }
    let envelope = sealer.finish().unwrap();

    let mut opener = Opener::new(&key(), b"", envelope.as_slice()).unwrap();
    let opener_capacity = opener.buffer_capacity();
    assert_eq!(opener_capacity, (1 << 16) + TAG_LEN + 1);
    let mut total = 0;
    loop {
        let available = opener.fill_buf().unwrap();
        if available.is_empty() {
            break;
        }
        assert!(available.iter().all(|&b| b == 0xa5));
        let n = available.len();
        total += n;
        opener.consume(n);
        assert_eq!(opener.buffer_capacity(), opener_capacity);
    }
    assert_eq!(total, 256 << 16);
}

#[test]
fn payload_key_ignores_the_key_reference_but_the_commitment_covers_it() {
    let a = Header::unsealed(Suite::Aes256Gcm, 64, b"kek-v1:wrapped", [9; 32]).unwrap();
    let b = Header::unsealed(Suite::Aes256Gcm, 64, b"kek-v2:rewrapped", [9; 32]).unwrap();
    let (da, db) = (
        derive(&key(), &a, b"ctx").unwrap(),
        derive(&key(), &b, b"ctx").unwrap(),
    );
    assert_eq!(*da.payload_key, *db.payload_key);
    assert_ne!(da.commitment, db.commitment);

    // Everything else the payload key is bound to changes it.
    let other_suite = Header::unsealed(Suite::ChaCha20Poly1305, 64, b"kek-v1:wrapped", [9; 32]);
    let other_segment = Header::unsealed(Suite::Aes256Gcm, 65, b"kek-v1:wrapped", [9; 32]);
    let other_salt = Header::unsealed(Suite::Aes256Gcm, 64, b"kek-v1:wrapped", [8; 32]);
    for header in [other_suite, other_segment, other_salt] {
        let derived = derive(&key(), &header.unwrap(), b"ctx").unwrap();
        assert_ne!(*derived.payload_key, *da.payload_key);
        assert_ne!(derived.commitment, da.commitment);
    }
    let other_context = derive(&key(), &a, b"ctx2").unwrap();
    assert_ne!(*other_context.payload_key, *da.payload_key);
    assert_ne!(other_context.commitment, da.commitment);
}

#[test]
fn replacing_the_key_ref_keeps_the_payload_and_needs_the_key() {
    let config = Config::new().with_segment_size(32).unwrap();
    let plaintext = vec![0x42_u8; 100];
    let envelope = seal_with_salt(&config, &key(), b"kek-v1", b"ctx", [1; 32], &plaintext).unwrap();
    let old = Header::parse(&envelope).unwrap();
    let new = old
        .replace_key_ref(&key(), b"ctx", b"kek-v2:longer")
        .unwrap();
    let mut rewrapped = new.to_bytes();
    rewrapped.extend_from_slice(&envelope[old.encoded_len()..]);
    assert_eq!(open(&key(), b"ctx", &rewrapped).unwrap(), plaintext);
    assert_eq!(
        Header::parse(&rewrapped).unwrap().key_ref(),
        b"kek-v2:longer"
    );

    let other = DataKey::from_slice(&[8; 32]).unwrap();
    assert!(old.replace_key_ref(&other, b"ctx", b"x").is_err());
    assert!(old.replace_key_ref(&key(), b"other ctx", b"x").is_err());
}

#[test]
fn a_failed_opener_stays_failed() {
    let config = Config::new().with_segment_size(16).unwrap();
    let mut envelope = seal_with_salt(&config, &key(), b"", b"", [0; 32], &[1_u8; 48]).unwrap();
    let last = envelope.len() - 1;
    envelope[last] ^= 1;
    let mut opener = Opener::new(&key(), b"", envelope.as_slice()).unwrap();
    let mut out = Vec::new();
    let first = opener.read_to_end(&mut out).unwrap_err();
    assert!(matches!(
        crate::Error::from(first),
        crate::Error::Authentication
    ));
    // The first two segments authenticated and were released; the third never is.
    assert_eq!(out, vec![1_u8; 32]);
    let mut more = [0_u8; 8];
    assert!(opener.read(&mut more).is_err());
    assert!(opener.fill_buf().is_err());
}
