//! Opening arbitrary bytes under a fixed key and context: never panics, and the whole-buffer,
//! streaming and range openers agree on whether the input is a valid envelope and on its
//! plaintext. The seed corpus holds valid envelopes under this key and context, so mutations
//! start from inputs that get past the key commitment.
#![no_main]

use std::io::{Cursor, Read};

use coffer_envelope::{DataKey, Error, Header, Opener, open, open_range};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [0x42; 32];
const CONTEXT: &[u8] = b"coffer-fuzz";

fuzz_target!(|data: &[u8]| {
    let Ok(key) = DataKey::from_slice(&KEY) else {
        return;
    };
    let whole = open(&key, CONTEXT, data);
    let streamed = Opener::new(&key, CONTEXT, data).and_then(|mut opener| {
        let mut out = Vec::new();
        opener.read_to_end(&mut out).map_err(Error::from)?;
        Ok(out)
    });
    match (&whole, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        _ => panic!("whole and streaming openers disagree"),
    }
    if let Ok(header) = Header::parse(data) {
        if let Ok(len) = header.plaintext_len(data.len() as u64) {
            let ranged = open_range(&key, CONTEXT, Cursor::new(data), 0..len);
            match (&whole, &ranged) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                _ => panic!("whole and range openers disagree"),
            }
            if let Ok(plaintext) = &whole {
                let middle = len / 3..len - len / 3;
                let part = open_range(&key, CONTEXT, Cursor::new(data), middle.clone());
                let expected = &plaintext[middle.start as usize..middle.end as usize];
                assert_eq!(part.ok().as_deref(), Some(expected));
            }
        }
    }
});
