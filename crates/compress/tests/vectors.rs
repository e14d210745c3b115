#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Committed test vectors, made by the reference `zstd` command-line tool (see
//! `tests/vectors/make.sh`), decode to their plaintexts: the format is what the document says,
//! not just what this crate happens to write.

use std::sync::Arc;

use coffer_compress::{Dictionary, DictionarySet, Limits, Method, decompress, inspect};

const LIMITS: Limits = Limits::new(1 << 20);

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/vectors/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn stored_vector() {
    let block = vector("stored.block");
    assert_eq!(block[0], 0x00);
    assert_eq!(inspect(&block).unwrap().method, Method::Stored);
    assert_eq!(
        decompress(&block, &LIMITS, &DictionarySet::new()).unwrap(),
        vector("stored.plain")
    );
}

#[test]
fn zstd_vector() {
    let block = vector("zstd.block");
    let plain = vector("records.plain");
    let info = inspect(&block).unwrap();
    assert_eq!(info.method, Method::Zstd);
    assert_eq!(info.decompressed_size, plain.len() as u64);
    assert_eq!(
        decompress(&block, &LIMITS, &DictionarySet::new()).unwrap(),
        plain
    );
}

#[test]
fn dictionary_vector() {
    let dictionary = Arc::new(Dictionary::from_bytes(&vector("dictionary.bin")).unwrap());
    let expected_id = String::from_utf8(vector("dictionary.sha256")).unwrap();
    assert_eq!(dictionary.id().to_string(), expected_id.trim());
    let block = vector("zstd-dictionary.block");
    let info = inspect(&block).unwrap();
    assert_eq!(info.method, Method::ZstdDictionary);
    assert_eq!(info.dictionary, Some(dictionary.id()));
    let set: DictionarySet = [dictionary].into_iter().collect();
    assert_eq!(
        decompress(&block, &LIMITS, &set).unwrap(),
        vector("records.plain")
    );
    assert!(matches!(
        decompress(&block, &LIMITS, &DictionarySet::new()),
        Err(coffer_compress::Error::DictionaryMissing(_))
    ));
}
