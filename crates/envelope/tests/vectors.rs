//! The committed known-answer vectors, opened through the public API only: every valid vector
//! opens (whole, streamed, and by ranges) to its plaintext; every invalid vector fails with its
//! expected error class. (That sealing reproduces them is checked inside the crate, which can
//! fix the salt.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Read};

use coffer_envelope::{DataKey, Error, Header, Opener, open, open_range};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("vectors/envelope_v1.json")).unwrap()
}

fn bytes(vector: &Value, field: &str) -> Vec<u8> {
    hex::decode(vector[field].as_str().unwrap()).unwrap()
}

fn class(error: &Error) -> &'static str {
    match error {
        Error::Authentication => "authentication",
        Error::NotAnEnvelope => "not_an_envelope",
        Error::UnsupportedVersion(_) => "unsupported_version",
        Error::UnsupportedSuite(_) => "unsupported_suite",
        Error::MalformedHeader(_) => "malformed_header",
        other => panic!("unexpected error class: {other}"),
    }
}

#[test]
fn valid_vectors_open_every_way() {
    let all = vectors();
    let valid = all["valid"].as_array().unwrap();
    assert_eq!(valid.len(), 7);
    for vector in valid {
        let name = vector["name"].as_str().unwrap();
        let key = DataKey::from_slice(&bytes(vector, "key")).unwrap();
        let context = bytes(vector, "context");
        let envelope = bytes(vector, "envelope");
        let plaintext = bytes(vector, "plaintext");

        let header = Header::parse(&envelope).unwrap();
        assert_eq!(header.to_bytes(), bytes(vector, "header"), "{name}");
        assert_eq!(header.key_ref(), bytes(vector, "key_ref"), "{name}");
        assert_eq!(header.salt().as_slice(), bytes(vector, "salt"), "{name}");
        assert_eq!(
            header.commitment().as_slice(),
            bytes(vector, "commitment"),
            "{name}"
        );
        assert_eq!(
            u64::from(header.suite().id()),
            vector["suite_id"].as_u64().unwrap()
        );

        assert_eq!(
            open(&key, &context, &envelope).unwrap(),
            plaintext,
            "{name}"
        );
        let mut streamed = Vec::new();
        Opener::new(&key, &context, envelope.as_slice())
            .unwrap()
            .read_to_end(&mut streamed)
            .unwrap();
        assert_eq!(streamed, plaintext, "{name}");
        let len = plaintext.len() as u64;
        for (start, end) in [(0, len), (0, len / 2), (len / 3, len)] {
            let got = open_range(&key, &context, Cursor::new(&envelope), start..end).unwrap();
            assert_eq!(got, plaintext[start as usize..end as usize], "{name}");
        }
    }
}

#[test]
fn invalid_vectors_fail_with_their_class() {
    let all = vectors();
    let invalid = all["invalid"].as_array().unwrap();
    assert!(invalid.len() >= 20);
    for vector in invalid {
        let name = vector["name"].as_str().unwrap();
        let key = DataKey::from_slice(&bytes(vector, "key")).unwrap();
        let context = bytes(vector, "context");
        let envelope = bytes(vector, "envelope");
        let expected = vector["error"].as_str().unwrap();

        let error = open(&key, &context, &envelope).unwrap_err();
        assert_eq!(class(&error), expected, "{name}");

        let streamed = Opener::new(&key, &context, envelope.as_slice()).and_then(|mut opener| {
            let mut out = Vec::new();
            opener.read_to_end(&mut out).map_err(Error::from)
        });
        assert_eq!(
            class(&streamed.unwrap_err()),
            expected,
            "{name} (streaming)"
        );
    }
}
