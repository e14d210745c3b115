//! The suite layer (`SegmentCipher`) against published vectors: the GCM specification's
//! AES-256 test cases, RFC 8439, and every applicable Wycheproof case.

use crate::suite::{NONCE_LEN, SegmentCipher, Suite, TAG_LEN};

struct Vector {
    name: &'static str,
    key: &'static str,
    nonce: &'static str,
    aad: &'static str,
    plaintext: &'static str,
    ciphertext: &'static str,
    tag: &'static str,
}

/// AES-256 test cases 13-16 of McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)",
/// Appendix B (the cases with 96-bit IVs; 17 and 18 use other IV lengths, which the envelope
/// never does).
const GCM_SPEC: &[Vector] = &[
    Vector {
        name: "GCM spec test case 13",
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        nonce: "000000000000000000000000",
        aad: "",
        plaintext: "",
        ciphertext: "",
        tag: "530f8afbc74536b9a963b4f1c4cb738b",
    },
    Vector {
        name: "GCM spec test case 14",
        key: "0000000000000000000000000000000000000000000000000000000000000000",
        nonce: "000000000000000000000000",
        aad: "",
        plaintext: "00000000000000000000000000000000",
        ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
        tag: "d0d1c8a799996bf0265b98b5d48ab919",
    },
    Vector {
        name: "GCM spec test case 15",
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        nonce: "cafebabefacedbaddecaf888",
        aad: "",
        plaintext: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                    1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                     8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        tag: "b094dac5d93471bdec1a502270e3cc6c",
    },
    Vector {
        name: "GCM spec test case 16",
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        nonce: "cafebabefacedbaddecaf888",
        aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        plaintext: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                    1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
                     8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        tag: "76fc6ece0f4e1768cddf8853bb2d551b",
    },
];

/// RFC 8439, section 2.8.2.
const RFC_8439: Vector = Vector {
    name: "RFC 8439 2.8.2",
    key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
    nonce: "070000004041424344454647",
    aad: "50515253c0c1c2c3c4c5c6c7",
    plaintext: "4c616469657320616e642047656e746c656d656e206f662074686520636c6173\
                73206f66202739393a204966204920636f756c64206f6666657220796f75206f\
                6e6c79206f6e652074697020666f7220746865206675747572652c2073756e73\
                637265656e20776f756c642062652069742e",
    ciphertext: "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
                 3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
                 92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
                 3ff4def08e4b7a9de576d26586cec64b6116",
    tag: "1ae10b594f09e26a7e902ecbd0600691",
};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn check_known_answer(suite: Suite, v: &Vector) {
    let key: [u8; 32] = unhex(v.key).try_into().unwrap();
    let nonce: [u8; NONCE_LEN] = unhex(v.nonce).try_into().unwrap();
    let aad = unhex(v.aad);
    let cipher = SegmentCipher::new(suite, &key);

    let mut buffer = unhex(v.plaintext);
    let tag = cipher.seal_in_place(&nonce, &aad, &mut buffer).unwrap();
    assert_eq!(hex::encode(&buffer), v.ciphertext, "{} ciphertext", v.name);
    assert_eq!(hex::encode(tag), v.tag, "{} tag", v.name);

    cipher
        .open_in_place(&nonce, &aad, &mut buffer, &tag)
        .unwrap();
    assert_eq!(hex::encode(&buffer), v.plaintext, "{} round trip", v.name);

    let mut bad_tag = tag;
    bad_tag[0] ^= 1;
    let mut buffer = unhex(v.ciphertext);
    assert!(
        cipher
            .open_in_place(&nonce, &aad, &mut buffer, &bad_tag)
            .is_err()
    );
    assert_eq!(
        hex::encode(&buffer),
        v.ciphertext,
        "{}: failure must leave ciphertext",
        v.name
    );
}

#[test]
fn aes_256_gcm_matches_the_gcm_specification() {
    for vector in GCM_SPEC {
        check_known_answer(Suite::Aes256Gcm, vector);
    }
}

#[test]
fn chacha20_poly1305_matches_rfc_8439() {
    check_known_answer(Suite::ChaCha20Poly1305, &RFC_8439);
}

/// Runs every Wycheproof case with a 256-bit key, 96-bit nonce and 128-bit tag (the only shape
/// the envelope uses) through the suite layer; returns how many ran.
fn run_wycheproof(suite: Suite, name: wycheproof::aead::TestName) -> usize {
    let set = wycheproof::aead::TestSet::load(name).unwrap();
    let mut ran = 0;
    for group in set.test_groups {
        if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
            continue;
        }
        for test in group.tests {
            let key: [u8; 32] = test.key.as_slice().try_into().unwrap();
            let nonce: [u8; NONCE_LEN] = test.nonce.as_slice().try_into().unwrap();
            let tag: [u8; TAG_LEN] = test.tag.as_slice().try_into().unwrap();
            let cipher = SegmentCipher::new(suite, &key);
            let id = test.tc_id;

            let mut opened = test.ct.to_vec();
            let open_result = cipher.open_in_place(&nonce, &test.aad, &mut opened, &tag);
            if test.result.must_fail() {
                assert!(
                    open_result.is_err(),
                    "{suite:?} tcId {id}: invalid case opened"
                );
                assert_eq!(
                    opened, *test.ct,
                    "{suite:?} tcId {id}: failure changed the buffer"
                );
            } else {
                assert!(
                    open_result.is_ok(),
                    "{suite:?} tcId {id}: valid case rejected"
                );
                assert_eq!(opened, *test.pt, "{suite:?} tcId {id}: wrong plaintext");

                let mut sealed = test.pt.to_vec();
                let sealed_tag = cipher
                    .seal_in_place(&nonce, &test.aad, &mut sealed)
                    .unwrap();
                assert_eq!(sealed, *test.ct, "{suite:?} tcId {id}: wrong ciphertext");
                assert_eq!(sealed_tag, tag, "{suite:?} tcId {id}: wrong tag");
            }
            ran += 1;
        }
    }
    ran
}

#[test]
fn aes_256_gcm_passes_wycheproof() {
    let ran = run_wycheproof(Suite::Aes256Gcm, wycheproof::aead::TestName::AesGcm);
    // The 0.6 data set has several dozen AES-256 / 96-bit-IV cases; fail if the filter
    // silently matched nothing.
    assert!(ran >= 40, "only {ran} Wycheproof AES-GCM cases ran");
}

#[test]
fn chacha20_poly1305_passes_wycheproof() {
    let ran = run_wycheproof(
        Suite::ChaCha20Poly1305,
        wycheproof::aead::TestName::ChaCha20Poly1305,
    );
    assert!(
        ran >= 200,
        "only {ran} Wycheproof ChaCha20-Poly1305 cases ran"
    );
}

#[test]
fn suite_ids_round_trip_and_unknown_ids_are_rejected() {
    for suite in Suite::ALL {
        assert_eq!(Suite::from_id(suite.id()), Some(suite));
    }
    for id in (0..=u8::MAX).filter(|id| ![1, 2].contains(id)) {
        assert_eq!(Suite::from_id(id), None);
    }
    assert_eq!(Suite::default(), Suite::Aes256Gcm);
}
