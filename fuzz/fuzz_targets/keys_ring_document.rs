//! Key-ring parsers on arbitrary bytes: the sealed object's plaintext header
//! (`RingObject::parse`) and the JSON ring document (`KeyRing::from_json`). Never panics; a
//! document that parses is a valid ring and survives a serialization round trip unchanged.
#![no_main]

use coffer_keys::KeyRing;
use coffer_keys::persist::RingObject;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(object) = RingObject::parse(data) {
        assert!(!object.root_key_id().is_empty());
    }
    if let Ok(ring) = KeyRing::from_json(data) {
        let again = KeyRing::from_json(&ring.to_json()).expect("a valid ring re-parses");
        assert_eq!(again, ring);
        assert!(ring.primary().is_none_or(|p| p == ring.latest_version()));
    }
});
