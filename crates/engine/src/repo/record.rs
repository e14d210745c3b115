//! Canonical records (`docs/format/repository.md` §4.4).
//!
//! The same record fetched twice, by REST or Bulk, in any field order, canonicalises to the
//! same bytes.

use coffer_salesforce::{Field, Timestamp};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

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
    push_prefix(&mut out, object)?;
    for name in field_sequence(field_order, record.keys().map(String::as_str)) {
        push_key(&mut out, name)?;
        write_json(&mut out, record.get(name).unwrap_or(&Value::Null))?;
    }
    out.push(b'}');
    Ok(out)
}

/// The field names of a canonical record, in order: those of `field_order` (each once), then
/// the other names of `present` in byte order; never `attributes`.
fn field_sequence<'a>(
    field_order: &'a [String],
    present: impl Iterator<Item = &'a str>,
) -> Vec<&'a str> {
    let mut seen = std::collections::HashSet::with_capacity(field_order.len());
    let mut names: Vec<&str> = field_order
        .iter()
        .map(String::as_str)
        .filter(|name| *name != "attributes" && seen.insert(*name))
        .collect();
    let mut rest: Vec<&str> = present
        .filter(|name| *name != "attributes" && !seen.contains(name))
        .collect();
    rest.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    names.extend(rest);
    names
}

/// `{"attributes":{"type":<object>}`, the start of every canonical record.
fn push_prefix(out: &mut Vec<u8>, object: &str) -> Result<()> {
    out.extend_from_slice(b"{\"attributes\":{\"type\":");
    write_json(out, &Value::String(object.to_owned()))?;
    out.push(b'}');
    Ok(())
}

/// `,"<name>":`, before each field's value.
fn push_key(out: &mut Vec<u8>, name: &str) -> Result<()> {
    out.push(b',');
    write_json(out, &Value::String(name.to_owned()))?;
    out.push(b':');
    Ok(())
}

/// Where each field of a canonical record comes from for the rows of one Bulk page: the same
/// bytes [`canonical`] makes of the row's REST record, written straight from the page's typed
/// cells (a `serde_json::Map` per row cost several times the whole decode).
#[derive(Debug, Clone)]
pub struct BulkLayout {
    /// `{"attributes":{"type":<object>}`.
    prefix: Vec<u8>,
    /// In canonical order: `,"<name>":` and where the value comes from.
    slots: Vec<(Vec<u8>, Slot)>,
    id: Option<usize>,
    stamp: Option<usize>,
    deleted: Option<usize>,
    width: usize,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    /// The page's column.
    Column(usize),
    /// A field the caller supplies per row (a file body reference), null when it does not.
    Supplied(usize),
    /// A field of the order the page does not have: null.
    Absent,
}

