//! sObject Collections writes for restore: create, update, upsert and delete in batches of at
//! most 200 records, with the `allOrNone` choice and one result per record in input order.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::Record;
use crate::error::Error;

/// The most records one collections request accepts.
pub const MAX_BATCH: usize = 200;

/// A collections write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// `POST /composite/sobjects`: new records (each gets a new Id).
    Create,
    /// `PATCH /composite/sobjects`: records carry `Id`.
    Update,
    /// `PATCH /composite/sobjects/{object}/{external_id_field}`.
    Upsert {
        /// The object.
        object: String,
        /// The external Id field matched on.
        external_id_field: String,
    },
    /// `DELETE /composite/sobjects?ids=…`: records carry `Id` (other fields are ignored).
    Delete,
}

/// One error of a per-record result.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordError {
    /// `DUPLICATE_VALUE`, `ALL_OR_NONE_OPERATION_ROLLED_BACK`, ...
    #[serde(alias = "errorCode", default)]
    pub status_code: String,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// Fields involved.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The result for one record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordResult {
    /// The record's Id (new on create).
    #[serde(default)]
    pub id: Option<String>,
    /// Whether this record was written.
    pub success: bool,
    /// Upsert only: created (true) or updated (false).
    #[serde(default)]
    pub created: Option<bool>,
    /// Why it failed.
    #[serde(default)]
    pub errors: Vec<RecordError>,
}

/// Parses a collections response and checks it has one result per record sent.
pub fn parse_results(body: &[u8], expected: usize) -> Result<Vec<RecordResult>, Error> {
    let results: Vec<RecordResult> = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            "collection results",
            format!("line {} column {}", e.line(), e.column()),
        )
    })?;
    if results.len() != expected {
        return Err(Error::decode(
            "collection results",
            format!("{} results for {} records", results.len(), expected),
        ));
    }
    Ok(results)
}

/// The request body for create/update/upsert: `{"allOrNone":…,"records":[…]}`, each record
/// carrying `attributes.type` (added from `object` when missing).
#[cfg_attr(not(feature = "client"), allow(dead_code))] // wire helper of `Client`
pub(crate) fn body(object: &str, records: &[Record], all_or_none: bool) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if !r.contains_key("attributes") {
                let mut attrs = Map::new();
                attrs.insert("type".to_owned(), Value::String(object.to_owned()));
                r.insert("attributes".to_owned(), Value::Object(attrs));
            }
            Value::Object(r)
        })
        .collect();
    let mut b = Map::new();
    b.insert("allOrNone".to_owned(), Value::Bool(all_or_none));
    b.insert("records".to_owned(), Value::Array(records));
    Value::Object(b)
}

/// The Ids of records to delete; every record must carry a string `Id`.
#[cfg_attr(not(feature = "client"), allow(dead_code))] // wire helper of `Client`
pub(crate) fn ids(records: &[Record]) -> Result<Vec<String>, Error> {
    records
        .iter()
        .map(|r| match r.get("Id") {
            Some(Value::String(id)) if is_id(id) => Ok(id.clone()),
            _ => Err(Error::Config(
                "delete requires every record to carry a valid Id".to_owned(),
            )),
        })
        .collect()
}

/// A 15- or 18-character alphanumeric Salesforce Id.
#[cfg_attr(not(feature = "client"), allow(dead_code))] // wire helper of `Client`
pub(crate) fn is_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_results_in_order() {
        let body = br#"[{"id":"001RM000003oLnnYAE","success":true,"errors":[]},
          {"success":false,"errors":[{"statusCode":"DUPLICATE_VALUE","message":"duplicate value found","fields":["Ext__c"]}]},
          {"id":"001RM000003oLnoYAE","success":true,"created":false,"errors":[]}]"#;
        let r = parse_results(body, 3).unwrap();
        assert!(r[0].success);
        assert_eq!(r[1].errors[0].status_code, "DUPLICATE_VALUE");
        assert_eq!(r[1].errors[0].fields, vec!["Ext__c"]);
        assert_eq!(r[2].created, Some(false));
        assert!(parse_results(body, 2).is_err());
        let rolled = br#"[{"success":false,"errors":[{"statusCode":"ALL_OR_NONE_OPERATION_ROLLED_BACK","message":"Record rolled back because not all records were valid and the request was using AllOrNone header","fields":[]}]}]"#;
        assert_eq!(
            parse_results(rolled, 1).unwrap()[0].errors[0].status_code,
            "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        );
    }

    #[test]
    fn body_adds_type_and_ids_are_checked() {
        let mut r = Map::new();
        r.insert("Name".into(), Value::String("Acme".into()));
        let b = body("Account", &[r.clone()], true);
        assert_eq!(b["allOrNone"], true);
        assert_eq!(b["records"][0]["attributes"]["type"], "Account");
        assert!(ids(&[r.clone()]).is_err());
        r.insert("Id".into(), Value::String("001RM000003oLnnYAE".into()));
        assert_eq!(ids(&[r.clone()]).unwrap(), vec!["001RM000003oLnnYAE"]);
        r.insert("Id".into(), Value::String("001,002".into()));
        assert!(ids(&[r]).is_err());
    }
}
