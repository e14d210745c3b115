//! REST `query`/`queryAll` pages and the change-capture bodies (`updated`, `deleted`).

use serde::Deserialize;
use serde_json::Value;

use crate::Record;
use crate::error::Error;
use crate::time::Timestamp;

/// One page of a REST query.
#[derive(Debug, Clone)]
pub struct QueryPage {
    /// Rows matching the whole query (not just this page).
    pub total_size: u64,
    /// Whether this is the last page.
    pub done: bool,
    /// The path of the next page (`/services/data/v61.0/query/01g…-2000`); `None` when done.
    pub next_records_url: Option<String>,
    /// The records, `attributes` removed (see [`crate::Record`]).
    pub records: Vec<Record>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPage {
    total_size: u64,
    done: bool,
    #[serde(default)]
    next_records_url: Option<String>,
    records: Vec<serde_json::Map<String, Value>>,
}

/// Parses a query response. A page that says it is not done must name its next page, and the
/// next page must be a path on the same instance (it is requested with the bearer token).
pub fn parse_query_page(body: &[u8]) -> Result<QueryPage, Error> {
    let raw: RawPage = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            "query page",
            format!("line {} column {}", e.line(), e.column()),
        )
    })?;
    let next = match (raw.done, raw.next_records_url) {
        (true, _) => None,
        (false, Some(url)) => {
            if !url.starts_with("/services/data/") || url.contains("..") {
                return Err(Error::decode(
                    "query page",
                    "nextRecordsUrl is not a /services/data/ path",
                ));
            }
            Some(url)
        }
        (false, None) => {
            return Err(Error::decode(
                "query page",
                "not done but no nextRecordsUrl",
            ));
        }
    };
    let records = raw
        .records
        .into_iter()
        .map(|mut r| {
            r.remove("attributes");
            r
        })
        .collect();
    Ok(QueryPage {
        total_size: raw.total_size,
        done: raw.done,
        next_records_url: next,
        records,
    })
}

/// `GET /sobjects/{T}/updated/` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatedIds {
    /// Ids changed in the window.
    pub ids: Vec<String>,
    /// The end of the interval the answer covers.
    pub latest_date_covered: Timestamp,
}

/// One deleted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRecord {
    /// The Id.
    pub id: String,
    /// When it was deleted.
    pub deleted_date: Timestamp,
}

/// `GET /sobjects/{T}/deleted/` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedRecords {
    /// The deleted records.
    pub records: Vec<DeletedRecord>,
    /// The oldest instant for which deletes are still known.
    pub earliest_date_available: Timestamp,
    /// The end of the interval the answer covers.
    pub latest_date_covered: Timestamp,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUpdated {
    ids: Vec<String>,
    latest_date_covered: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDeletedEntry {
    id: String,
    deleted_date: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDeleted {
    deleted_records: Vec<RawDeletedEntry>,
    earliest_date_available: String,
    latest_date_covered: String,
}

fn ts(what: &'static str, s: &str) -> Result<Timestamp, Error> {
    Timestamp::parse(s).ok_or_else(|| Error::decode(what, "bad datetime"))
}

/// Parses the `updated` body.
pub fn parse_updated(body: &[u8]) -> Result<UpdatedIds, Error> {
    let raw: RawUpdated =
        serde_json::from_slice(body).map_err(|e| Error::decode("updated ids", e.to_string()))?;
    Ok(UpdatedIds {
        ids: raw.ids,
        latest_date_covered: ts("updated ids", &raw.latest_date_covered)?,
    })
}

/// Parses the `deleted` body.
pub fn parse_deleted(body: &[u8]) -> Result<DeletedRecords, Error> {
    let raw: RawDeleted = serde_json::from_slice(body)
        .map_err(|e| Error::decode("deleted records", e.to_string()))?;
    let mut records = Vec::with_capacity(raw.deleted_records.len());
    for r in raw.deleted_records {
        records.push(DeletedRecord {
            deleted_date: ts("deleted records", &r.deleted_date)?,
            id: r.id,
        });
    }
    Ok(DeletedRecords {
        records,
        earliest_date_available: ts("deleted records", &raw.earliest_date_available)?,
        latest_date_covered: ts("deleted records", &raw.latest_date_covered)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paged_query() {
        let body = br#"{"totalSize":3222,"done":false,"nextRecordsUrl":"/services/data/v61.0/query/01gRO0000016PIAYA2-500",
          "records":[{"attributes":{"type":"Contact","url":"/services/data/v61.0/sobjects/Contact/003RO0000035WQgYAM"},
          "Id":"003RO0000035WQgYAM","Name":"John Smith"}]}"#;
        let p = parse_query_page(body).unwrap();
        assert_eq!(p.total_size, 3222);
        assert!(!p.done);
        assert_eq!(
            p.next_records_url.as_deref(),
            Some("/services/data/v61.0/query/01gRO0000016PIAYA2-500")
        );
        assert_eq!(p.records.len(), 1);
        assert!(!p.records[0].contains_key("attributes"));
        assert_eq!(p.records[0]["Name"], "John Smith");
    }

    #[test]
    fn last_page_and_bad_next_urls() {
        let p = parse_query_page(br#"{"totalSize":1,"done":true,"records":[{"Id":"a"}]}"#).unwrap();
        assert!(p.done && p.next_records_url.is_none());
        for body in [
            br#"{"totalSize":1,"done":false,"records":[]}"#.as_slice(),
            br#"{"totalSize":1,"done":false,"nextRecordsUrl":"https://evil.example/x","records":[]}"#,
            br#"{"totalSize":1,"done":false,"nextRecordsUrl":"/services/data/../../x","records":[]}"#,
            br#"{"done":true}"#,
        ] {
            assert!(matches!(parse_query_page(body), Err(Error::Decode { .. })));
        }
    }

    #[test]
    fn parses_change_capture_bodies() {
        let u = parse_updated(
            br#"{"ids":["003q0000001"],"latestDateCovered":"2015-08-19T08:17:00.000+0000"}"#,
        )
        .unwrap();
        assert_eq!(u.ids, vec!["003q0000001"]);
        assert_eq!(
            u.latest_date_covered.to_rest(),
            "2015-08-19T08:17:00.000+0000"
        );
        let d = parse_deleted(br#"{"deletedRecords":[{"id":"a00D0000008pQRAIA2","deletedDate":"2013-05-07T22:07:19.000+0000"}],
          "earliestDateAvailable":"2013-05-03T15:57:00.000+0000","latestDateCovered":"2013-05-08T21:20:00.000+0000"}"#).unwrap();
        assert_eq!(d.records[0].id, "a00D0000008pQRAIA2");
        assert_eq!(
            d.earliest_date_available.to_rest(),
            "2013-05-03T15:57:00.000+0000"
        );
        assert!(
            parse_deleted(
                br#"{"deletedRecords":[],"earliestDateAvailable":"x","latestDateCovered":"y"}"#
            )
            .is_err()
        );
    }
}
