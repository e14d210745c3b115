//! Canonical records (`docs/format/repository.md` §4.4) and their keyed digests.
//!
//! The same record fetched twice, by REST or Bulk, in any field order, canonicalises to the
//! same bytes, so its digest tells an unchanged record from a changed one without reading the
//! stored version.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::index::DIGEST_LEN;
use crate::error::{Error, Result};

/// The canonical bytes of `record` of type `object`: `attributes` reduced to the type, then
/// the fields of `field_order` (absent ones as null), then any other fields the record carries
/// in byte order (so nothing a query returned is dropped).
pub fn canonical(
    object: &str,
    record: &Map<String, Value>,
    field_order: &[String],
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"attributes\":{\"type\":");
    write_json(&mut out, &Value::String(object.to_owned()))?;
    out.push(b'}');
    let mut seen = std::collections::HashSet::with_capacity(field_order.len());
    for name in field_order {
        if name == "attributes" || !seen.insert(name.as_str()) {
            continue;
        }
        push_field(&mut out, name, record.get(name).unwrap_or(&Value::Null))?;
    }
    let mut rest: Vec<(&String, &Value)> = record
        .iter()
        .filter(|(name, _)| name.as_str() != "attributes" && !seen.contains(name.as_str()))
        .collect();
    rest.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (name, value) in rest {
        push_field(&mut out, name, value)?;
    }
    out.push(b'}');
    Ok(out)
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &Value) -> Result<()> {
    out.push(b',');
    write_json(out, &Value::String(name.to_owned()))?;
    out.push(b':');
    write_json(out, value)
}

fn write_json(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    serde_json::to_writer(out, value)
        .map_err(|e| Error::InvalidArgument(format!("record does not serialise: {e}")))
}

/// HMAC-SHA256(key, `domain` || bytes): the one keyed hash behind record digests and blob
/// names, the domain string keeping the two apart.
pub(crate) fn keyed_hash(key: &[u8; 32], domain: &[u8], bytes: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail; the fallback keeps it panic-free.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(domain);
    mac.update(bytes);
    mac.finalize().into_bytes().into()
}

/// The keyed digest of canonical record bytes: the first 16 bytes of
/// HMAC-SHA256(name_key, `"record\0"` || canonical).
pub fn digest(name_key: &[u8; 32], canonical: &[u8]) -> [u8; DIGEST_LEN] {
    let full = keyed_hash(name_key, b"record\0", canonical);
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn field_order_and_attributes_do_not_matter() {
        let order = vec!["Id".to_owned(), "Name".to_owned(), "Phone".to_owned()];
        let rest = map(json!({
            "attributes": {"type": "Account", "url": "/services/data/v62.0/sobjects/Account/001"},
            "Name": "Acme \"East\"\n", "Id": "001000000000001AAA", "Extra": 1.5
        }));
        let bulk =
            map(json!({"Extra": 1.5, "Id": "001000000000001AAA", "Name": "Acme \"East\"\n"}));
        let a = canonical("Account", &rest, &order).unwrap();
        let b = canonical("Account", &bulk, &order).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            String::from_utf8(a.clone()).unwrap(),
            r#"{"attributes":{"type":"Account"},"Id":"001000000000001AAA","Name":"Acme \"East\"\n","Phone":null,"Extra":1.5}"#
        );
        // No raw newline ever reaches a block.
        assert!(!a.contains(&b'\n'));
        let parsed: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(parsed["Name"], "Acme \"East\"\n");
    }

    #[test]
    fn digests_are_keyed_and_change_with_content() {
        let key = [7u8; 32];
        let order = vec!["Id".to_owned(), "Name".to_owned()];
        let one = canonical("Account", &map(json!({"Id": "x", "Name": "a"})), &order).unwrap();
        let two = canonical("Account", &map(json!({"Id": "x", "Name": "b"})), &order).unwrap();
        assert_eq!(digest(&key, &one), digest(&key, &one));
        assert_ne!(digest(&key, &one), digest(&key, &two));
        assert_ne!(digest(&key, &one), digest(&[8u8; 32], &one));
    }
}
