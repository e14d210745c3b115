//! Bulk API 2.0 query jobs: the job record, its states, and result-page locators.

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A job's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Created, not yet running.
    UploadComplete,
    /// Running.
    InProgress,
    /// Results are ready.
    JobComplete,
    /// Failed (`errorMessage` says why).
    Failed,
    /// Aborted by a user.
    Aborted,
    /// A state this client does not know; treated as still running.
    Other(String),
}

impl JobState {
    fn parse(s: &str) -> Self {
        match s {
            "UploadComplete" => JobState::UploadComplete,
            "InProgress" => JobState::InProgress,
            "JobComplete" => JobState::JobComplete,
            "Failed" => JobState::Failed,
            "Aborted" => JobState::Aborted,
            other => JobState::Other(other.to_owned()),
        }
    }

    /// Whether the job will not change state any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobState::JobComplete | JobState::Failed | JobState::Aborted
        )
    }
}

/// A query job as returned by create and poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkJob {
    /// Job Id.
    pub id: String,
    /// The queried object.
    pub object: String,
    /// State.
    pub state: JobState,
    /// Set on failure.
    pub error_message: Option<String>,
    /// Records processed so far.
    pub records_processed: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJob {
    id: String,
    #[serde(default)]
    object: String,
    state: String,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    number_records_processed: Option<u64>,
}

/// Parses a job body (create or poll response).
pub fn parse_job(body: &[u8]) -> Result<BulkJob, Error> {
    let raw: RawJob = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            "bulk job",
            format!("line {} column {}", e.line(), e.column()),
        )
    })?;
    if raw.id.is_empty() || !raw.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::decode("bulk job", "job id is not alphanumeric"));
    }
    Ok(BulkJob {
        id: raw.id,
        object: raw.object,
        state: JobState::parse(&raw.state),
        error_message: raw.error_message,
        records_processed: raw.number_records_processed,
    })
}

/// The body of a create request: CSV, comma, LF (the decoder's expectations).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "client"), allow(dead_code))] // wire helper of `Client`
pub(crate) struct CreateJob<'a> {
    pub(crate) operation: &'static str,
    pub(crate) query: &'a str,
    pub(crate) content_type: &'static str,
    pub(crate) column_delimiter: &'static str,
    pub(crate) line_ending: &'static str,
}

/// The position of the next result page; `None` once the last page was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locator(pub String);

/// Reads `Sforce-Locator`: the last page sends the string `null` (or nothing).
pub fn parse_locator(header: Option<&str>) -> Result<Option<Locator>, Error> {
    match header.map(str::trim) {
        None | Some("") | Some("null") => Ok(None),
        Some(l) if l.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(Locator(l.to_owned()))),
        Some(_) => Err(Error::decode("Sforce-Locator", "unexpected characters")),
    }
}

/// One result page as received, before decoding: fetching and decoding are separate steps so
/// an extraction can decode a page on another thread while the next one is being fetched.
#[derive(Debug, Clone)]
pub struct RawBulkPage {
    /// The body: CSV, or its gzip when the HTTP layer did not inflate it (see
    /// [`crate::bulk_csv::prepare_page`]).
    pub body: Vec<u8>,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<Locator>,
    /// The most bytes the body may inflate to (a decompression-bomb bound).
    pub max_bytes: u64,
}

impl RawBulkPage {
    /// Inflates (when gzip), strips NUL bytes and decodes the page with `decoder`, the decoder
    /// of the page's job (it remembers the header across pages).
    pub fn decode(self, decoder: &mut crate::bulk_csv::CsvDecoder) -> Result<BulkPage, Error> {
        let RawBulkPage {
            body,
            next,
            max_bytes,
        } = self;
        // An inflated (or NUL-stripped) copy replaces the body, which is freed before decoding.
        let page = match crate::bulk_csv::prepare_page(&body, max_bytes)? {
            std::borrow::Cow::Borrowed(_) => body,
            std::borrow::Cow::Owned(prepared) => {
                drop(body);
                prepared
            }
        };
        let csv_bytes = page.len() as u64;
        // The page becomes the decoded page's text, not copied.
        let records = decoder.decode_owned_page(page)?;
        Ok(BulkPage {
            records,
            next,
            csv_bytes,
        })
    }
}

/// One decoded result page.
#[derive(Debug, Clone)]
pub struct BulkPage {
    /// The records (typed from CSV, see [`crate::bulk_csv`]).
    pub records: crate::bulk_csv::CsvPage,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<Locator>,
    /// Bytes of CSV decoded (after inflation), for throughput accounting.
    pub csv_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_create_and_poll_bodies() {
        let created = br#"{"id":"7986gEXAMPLE4X2OPT","operation":"query","object":"Account","createdById":"0055f",
          "createdDate":"2022-01-02T17:38:59.000+0000","systemModstamp":"2022-01-02T17:38:59.000+0000",
          "state":"UploadComplete","concurrencyMode":"Parallel","contentType":"CSV","apiVersion":63.0,
          "lineEnding":"LF","columnDelimiter":"COMMA"}"#;
        let j = parse_job(created).unwrap();
        assert_eq!(j.id, "7986gEXAMPLE4X2OPT");
        assert_eq!(j.state, JobState::UploadComplete);
        assert!(!j.state.is_terminal());
        let failed = br#"{"id":"750x","object":"Account","state":"Failed","jobType":"V2Query",
          "numberRecordsProcessed":0,"retries":15,"errorMessage":"Retried more than fifteen times"}"#;
        let j = parse_job(failed).unwrap();
        assert_eq!(j.state, JobState::Failed);
        assert!(j.state.is_terminal());
        assert_eq!(
            j.error_message.as_deref(),
            Some("Retried more than fifteen times")
        );
        assert!(parse_job(br#"{"id":"../x","state":"InProgress"}"#).is_err());
        assert_eq!(
            parse_job(br#"{"id":"7","state":"Queued"}"#).unwrap().state,
            JobState::Other("Queued".into())
        );
    }

    #[test]
    fn locator_null_means_done() {
        assert_eq!(parse_locator(Some("null")).unwrap(), None);
        assert_eq!(parse_locator(None).unwrap(), None);
        assert_eq!(
            parse_locator(Some("MTAwMDA")).unwrap(),
            Some(Locator("MTAwMDA".into()))
        );
        assert!(parse_locator(Some("a b")).is_err());
        assert!(parse_locator(Some("a\u{7f}")).is_err());
    }
}
