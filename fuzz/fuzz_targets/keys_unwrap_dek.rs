//! Unwrapping arbitrary bytes as a wrapped data key through a real `KeyManager` (LocalKms with a
//! fixed master key, an in-memory store, a ring whose version 1 is the imported key 0x42..):
//! parsing never panics, and every input ends in a key or in one of the typed errors a caller
//! expects. Seeds are valid wrapped keys under that KEK, so mutations get past the parser.
#![no_main]

use std::sync::{Arc, OnceLock};

use coffer_keys::{
    DataKey, EncryptionContext, Error, KeyManager, LocalKms, OrgId, RingOptions, WrappedDek,
};
use coffer_store::Memory;
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    keys: KeyManager,
    org: OrgId,
    context: EncryptionContext,
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let master = DataKey::from_slice(&[0x11; 32]).ok()?;
            let keys = KeyManager::new(Arc::new(Memory::new()), Arc::new(LocalKms::new(master)));
            let org = OrgId::new("00D000000000001").ok()?;
            let kek = DataKey::from_slice(&[0x42; 32]).ok()?;
            block_on(keys.create_ring(&org, RingOptions::new().with_imported_key(kek))).ok()?;
            let context = EncryptionContext::object(&org, "packs/0001", "pack");
            Some(Fixture { keys, org, context })
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let Ok(wrapped) = WrappedDek::from_bytes(data) else {
        return;
    };
    assert_eq!(wrapped.as_bytes(), data);
    let Some(f) = fixture() else {
        return;
    };
    match block_on(f.keys.unwrap_data_key(&f.org, &wrapped, &f.context)) {
        Ok(_) | Err(Error::Unwrap | Error::UnknownVersion { .. }) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
