//! Why the key commitment exists, demonstrated: AES-GCM alone is not key-committing. Anyone who
//! knows two keys can build one ciphertext and tag that authenticate under both (Len, Grubbs
//! and Ristenpart, "Partitioning Oracle Attacks", USENIX Security 2021). This test builds such a
//! segment for the payload keys of two data keys, shows the bare suite layer accepts it under
//! both, and shows the envelope accepts it under only the key its commitment names.

use aes::Aes256;
use aes::cipher::{BlockEncrypt, KeyInit};

use crate::header::Header;
use crate::kdf::derive;
use crate::segment::nonce;
use crate::suite::{NONCE_LEN, SegmentCipher, Suite, TAG_LEN};
use crate::{DataKey, Error, open};

/// Multiplication in GF(2^128) with GCM's bit order (NIST SP 800-38D, algorithm 1).
fn gf_mul(x: u128, y: u128) -> u128 {
    const R: u128 = 0xe1 << 120;
    let mut z = 0;
    let mut v = y;
    for i in 0..128 {
        if (x >> (127 - i)) & 1 == 1 {
            z ^= v;
        }
        v = if v & 1 == 1 { (v >> 1) ^ R } else { v >> 1 };
    }
    z
}

/// Multiplicative inverse: x^(2^128 - 2).
fn gf_inv(x: u128) -> u128 {
    let mut result = 1_u128 << 127; // the field's 1 in GCM bit order
    for bit in (0..128).rev() {
        result = gf_mul(result, result);
        if bit != 0 {
            result = gf_mul(result, x);
        }
    }
    result
}

fn aes_block(key: &[u8; 32], block: [u8; 16]) -> u128 {
    let cipher = Aes256::new(key.into());
    let mut block = block.into();
    cipher.encrypt_block(&mut block);
    u128::from_be_bytes(block.into())
}

/// For payload keys `k1` and `k2`, a two-block ciphertext and a tag valid under both for
/// `nonce` and empty associated data.
fn colliding_segment(k1: &[u8; 32], k2: &[u8; 32], nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let mut j0 = [0_u8; 16];
    j0[..NONCE_LEN].copy_from_slice(nonce);
    j0[15] = 1;
    let (h1, h2) = (aes_block(k1, [0; 16]), aes_block(k2, [0; 16]));
    let (s1, s2) = (aes_block(k1, j0), aes_block(k2, j0));
    // GHASH_H(C1 C2) with the length block L = 0^64 || 256 is C1·H³ + C2·H² + L·H; the tags
    // agree iff C1·(H1³ + H2³) = C2·(H1² + H2²) + L·(H1 + H2) + S1 + S2.
    let length_block: u128 = 256;
    let c2: u128 = 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef;
    let cube = |h| gf_mul(h, gf_mul(h, h));
    let square = |h| gf_mul(h, h);
    let rhs = gf_mul(c2, square(h1) ^ square(h2)) ^ gf_mul(length_block, h1 ^ h2) ^ s1 ^ s2;
    let c1 = gf_mul(rhs, gf_inv(cube(h1) ^ cube(h2)));
    let tag = gf_mul(c1, cube(h1)) ^ gf_mul(c2, square(h1)) ^ gf_mul(length_block, h1) ^ s1;

    let mut segment = Vec::with_capacity(32 + TAG_LEN);
    segment.extend_from_slice(&c1.to_be_bytes());
    segment.extend_from_slice(&c2.to_be_bytes());
    segment.extend_from_slice(&tag.to_be_bytes());
    segment
}

fn opens_under(key: &[u8; 32], nonce: &[u8; NONCE_LEN], segment: &[u8]) -> bool {
    let (body, tag) = segment.split_at(segment.len() - TAG_LEN);
    let mut body = body.to_vec();
    SegmentCipher::new(Suite::Aes256Gcm, key)
        .open_in_place(nonce, &[], &mut body, tag.try_into().unwrap())
        .is_ok()
}

#[test]
fn field_arithmetic_is_sound() {
    let one = 1_u128 << 127;
    let x = 0x66e9_4bd4_ef8a_2c3b_884c_fa59_ca34_2b2e;
    assert_eq!(gf_mul(x, one), x);
    assert_eq!(gf_mul(x, gf_inv(x)), one);
}

#[test]
fn a_segment_valid_under_two_keys_opens_under_one_envelope_key_only() {
    let dek1 = DataKey::from_slice(&[0x11; 32]).unwrap();
    let dek2 = DataKey::from_slice(&[0x22; 32]).unwrap();
    let context = b"org=1;path=x;purpose=test";
    let unsealed = Header::unsealed(Suite::Aes256Gcm, 32, b"key-ref", [0x5a; 32]).unwrap();
    let derived1 = derive(&dek1, &unsealed, context).unwrap();
    let derived2 = derive(&dek2, &unsealed, context).unwrap();

    let final_nonce = nonce(0, true);
    let segment = colliding_segment(&derived1.payload_key, &derived2.payload_key, &final_nonce);

    // Bare AES-GCM: one ciphertext, two keys, two valid decryptions.
    assert!(opens_under(&derived1.payload_key, &final_nonce, &segment));
    assert!(opens_under(&derived2.payload_key, &final_nonce, &segment));

    // The envelope: the commitment picks exactly one of them.
    for (derived, right, wrong) in [(&derived1, &dek1, &dek2), (&derived2, &dek2, &dek1)] {
        let mut header = unsealed.clone();
        header.commitment = derived.commitment;
        let mut envelope = header.to_bytes();
        envelope.extend_from_slice(&segment);
        assert!(open(right, context, &envelope).is_ok());
        assert!(matches!(
            open(wrong, context, &envelope),
            Err(Error::Authentication)
        ));
    }
    assert_ne!(derived1.commitment, derived2.commitment);
}