impl BulkLayout {
    /// The layout of pages with `columns` (in CSV order) for records of `object`, fields in
    /// `field_order` as [`canonical`] orders them; `supplied` names the fields of the order
    /// whose values the caller passes per row ([`Self::canonical`]).
    pub fn new<'a>(
        object: &str,
        columns: impl Iterator<Item = &'a str>,
        field_order: &[String],
        supplied: &[String],
    ) -> Result<Self> {
        let columns: Vec<&str> = columns.collect();
        let mut prefix = Vec::new();
        push_prefix(&mut prefix, object)?;
        let mut slots = Vec::new();
        for name in field_sequence(field_order, columns.iter().copied()) {
            let slot = match (
                supplied.iter().position(|s| s == name),
                columns.iter().position(|c| *c == name),
            ) {
                (Some(k), _) => Slot::Supplied(k),
                (None, Some(i)) => Slot::Column(i),
                (None, None) => Slot::Absent,
            };
            let mut key = Vec::new();
            push_key(&mut key, name)?;
            slots.push((key, slot));
        }
        let find = |name: &str| columns.iter().position(|c| *c == name);
        Ok(Self {
            prefix,
            slots,
            id: find("Id"),
            stamp: find("SystemModstamp"),
            deleted: find("IsDeleted"),
            width: columns.len(),
        })
    }

    /// Id, SystemModstamp (ms; 0 without one) and IsDeleted of a row (its cells in column
    /// order), as the engine reads them from a REST record.
    pub fn identity<'a>(
        &self,
        cells: &[Field<'a>],
    ) -> std::result::Result<(&'a str, i64, bool), &'static str> {
        let id = match self.id.and_then(|i| cells.get(i)) {
            Some(Field::Text(id)) => *id,
            _ => return Err("no Id"),
        };
        let stamp = match self.stamp.and_then(|i| cells.get(i)) {
            Some(Field::DateTime(t)) => t.millis(),
            Some(Field::Text(s)) => Timestamp::parse(s)
                .ok_or("SystemModstamp is not a datetime")?
                .millis(),
            Some(Field::Null) | None => 0,
            Some(_) => return Err("SystemModstamp is not a datetime"),
        };
        let deleted = matches!(
            self.deleted.and_then(|i| cells.get(i)),
            Some(Field::Bool(true))
        );
        Ok((id, stamp, deleted))
    }

    /// The canonical bytes of a row (its cells in column order); `supplied[k]` is the value
    /// of the `k`-th supplied field, `None` leaving it null.
    pub fn canonical(&self, cells: &[Field<'_>], supplied: &[Option<Value>]) -> Result<Vec<u8>> {
        if cells.len() != self.width {
            return Err(Error::InvalidArgument(format!(
                "a row of {} cells on a page of {} columns",
                cells.len(),
                self.width
            )));
        }
        let mut out = Vec::with_capacity(self.prefix.len() + 24 * self.slots.len());
        out.extend_from_slice(&self.prefix);
        for (key, slot) in &self.slots {
            out.extend_from_slice(key);
            match *slot {
                Slot::Column(i) => write_field(&mut out, cells.get(i).unwrap_or(&Field::Null))?,
                Slot::Supplied(k) => match supplied.get(k) {
                    Some(Some(value)) => write_json(&mut out, value)?,
                    _ => out.extend_from_slice(b"null"),
                },
                Slot::Absent => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        Ok(out)
    }
}

/// A typed Bulk cell as JSON, byte for byte what serialising its REST value
/// ([`Field::to_json`]) writes.
fn write_field(out: &mut Vec<u8>, field: &Field<'_>) -> Result<()> {
    let failed =
        |e: serde_json::Error| Error::InvalidArgument(format!("record does not serialise: {e}"));
    match *field {
        Field::Null => out.extend_from_slice(b"null"),
        Field::Bool(true) => out.extend_from_slice(b"true"),
        Field::Bool(false) => out.extend_from_slice(b"false"),
        Field::Integer(i) => serde_json::to_writer(&mut *out, &i).map_err(failed)?,
        // Finite by the decoder's check; a non-finite one would be null, as in `to_json`.
        Field::Number(f) if f.is_finite() => {
            serde_json::to_writer(&mut *out, &f).map_err(failed)?
        }
        Field::Number(_) => out.extend_from_slice(b"null"),
        Field::Text(s) => serde_json::to_writer(&mut *out, s).map_err(failed)?,
        Field::DateTime(t) => {
            // The REST form is digits and punctuation: nothing to escape.
            out.push(b'"');
            t.write_rest(out);
            out.push(b'"');
        }
    }
    Ok(())
}

fn write_json(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    serde_json::to_writer(out, value)
        .map_err(|e| Error::InvalidArgument(format!("record does not serialise: {e}")))
}

/// HMAC-SHA256(key, `domain` || bytes): the keyed hash behind blob names (the domain string
/// keeps other uses apart).
pub(crate) fn keyed_hash(key: &[u8; 32], domain: &[u8], bytes: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail; the fallback keeps it panic-free.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(domain);
    mac.update(bytes);
    mac.finalize().into_bytes().into()
}

/// Whether a stored record line is the version `(id, stamp_ms)` an index entry names: its `Id`
/// is `id` and its `SystemModstamp` is `stamp_ms` (absent when the stamp is 0, for objects
/// without one). Packs are authenticated by their envelope, so this binds an entry to its
/// record without a per-entry digest.
pub fn is_version(line: &[u8], id: &str, stamp_ms: i64) -> bool {
    let Ok(record) = serde_json::from_slice::<Map<String, Value>>(line) else {
        return false;
    };
    let stamp = match record.get("SystemModstamp") {
        Some(Value::String(s)) => Timestamp::parse(s).map(|t| t.millis()),
        None | Some(Value::Null) => Some(0),
        Some(_) => None,
    };
    record.get("Id").and_then(Value::as_str) == Some(id) && stamp == Some(stamp_ms)
}

/// The member a blob reference (§4.4) names its file body by.
const BLOB_REF: &str = "coffer:blob";

/// The file bodies a stored record line names: the 32-byte names of the blob references among
/// its fields (`{"coffer:blob": "<64 hex>", "size": n}`), in no particular order. Lines without the
/// member's name are not parsed. `Err` says what is malformed: a line that is not a JSON
/// object, or a reference whose name is not 64 hex digits.
pub fn blob_refs(line: &[u8]) -> std::result::Result<Vec<[u8; 32]>, String> {
    if memchr::memmem::find(line, BLOB_REF.as_bytes()).is_none() {
        return Ok(Vec::new());
    }
    let record = serde_json::from_slice::<Map<String, Value>>(line)
        .map_err(|e| format!("not a JSON object: {e}"))?;
    let mut names = Vec::new();
    for (field, value) in &record {
        let Some(reference) = value.as_object().and_then(|v| v.get(BLOB_REF)) else {
            continue;
        };
        let name = reference
            .as_str()
            .and_then(|hex_name| {
                let mut name = [0u8; 32];
                hex::decode_to_slice(hex_name, &mut name).ok()?;
                Some(name)
            })
            .ok_or_else(|| format!("field {field} holds a malformed file reference"))?;
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn blob_references_are_found_and_malformed_ones_refused() {
        let name = [0xab; 32];
        let line = json!({
            "attributes": {"type": "ContentVersion"},
            "Id": "068000000000001AAA",
            "Title": "a \"coffer:blob\" in text is not a reference",
            "VersionData": {"coffer:blob": hex::encode(name), "size": 3},
            "Other": {"coffer:blob": hex::encode([1u8; 32]), "size": 0}
        });
        let line = serde_json::to_vec(&line).unwrap();
        let mut found = blob_refs(&line).unwrap();
        found.sort();
        assert_eq!(found, vec![[1u8; 32], name]);
        // No reference: not even parsed.
        assert_eq!(
            blob_refs(b"not json at all").unwrap(),
            Vec::<[u8; 32]>::new()
        );
        assert_eq!(
            blob_refs(br#"{"Title":"coffer:blob"}"#).unwrap(),
            Vec::<[u8; 32]>::new()
        );
        for bad in [
            br#"{"coffer:blob""#.to_vec(),
            br#"{"B":{"coffer:blob":"ab","size":3}}"#.to_vec(),
            br#"{"B":{"coffer:blob":7}}"#.to_vec(),
            format!(r#"{{"B":{{"coffer:blob":"{}zz"}}}}"#, "0".repeat(62)).into_bytes(),
        ] {
            assert!(
                blob_refs(&bad).is_err(),
                "{}",
                String::from_utf8_lossy(&bad)
            );
        }
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
    fn bulk_rows_canonicalise_as_their_rest_records() {
        use coffer_salesforce::{CsvDecoder, FieldSpec, ValueKind};
        let spec = |n: &str, k| FieldSpec {
            name: n.to_owned(),
            kind: k,
        };
        let fields = [
            spec("Id", ValueKind::Text),
            spec("Name", ValueKind::Text),
            spec("IsDeleted", ValueKind::Boolean),
            spec("NumberOfEmployees", ValueKind::Integer),
            spec("AnnualRevenue", ValueKind::Number),
            spec("SystemModstamp", ValueKind::DateTime),
        ];
        // Columns in another order than the field order, one extra column (`Zeta`, `Alpha`)
        // beyond it, text needing escapes, nulls, and a field of the order the page lacks.
        let page = "\"Zeta\",\"AnnualRevenue\",\"Id\",\"Name\",\"IsDeleted\",\"NumberOfEmployees\",\"SystemModstamp\",\"Alpha\"\n\
\"z\",\"1.5E7\",\"001000000000001AAA\",\"Acme, \"\"Inc\"\"\n\u{e9}\\\",\"false\",\"12\",\"2023-10-22T06:25:12.000Z\",\"\"\n\
\"\",\"\",\"001000000000002AAA\",\"\",\"true\",\"\",\"2023-10-22T06:25:12.000Z\",\"a\"\n\
\"\",\"0.1\",\"001000000000003AAA\",\"tab\there\",\"false\",\"-3\",\"\",\"\"\n";
        let page = CsvDecoder::new(&fields)
            .decode_page(page.as_bytes())
            .unwrap();
        let order: Vec<String> = [
            "Id",
            "Name",
            "IsDeleted",
            "NumberOfEmployees",
            "AnnualRevenue",
            "SystemModstamp",
            "Missing",
            "Body",
        ]
        .map(str::to_owned)
        .to_vec();
        let supplied = vec!["Body".to_owned()];
        let layout = BulkLayout::new("Account", page.columns(), &order, &supplied).unwrap();
        let blob = json!({"coffer:blob": "ab", "size": 3});
        for (n, row) in page.rows().enumerate() {
            let cells: Vec<Field<'_>> = row.values().collect();
            let mut record = row.to_record();
            let body = (n == 0).then(|| blob.clone());
            if let Some(b) = &body {
                record.insert("Body".to_owned(), b.clone());
            }
            assert_eq!(
                String::from_utf8(layout.canonical(&cells, &[body]).unwrap()).unwrap(),
                String::from_utf8(canonical("Account", &record, &order).unwrap()).unwrap(),
                "row {n}"
            );
        }
        let first: Vec<Field<'_>> = page.row(0).unwrap().values().collect();
        assert_eq!(
            layout.identity(&first).unwrap(),
            ("001000000000001AAA", 1_697_955_912_000, false)
        );
        let second: Vec<Field<'_>> = page.row(1).unwrap().values().collect();
        assert!(layout.identity(&second).unwrap().2);
        let third: Vec<Field<'_>> = page.row(2).unwrap().values().collect();
        assert_eq!(layout.identity(&third).unwrap().1, 0);
        assert!(layout.canonical(&first[1..], &[]).is_err());
    }

    #[test]
    fn a_line_is_the_version_of_its_id_and_stamp() {
        let order = vec!["Id".to_owned(), "SystemModstamp".to_owned()];
        let line = canonical(
            "Account",
            &map(json!({"Id": "001000000000001AAA", "SystemModstamp": "2020-10-22T21:03:23.000+0000"})),
            &order,
        )
        .unwrap();
        assert!(is_version(&line, "001000000000001AAA", 1_603_400_603_000));
        assert!(!is_version(&line, "001000000000002AAA", 1_603_400_603_000));
        assert!(!is_version(&line, "001000000000001AAA", 1_603_400_603_001));
        let unstamped = canonical("Account", &map(json!({"Id": "x"})), &["Id".to_owned()]).unwrap();
        assert!(is_version(&unstamped, "x", 0));
        assert!(!is_version(b"not json", "x", 0));
    }
}
