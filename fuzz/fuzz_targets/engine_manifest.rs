//! The repository's JSON documents (`repository.md` §2, §7, §8) from arbitrary bytes: the
//! repository config (`RepoConfig::from_json`), a snapshot manifest (`Manifest::from_json`) and
//! a run journal (`Journal::from_json`). Never panics. The name a manifest or journal is stored
//! under is taken from the document itself when it has one, so the checks past JSON decoding
//! (version, sequence and parent, run and number, finished objects having a state) are
//! reached. What parses satisfies those checks and survives a serialization round trip. The
//! content names a document lists (segments, dictionaries, packs) go through the parser readers
//! use on them (`ContentName::from_hex`), which accepts only the one spelling it writes.
#![no_main]

use std::collections::BTreeMap;

use coffer_engine::repo::ContentName;
use coffer_engine::repo::manifest::{
    BlobTotals, FORMAT_VERSION, Journal, Manifest, ObjectState, RepoConfig,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Every content name `objects`, `blobs` and `packs` list parses only in its canonical form.
fn content_names(objects: &BTreeMap<String, ObjectState>, blobs: &BlobTotals, packs: &[String]) {
    let states = objects.values();
    let names = states
        .flat_map(|s| s.index.iter().chain(&s.dictionary))
        .chain(&blobs.index)
        .chain(packs);
    for name in names {
        if let Ok(parsed) = ContentName::from_hex(name) {
            assert_eq!(&parsed.to_hex(), name);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = RepoConfig::from_json(data) {
        assert_eq!(config.version, FORMAT_VERSION);
        let json = serde_json::to_vec(&config).expect("a parsed config serializes");
        assert_eq!(
            RepoConfig::from_json(&json).expect("a config re-parses"),
            config
        );
    }

    // The name's part of the document, if the bytes are a JSON object that carries one; a
    // fixed name otherwise (the parse then fails on the JSON or on the name).
    let document = serde_json::from_slice::<Value>(data).ok();
    let field = |key: &str| document.as_ref().and_then(|d| d.get(key));
    let seq = field("seq").and_then(Value::as_u64).unwrap_or(1);
    let run = field("run")
        .and_then(Value::as_str)
        .unwrap_or("r")
        .to_owned();
    let n = field("n").and_then(Value::as_u64).unwrap_or(1);

    if let Ok(manifest) = Manifest::from_json(data, seq) {
        assert_eq!(manifest.version, FORMAT_VERSION);
        assert_eq!(manifest.seq, seq);
        assert_eq!(manifest.parent, seq.checked_sub(1).filter(|&p| p > 0));
        content_names(&manifest.objects, &manifest.blobs, &manifest.packs_added);
        let json = manifest.to_json().expect("a parsed manifest serializes");
        assert_eq!(
            Manifest::from_json(&json, seq).expect("a manifest re-parses"),
            manifest
        );
    }

    if let Ok(journal) = Journal::from_json(data, &run, n) {
        assert_eq!(journal.version, FORMAT_VERSION);
        assert_eq!((journal.run.as_str(), journal.n), (run.as_str(), n));
        assert!(
            journal
                .finished
                .iter()
                .all(|o| journal.objects.contains_key(o))
        );
        content_names(&journal.objects, &journal.blobs, &journal.packs_added);
        let json = journal.to_json().expect("a parsed journal serializes");
        assert_eq!(
            Journal::from_json(&json, &run, n).expect("a journal re-parses"),
            journal
        );
    }
});
