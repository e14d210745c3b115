//! Index segments (`repository.md` §6) from arbitrary bytes, as the plaintext
//! (`IndexSegment::decode`) and as the stored form (`IndexSegment::from_stored`: a bounded
//! inflate, then the decoder). Never panics. What decodes is well formed (entries sorted and
//! unique, every content location inside the block and pack tables, gone entries without one,
//! the block table canonical) and canonical: it re-encodes to exactly the bytes it came from,
//! and its own stored form opens to the same segment.
#![no_main]

use coffer_engine::repo::index::{EntryKind, IndexSegment};
use libfuzzer_sys::fuzz_target;

/// The invariants `decode` promises, checked through the public API only.
fn well_formed(segment: &IndexSegment) {
    assert!(!segment.object().is_empty());
    for pair in segment.entries().windows(2) {
        assert!((pair[0].id, pair[0].stamp_ms) < (pair[1].id, pair[1].stamp_ms));
    }
    // Blocks are numbered in the order the sorted entries first name them, each once.
    let mut named = 0usize;
    for entry in segment.entries() {
        match entry.kind {
            EntryKind::Gone => {
                assert_eq!((entry.block, entry.ordinal), (0, 0));
                assert_eq!(segment.location(entry), None);
                assert_eq!(segment.pack_of(entry), None);
            }
            EntryKind::Version | EntryKind::Deleted => {
                let block = entry.block as usize;
                assert!(block <= named, "block {block} named before block {named}");
                named = named.max(block + 1);
                let location = segment
                    .location(entry)
                    .expect("a content entry has a location");
                assert_eq!(location.ordinal, entry.ordinal);
                let pack = segment
                    .pack_of(entry)
                    .expect("a content entry's pack is listed");
                assert_eq!(Some(pack), segment.packs().get(location.pack as usize));
            }
        }
        assert_eq!(entry.id.as_str().len(), 18);
        // The lookups a snapshot read makes find every entry.
        assert!(segment.versions(&entry.id).contains(entry));
        let latest = segment
            .latest(&entry.id)
            .expect("an entry's record has a latest");
        assert!(latest.stamp_ms >= entry.stamp_ms);
    }
    assert_eq!(
        named,
        segment.blocks().len(),
        "the table holds only named blocks"
    );
    let blocks = segment.blocks();
    for (i, block) in blocks.iter().enumerate() {
        assert!(!blocks[..i].contains(block), "block {i} is listed twice");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(segment) = IndexSegment::decode(data) {
        well_formed(&segment);
        assert_eq!(segment.encode(), data, "one encoding per segment");
        let stored = segment.to_stored().expect("a decoded segment compresses");
        let opened = IndexSegment::from_stored(&stored).expect("its stored form opens");
        assert_eq!(opened, segment);
    }
    if let Ok(segment) = IndexSegment::from_stored(data) {
        well_formed(&segment);
        let again = IndexSegment::decode(&segment.encode()).expect("a segment re-decodes");
        assert_eq!(again, segment);
    }
});
