//! `LocalKms::unwrap` of arbitrary bytes under a fixed master key and context: never panics;
//! anything but a well-formed `CFLK` key for this master key and context is refused with
//! `Malformed` or the opaque `Unwrap`. Seeds are valid wrapped keys.
#![no_main]

use coffer_keys::{DataKey, EncryptionContext, Error, Kms, LocalKms, WrappedKey};
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(master) = DataKey::from_slice(&[0x11; 32]) else {
        return;
    };
    let kms = LocalKms::new(master);
    let Ok(wrapped) = WrappedKey::from_bytes(data) else {
        return;
    };
    let context = EncryptionContext::new()
        .with("coffer:purpose", "org-kek")
        .with("coffer:org", "00D000000000001")
        .with("coffer:kek-version", "1");
    match block_on(kms.unwrap("local", &wrapped, &context)) {
        Ok(_) | Err(Error::Unwrap | Error::Malformed { .. }) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
