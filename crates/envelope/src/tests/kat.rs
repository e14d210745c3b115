//! The committed known-answer vectors, `tests/vectors/envelope_v1.json`.
//!
//! Sealing is randomised by the salt, so the vectors need a fixed one, which only crate-internal
//! code can inject. This test rebuilds the whole file from the inputs below and requires it to
//! equal the committed file byte for byte. Run it once with `COFFER_ENVELOPE_WRITE_VECTORS=1` to
//! rewrite the file after a deliberate format change (which also needs a new format version).
//! `docs/format/envelope_check.py` recomputes every vector independently from the spec.

use serde_json::{Value, json};

use crate::header::Header;
use crate::kdf::derive;
use crate::seal::seal_with_salt;
use crate::suite::Suite;
use crate::{Config, DataKey, Error, open};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/vectors/envelope_v1.json"
);

const CONTEXT: &[u8] = b"org=00D000000000001;path=packs/Account/0001;purpose=pack";
const KEY_REF: &[u8] = b"kek=org-00D000000000001/v3;dek=0001";

fn key_bytes() -> [u8; 32] {
    std::array::from_fn(|i| i as u8) // 00 01 .. 1f
}

fn other_key_bytes() -> [u8; 32] {
    std::array::from_fn(|i| 0x20 + i as u8) // 20 21 .. 3f
}

fn salt() -> [u8; 32] {
    std::array::from_fn(|i| 0xa0 + i as u8) // a0 a1 .. bf
}

struct Valid {
    name: &'static str,
    description: &'static str,
    suite: Suite,
    segment_size: u32,
    key_ref: &'static [u8],
    context: &'static [u8],
    plaintext: Vec<u8>,
}

fn valid_inputs() -> Vec<Valid> {
    vec![
        Valid {
            name: "aes-empty",
            description: "empty plaintext, empty key reference and context: one empty final segment",
            suite: Suite::Aes256Gcm,
            segment_size: 65536,
            key_ref: b"",
            context: b"",
            plaintext: Vec::new(),
        },
        Valid {
            name: "aes-short-default-segments",
            description: "a short plaintext in the default 64 KiB segment size",
            suite: Suite::Aes256Gcm,
            segment_size: 65536,
            key_ref: KEY_REF,
            context: CONTEXT,
            plaintext: b"hello, envelope".to_vec(),
        },
        Valid {
            name: "aes-one-full-segment",
            description: "exactly one segment: the only segment is full and final",
            suite: Suite::Aes256Gcm,
            segment_size: 16,
            key_ref: KEY_REF,
            context: CONTEXT,
            plaintext: (0..16).collect(),
        },
        Valid {
            name: "aes-two-full-segments",
            description: "two full segments: the final segment is full, no empty segment follows",
            suite: Suite::Aes256Gcm,
            segment_size: 16,
            key_ref: KEY_REF,
            context: CONTEXT,
            plaintext: (0..32).collect(),
        },
        Valid {
            name: "aes-three-segments",
            description: "two full segments and a partial final one",
            suite: Suite::Aes256Gcm,
            segment_size: 16,
            key_ref: KEY_REF,
            context: CONTEXT,
            plaintext: (0..40).collect(),
        },
        Valid {
            name: "chacha-empty",
            description: "ChaCha20-Poly1305, empty plaintext",
            suite: Suite::ChaCha20Poly1305,
            segment_size: 32,
            key_ref: KEY_REF,
            context: CONTEXT,
            plaintext: Vec::new(),
        },
        Valid {
            name: "chacha-four-segments",
            description: "ChaCha20-Poly1305, three full segments and a partial final one",
            suite: Suite::ChaCha20Poly1305,
            segment_size: 32,
            key_ref: KEY_REF,
            context: CONTEXT,
            plaintext: (0..100_u32).map(|i| (i * 7) as u8).collect(),
        },
    ]
}

fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::Authentication => "authentication",
        Error::NotAnEnvelope => "not_an_envelope",
        Error::UnsupportedVersion(_) => "unsupported_version",
        Error::UnsupportedSuite(_) => "unsupported_suite",
        Error::MalformedHeader(_) => "malformed_header",
        _ => "other",
    }
}

fn invalid(name: &str, description: &str, key: [u8; 32], context: &[u8], envelope: &[u8]) -> Value {
    let key_value = DataKey::from_slice(&key).unwrap();
    let error = open(&key_value, context, envelope).unwrap_err();
    json!({
        "name": name,
        "description": description,
        "key": hex::encode(key),
        "context": hex::encode(context),
        "envelope": hex::encode(envelope),
        "error": error_kind(&error),
    })
}

fn build() -> Value {
    let key = DataKey::from_slice(&key_bytes()).unwrap();
    let mut valid = Vec::new();
    let mut envelopes = Vec::new();
    for input in valid_inputs() {
        let config = Config::new()
            .with_suite(input.suite)
            .with_segment_size(input.segment_size)
            .unwrap();
        let envelope = seal_with_salt(
            &config,
            &key,
            input.key_ref,
            input.context,
            salt(),
            &input.plaintext,
        )
        .unwrap();
        let header = Header::parse(&envelope).unwrap();
        let derived = derive(&key, &header, input.context).unwrap();
        assert_eq!(
            open(&key, input.context, &envelope).unwrap(),
            input.plaintext
        );
        valid.push(json!({
            "name": input.name,
            "description": input.description,
            "suite": input.suite.name(),
            "suite_id": input.suite.id(),
            "segment_size": input.segment_size,
            "key": hex::encode(key_bytes()),
            "salt": hex::encode(salt()),
            "key_ref": hex::encode(input.key_ref),
            "context": hex::encode(input.context),
            "plaintext": hex::encode(&input.plaintext),
            "payload_key": hex::encode(*derived.payload_key),
            "commitment": hex::encode(derived.commitment),
            "header": hex::encode(header.to_bytes()),
            "envelope": hex::encode(&envelope),
        }));
        envelopes.push((envelope, header.encoded_len()));
    }

    // Invalid vectors, mostly derived from "aes-three-segments" (header h, segments of 32, 32
    // and 24 bytes).
    let (base, h) = envelopes[4].clone();
    let k = key_bytes();
    let seg = |i: usize| h + 32 * i..(h + 32 * (i + 1)).min(base.len());
    let flipped = |at: usize| {
        let mut e = base.clone();
        e[at] ^= 0x01;
        e
    };
    let mut swapped = base[..h].to_vec();
    swapped.extend_from_slice(&base[seg(1)]);
    swapped.extend_from_slice(&base[seg(0)]);
    swapped.extend_from_slice(&base[seg(2)]);
    let mut duplicated = base[..h].to_vec();
    duplicated.extend_from_slice(&base[seg(0)]);
    duplicated.extend_from_slice(&base[seg(0)]);
    duplicated.extend_from_slice(&base[seg(1)]);
    duplicated.extend_from_slice(&base[seg(2)]);
    let mut extended = base.clone();
    extended.push(0);
    let mut appended_segment = base.clone();
    appended_segment.extend_from_slice(&base[seg(2)]);
    let with_byte = |at: usize, value: u8| {
        let mut e = base.clone();
        e[at] = value;
        e
    };
    let (chacha, _) = &envelopes[6];
    let mut chacha_as_aes = chacha.clone();
    chacha_as_aes[6] = Suite::Aes256Gcm.id();

    let invalid = vec![
        invalid(
            "wrong-key",
            "aes-three-segments opened with another key",
            other_key_bytes(),
            CONTEXT,
            &base,
        ),
        invalid(
            "wrong-context",
            "aes-three-segments opened with another context",
            k,
            b"org=00D000000000002;path=packs/Account/0001;purpose=pack",
            &base,
        ),
        invalid(
            "empty-context",
            "aes-three-segments opened with an empty context",
            k,
            b"",
            &base,
        ),
        invalid(
            "flipped-key-ref-bit",
            "one bit of the key reference changed",
            k,
            CONTEXT,
            &flipped(13),
        ),
        invalid(
            "flipped-salt-bit",
            "one bit of the salt changed",
            k,
            CONTEXT,
            &flipped(h - 64),
        ),
        invalid(
            "flipped-commitment-bit",
            "one bit of the key commitment changed",
            k,
            CONTEXT,
            &flipped(h - 1),
        ),
        invalid(
            "segment-size-changed",
            "segment size 16 -> 17 in the header",
            k,
            CONTEXT,
            &with_byte(10, 17),
        ),
        invalid(
            "suite-changed",
            "chacha-four-segments relabelled as AES-256-GCM",
            k,
            CONTEXT,
            &chacha_as_aes,
        ),
        invalid(
            "flipped-ciphertext-bit",
            "one bit of segment 1's ciphertext changed",
            k,
            CONTEXT,
            &flipped(h + 40),
        ),
        invalid(
            "flipped-tag-bit",
            "one bit of the final segment's tag changed",
            k,
            CONTEXT,
            &flipped(base.len() - 1),
        ),
        invalid(
            "truncated-final-segment",
            "the final segment removed (the stream ends on a non-final segment)",
            k,
            CONTEXT,
            &base[..h + 64],
        ),
        invalid(
            "truncated-one-byte",
            "the last byte removed",
            k,
            CONTEXT,
            &base[..base.len() - 1],
        ),
        invalid(
            "truncated-to-header",
            "every segment removed",
            k,
            CONTEXT,
            &base[..h],
        ),
        invalid(
            "extended-one-byte",
            "one byte appended",
            k,
            CONTEXT,
            &extended,
        ),
        invalid(
            "extended-duplicate-final",
            "the final segment appended again",
            k,
            CONTEXT,
            &appended_segment,
        ),
        invalid(
            "segments-swapped",
            "segments 0 and 1 swapped",
            k,
            CONTEXT,
            &swapped,
        ),
        invalid(
            "segment-duplicated",
            "segment 0 repeated",
            k,
            CONTEXT,
            &duplicated,
        ),
        invalid(
            "bad-magic",
            "magic CFENV -> CFENW",
            k,
            CONTEXT,
            &with_byte(4, b'W'),
        ),
        invalid(
            "unsupported-version",
            "version 1 -> 2",
            k,
            CONTEXT,
            &with_byte(5, 2),
        ),
        invalid(
            "unsupported-suite",
            "suite id 1 -> 3",
            k,
            CONTEXT,
            &with_byte(6, 3),
        ),
        invalid(
            "segment-size-too-small",
            "segment size 16 -> 15",
            k,
            CONTEXT,
            &with_byte(10, 15),
        ),
        invalid(
            "truncated-header",
            "the header cut inside the salt",
            k,
            CONTEXT,
            &base[..h - 40],
        ),
        invalid("empty-input", "no bytes at all", k, CONTEXT, b""),
    ];

    json!({
        "format": "coffer-envelope",
        "version": 1,
        "specification": "docs/format/envelope.md",
        "notes": "All byte strings are lowercase hex. 'valid' vectors: sealing 'plaintext' under 'key' with 'salt', 'key_ref', 'context', 'suite_id' and 'segment_size' gives 'envelope' (whose first bytes are 'header'); 'payload_key' and 'commitment' are the intermediate HKDF outputs. 'invalid' vectors must fail to open with 'key' and 'context'; 'error' is the expected class: authentication, not_an_envelope, unsupported_version, unsupported_suite or malformed_header.",
        "valid": valid,
        "invalid": invalid,
    })
}

#[test]
fn committed_vectors_are_reproduced_exactly() {
    let mut rendered = serde_json::to_string_pretty(&build()).unwrap();
    rendered.push('\n');
    if std::env::var_os("COFFER_ENVELOPE_WRITE_VECTORS").is_some() {
        std::fs::write(PATH, &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(PATH).unwrap();
    assert_eq!(
        committed, rendered,
        "tests/vectors/envelope_v1.json is out of date"
    );
}
