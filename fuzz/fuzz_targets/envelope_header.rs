//! Header parsing of arbitrary bytes: never panics, `parse` and `read_from` agree, and a parsed
//! header re-encodes to exactly the bytes it was parsed from.
#![no_main]

use coffer_envelope::Header;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = Header::parse(data);
    let read = Header::read_from(data);
    match (&parsed, &read) {
        (Ok(parsed), Ok(read)) => {
            assert_eq!(parsed, read);
            assert_eq!(parsed.to_bytes(), &data[..parsed.encoded_len()]);
            // Length arithmetic on arbitrary totals must not panic either.
            for total in [0, data.len() as u64, u64::MAX] {
                let _ = parsed.plaintext_len(total);
                let _ = parsed.plan_range(total, 0..1);
                let _ = parsed.plan_range(total, u64::MAX - 1..u64::MAX);
            }
        }
        (Err(parsed), Err(read)) => assert_eq!(parsed.to_string(), read.to_string()),
        _ => panic!("parse and read_from disagree: {parsed:?} / {read:?}"),
    }
});
