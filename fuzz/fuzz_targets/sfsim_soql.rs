//! The simulator's SOQL parser on arbitrary text: it must return a query or a typed error,
//! never panic, and a parsed query's canonical text must parse back to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(query) = coffer_sfsim::org::soql::parse(text) {
        let canonical = query.to_string();
        let again = coffer_sfsim::org::soql::parse(&canonical)
            .unwrap_or_else(|e| panic!("canonical form does not parse: {canonical:?}: {e}"));
        assert_eq!(again.to_string(), canonical);
    }
});
