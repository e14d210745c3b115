//! The audit event parser on arbitrary bytes: it never panics, and whatever it accepts
//! re-encodes to exactly the bytes it was given (one canonical form per event).
#![no_main]

use coffer_audit::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = Event::parse(data) {
        assert_eq!(event.to_canonical(), data, "accepted a non-canonical event");
        assert!(event.validate().is_ok());
    }
});
