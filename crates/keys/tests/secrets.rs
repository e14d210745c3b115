//! Key bytes never appear in `Debug` output, whatever holds them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_keys::{DataKey, EncryptionContext, KeyManager, Kms, LocalKms, OrgId, RingOptions};
use coffer_store::Memory;
use secrecy::ExposeSecret;

/// Every rendering of `key` a careless `Debug` could produce.
fn renderings(key: &[u8; 32]) -> Vec<String> {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        BASE64.encode(key),
        hex.clone(),
        hex.to_uppercase(),
        format!("{key:?}"),
        format!("{:?}", key.to_vec()),
        // A run of the first bytes as a list, in case only part is printed.
        format!("{:?}", &key[..4]).trim_end_matches(']').to_owned(),
    ]
}

fn assert_hidden(what: &str, text: &str, key: &[u8; 32]) {
    for rendering in renderings(key) {
        assert!(!text.contains(&rendering), "{what} leaks key bytes: {text}");
    }
}

#[tokio::test]
async fn debug_never_prints_key_bytes() {
    // Distinctive bytes, so no accidental match.
    let master: [u8; 32] = std::array::from_fn(|i| 0xA0 ^ (i as u8).wrapping_mul(7));
    let kms = LocalKms::from_base64(&BASE64.encode(master)).unwrap();
    assert_hidden("LocalKms", &format!("{kms:?} {kms:#?}"), &master);

    let imported: [u8; 32] = std::array::from_fn(|i| 0x5C ^ (i as u8).wrapping_mul(13));
    let options = RingOptions::new().with_imported_key(DataKey::from_slice(&imported).unwrap());
    assert_hidden("RingOptions", &format!("{options:?}"), &imported);

    let kms = Arc::new(kms);
    let keys = KeyManager::new(Arc::new(Memory::new()), kms.clone());
    let org = OrgId::new("00D000000000001").unwrap();
    keys.create_ring(&org, options).await.unwrap();
    assert_hidden("KeyManager", &format!("{keys:?}"), &master);

    let ring = keys.ring(&org).await.unwrap();
    assert_hidden("KeyRing", &format!("{ring:#?}"), &imported);

    let context = EncryptionContext::object(&org, "packs/1", "pack");
    let new = keys.generate_data_key(&org, &context).await.unwrap();
    let dek = *new.key.expose_secret();
    assert_hidden("NewDataKey", &format!("{new:?} {new:#?}"), &dek);
    let unwrapped = keys
        .unwrap_data_key(&org, &new.wrapped, &context)
        .await
        .unwrap();
    assert_hidden("unwrapped DataKey", &format!("{unwrapped:?}"), &dek);

    let generated = kms.generate_data_key("local", &context).await.unwrap();
    let plain = *generated.plaintext.expose_secret();
    assert_hidden("GeneratedKey", &format!("{generated:?}"), &plain);

    // Errors name what failed, never a key.
    let err = keys
        .unwrap_data_key(&org, &new.wrapped, &EncryptionContext::new())
        .await
        .unwrap_err();
    assert_hidden("Error", &format!("{err:?} {err}"), &dek);
}
