//! A stored record line (`repository.md` §4.4) from arbitrary bytes, through
//! `record::is_version` (which binds an index entry to its line) and `record::blob_refs` (the
//! file bodies a line names, which `verify` resolves). Never panics; a line accepted as a
//! version, or found to name bodies, is a JSON object whose `Id` (for a version) is the one
//! asked for.
#![no_main]

use coffer_engine::repo::record::{blob_refs, is_version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The stamp comes from the input's last eight bytes, the line from the rest.
    let (line, key) = data.split_at(data.len().saturating_sub(8));
    let stamp = <[u8; 8]>::try_from(key).map_or(0, i64::from_le_bytes);
    let id = "001000000000001AAA";
    let parsed = || serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line);
    if is_version(line, id, stamp) {
        let record = parsed().expect("a version is a JSON object");
        assert_eq!(record.get("Id").and_then(|v| v.as_str()), Some(id));
    }
    if blob_refs(line).is_ok_and(|names| !names.is_empty()) {
        assert!(
            parsed().is_ok(),
            "bodies named by a line that is not a JSON object"
        );
    }
});
