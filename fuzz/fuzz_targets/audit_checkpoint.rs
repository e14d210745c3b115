//! The signed-note and checkpoint parsers on arbitrary bytes: no panics; an accepted body
//! re-encodes to the same text; opening with a fixed key never accepts what it did not sign.
#![no_main]

use coffer_audit::{Checkpoint, NoteVerifier, SignedNote};
use libfuzzer_sys::fuzz_target;

/// The Go `sumdb/note` reference key (golang.org/x/mod/sumdb/note, note_test.go).
const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = SignedNote::parse(data) {
        if let Ok(cp) = Checkpoint::parse_body(&note.text) {
            assert_eq!(
                cp.body(),
                note.text,
                "accepted a non-canonical checkpoint body"
            );
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = NoteVerifier::from_vkey(text);
    }
    if let Ok(verifier) = NoteVerifier::from_vkey(VKEY) {
        let _ = verifier.open(data);
    }
});
