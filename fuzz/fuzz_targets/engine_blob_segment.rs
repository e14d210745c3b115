//! Blob index segments (`repository.md` §5) from arbitrary bytes, as the plaintext
//! (`BlobSegment::decode`) and as the stored form (`BlobSegment::from_stored`: a bounded
//! inflate, then the decoder). Never panics. What decodes is well formed (names sorted and
//! unique, every entry in a listed pack with a non-empty block and a body range that does not
//! overflow) and canonical: it re-encodes to exactly the bytes it came from, and its own stored
//! form opens to the same segment. Slicing a body out of a block by a decoded entry never panics
//! either, whatever the block's length.
#![no_main]

use coffer_engine::repo::blobs::{BlobSegment, body_in_block, max_block_content};
use libfuzzer_sys::fuzz_target;

/// The invariants `decode` promises, checked through the public API only; `content` stands in
/// for a block's inflated content.
fn well_formed(segment: &BlobSegment, content: &[u8]) {
    for pair in segment.entries().windows(2) {
        assert!(pair[0].name < pair[1].name);
    }
    for entry in segment.entries() {
        assert!(segment.pack_of(entry).is_some());
        assert_eq!(segment.get(&entry.name), Some(entry));
        assert_ne!(entry.length, 0);
        assert!(entry.offset.checked_add(u64::from(entry.length)).is_some());
        assert!(entry.start.checked_add(entry.size).is_some());
        assert!(max_block_content(entry) >= entry.start + entry.size);
        match body_in_block(content, entry) {
            Ok(body) => {
                assert_eq!(body.len() as u64, entry.size);
                assert!(entry.start + entry.size <= content.len() as u64);
            }
            Err(_) => assert!(entry.start + entry.size > content.len() as u64),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(segment) = BlobSegment::decode(data) {
        well_formed(&segment, data);
        assert_eq!(segment.encode(), data, "one encoding per segment");
        let stored = segment.to_stored().expect("a decoded segment compresses");
        let opened = BlobSegment::from_stored(&stored).expect("its stored form opens");
        assert_eq!(opened, segment);
    }
    if let Ok(segment) = BlobSegment::from_stored(data) {
        well_formed(&segment, data);
        let again = BlobSegment::decode(&segment.encode()).expect("a segment re-decodes");
        assert_eq!(again, segment);
    }
});
