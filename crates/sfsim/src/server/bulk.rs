//! Bulk API 2.0 query jobs (`/jobs/query`): create, poll, abort, delete, and results paged by
//! `Sforce-Locator`.
//!
//! The query is checked and run once, when the job is created, through
//! [`LiveOrg::bulk_query`](crate::org::LiveOrg::bulk_query): Salesforce rejects a bad query
//! (MALFORMED_QUERY, INVALIDENTITY, compound fields) at creation with HTTP 400, and the rows a
//! job returns are a snapshot. Status polls then advance the state
//! (`UploadComplete` → `InProgress` → `JobComplete`), so a client that does not poll never
//! sees results; pages are cut from the in-memory result with
//! [`BulkOutput::write_csv`](crate::org::BulkOutput::write_csv).

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde::Serialize;
use serde_json::Value;

use super::faults::{FaultKind, Site};
use super::rest::{Call, api_error, error, json_response, not_found, parse_json};
use super::{lock, read_org};
use crate::SfId;
use crate::org::{BulkOutput, CsvOptions, LineEnding};

/// Rows per results page when the client sends no `maxRecords` (simple-salesforce's default).
const DEFAULT_MAX_RECORDS: usize = 50_000;

/// A job's state, as Salesforce spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum JobState {
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
}

#[derive(Debug)]
struct Job {
    id: String,
    operation: &'static str,
    object: String,
    created_date: String,
    api_version: String,
    column_delimiter: &'static str,
    line_ending: &'static str,
    csv: CsvOptions,
    state: JobState,
    polls: u32,
    output: Arc<BulkOutput>,
    /// Set by a Bulk failure fault: the job ends `Failed` with this message.
    fails_with: Option<&'static str>,
    error_message: Option<&'static str>,
    started: Instant,
    processing_ms: u64,
}

/// Every job of the org.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    jobs: HashMap<String, Job>,
    serial: u64,
}

/// The job JSON: the creation shape, plus the status fields when `status` is set.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobInfo<'a> {
    id: &'a str,
    operation: &'a str,
    object: &'a str,
    created_by_id: &'a str,
    created_date: &'a str,
    system_modstamp: &'a str,
    state: JobState,
    concurrency_mode: &'static str,
    content_type: &'static str,
    api_version: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_type: Option<&'static str>,
    line_ending: &'a str,
    column_delimiter: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    number_records_processed: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_processing_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_pk_chunking_supported: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

fn info<'a>(job: &'a Job, user_id: &'a str, status: bool) -> JobInfo<'a> {
    let complete = job.state == JobState::JobComplete;
    JobInfo {
        id: &job.id,
        operation: job.operation,
        object: &job.object,
        created_by_id: user_id,
        created_date: &job.created_date,
        system_modstamp: &job.created_date,
        state: job.state,
        concurrency_mode: "Parallel",
        content_type: "CSV",
        api_version: job.api_version.parse().unwrap_or_default(),
        job_type: status.then_some("V2Query"),
        line_ending: job.line_ending,
        column_delimiter: job.column_delimiter,
        number_records_processed: status.then(|| if complete { job.output.len() } else { 0 }),
        retries: status.then_some(0),
        total_processing_time: status.then_some(job.processing_ms),
        is_pk_chunking_supported: status.then_some(true),
        error_message: job.error_message,
    }
}

fn invalid_job(message: &str) -> Response {
    error(400, "INVALIDJOB", message)
}

/// Routes `jobs/query/...` (the segments after `query`).
pub(crate) async fn route(call: &Call<'_>, rest: &[&str]) -> Response {
    match (call.method, rest) {
        (&Method::POST, []) => create(call),
        (&Method::GET, []) => list(call),
        (&Method::GET, [id]) => status(call, id),
        (&Method::PATCH, [id]) => abort(call, id),
        (&Method::DELETE, [id]) => {
            if lock(&call.shared.jobs).jobs.remove(*id).is_some() {
                StatusCode::NO_CONTENT.into_response()
            } else {
                not_found()
            }
        }
        (&Method::GET, [id, "results"]) => results(call, id),
        _ => not_found(),
    }
}

fn delimiter(name: &str) -> Option<(&'static str, u8)> {
    Some(match name {
        "COMMA" => ("COMMA", b','),
        "BACKQUOTE" => ("BACKQUOTE", b'`'),
        "CARET" => ("CARET", b'^'),
        "PIPE" => ("PIPE", b'|'),
        "SEMICOLON" => ("SEMICOLON", b';'),
        "TAB" => ("TAB", b'\t'),
        _ => return None,
    })
}

/// The object a SOQL statement reads: the word after the top-level `FROM`.
pub(crate) fn object_of(soql: &str) -> Option<&str> {
    let mut words = soql.split_whitespace();
    words.find(|w| w.eq_ignore_ascii_case("from"))?;
    words
        .next()
        .map(|w| w.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_'))
}

fn create(call: &Call<'_>) -> Response {
    let body = match parse_json(&call.body) {
        Ok(body) => body,
        Err(e) => return api_error(&e),
    };
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let (operation, all_rows) = match text("operation") {
        Some("query") => ("query", false),
        Some("queryAll") => ("queryAll", true),
        _ => return invalid_job("Invalid operation: must be query or queryAll"),
    };
    let Some(soql) = text("query").filter(|q| !q.trim().is_empty()) else {
        return invalid_job("The query field is required for query jobs");
    };
    if text("contentType").is_some_and(|ct| ct != "CSV") {
        return invalid_job("Invalid contentType: only CSV is supported");
    }
    let Some((column_delimiter, delimiter_byte)) =
        delimiter(text("columnDelimiter").unwrap_or("COMMA"))
    else {
        return invalid_job("Invalid columnDelimiter");
    };
    let (line_ending_name, line_ending) = match text("lineEnding").unwrap_or("LF") {
        "LF" => ("LF", LineEnding::Lf),
        "CRLF" => ("CRLF", LineEnding::Crlf),
        _ => return invalid_job("Invalid lineEnding"),
    };

    let mut fails_with = None;
    for kind in lock(&call.shared.faults).fire(Site::BulkCreate) {
        match kind {
            FaultKind::InvalidEntity => {
                let object = object_of(soql).unwrap_or("unknown");
                return error(
                    400,
                    "INVALIDENTITY",
                    &format!("Entity '{object}' is not supported by the Bulk API."),
                );
            }
            FaultKind::BulkFailedRetries => fails_with = Some("Retried more than fifteen times"),
            FaultKind::BulkFailedTimeout => {
                fails_with = Some("QUERY_TIMEOUT : Your query request was running for too long.");
            }
            _ => {}
        }
    }

    let started = Instant::now();
    let (output, created_date) = {
        let org = read_org(&call.shared.org);
        let output = match org.bulk_query(soql, all_rows) {
            Ok(output) => output,
            Err(e) => return api_error(&e),
        };
        (output, crate::time::datetime_millis(org.now_millis()))
    };
    if !lock(&call.shared.bulk_jobs_started).try_count(started) {
        return error(
            400,
            "LIMIT_EXCEEDED",
            "Max bulk v2 query jobs (10000) per 24 hrs has been reached",
        );
    }
    let processing_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut jobs = lock(&call.shared.jobs);
    jobs.serial += 1;
    let id15 = format!("750{:012}", jobs.serial % 1_000_000_000_000);
    let id = SfId::from_15(&id15)
        .map(|id| id.as_str().to_owned())
        .unwrap_or(id15);
    let job = Job {
        id: id.clone(),
        operation,
        object: output.object.clone(),
        created_date,
        api_version: call.version.to_owned(),
        column_delimiter,
        line_ending: line_ending_name,
        csv: CsvOptions {
            delimiter: delimiter_byte,
            line_ending,
        },
        state: JobState::UploadComplete,
        polls: 0,
        output: Arc::new(output),
        fails_with,
        error_message: None,
        started,
        processing_ms,
    };
    let response = json_response(StatusCode::OK, &info(&job, &call.shared.cfg.user_id, false));
    jobs.jobs.insert(id, job);
    response
}

fn list(call: &Call<'_>) -> Response {
    let jobs = lock(&call.shared.jobs);
    let user_id = call.shared.cfg.user_id.as_str();
    let mut records: Vec<&Job> = jobs.jobs.values().collect();
    records.sort_by(|a, b| a.id.cmp(&b.id));
    let records: Vec<JobInfo<'_>> = records
        .into_iter()
        .map(|job| info(job, user_id, true))
        .collect();
    json_response(
        StatusCode::OK,
        &serde_json::json!({ "done": true, "records": records, "nextRecordsUrl": null }),
    )
}

fn status(call: &Call<'_>, id: &str) -> Response {
    let polls_needed = call.shared.cfg.bulk_polls_to_complete;
    let mut jobs = lock(&call.shared.jobs);
    let Some(job) = jobs.jobs.get_mut(id) else {
        return not_found();
    };
    if matches!(job.state, JobState::UploadComplete | JobState::InProgress) {
        job.polls += 1;
        if job.polls >= polls_needed {
            job.processing_ms = job
                .processing_ms
                .max(u64::try_from(job.started.elapsed().as_millis()).unwrap_or(u64::MAX));
            match job.fails_with {
                Some(message) => {
                    job.state = JobState::Failed;
                    job.error_message = Some(message);
                }
                None => job.state = JobState::JobComplete,
            }
        } else {
            job.state = JobState::InProgress;
        }
    }
    json_response(StatusCode::OK, &info(job, &call.shared.cfg.user_id, true))
}

fn abort(call: &Call<'_>, id: &str) -> Response {
    let body = match parse_json(&call.body) {
        Ok(body) => body,
        Err(e) => return api_error(&e),
    };
    let mut jobs = lock(&call.shared.jobs);
    let Some(job) = jobs.jobs.get_mut(id) else {
        return not_found();
    };
    if body.get("state").and_then(Value::as_str) != Some("Aborted") {
        return invalid_job("Only the state Aborted can be set on a query job");
    }
    if !matches!(job.state, JobState::UploadComplete | JobState::InProgress) {
        return invalid_job("Job is already completed, failed or aborted and cannot be aborted");
    }
    job.state = JobState::Aborted;
    json_response(StatusCode::OK, &info(job, &call.shared.cfg.user_id, false))
}

/// Locators are the base64 of the next row offset, as Salesforce's look (`MTAwMDA` = 10000).
fn encode_locator(offset: usize) -> String {
    STANDARD_NO_PAD.encode(offset.to_string())
}

fn decode_locator(locator: &str) -> Option<usize> {
    let bytes = STANDARD_NO_PAD.decode(locator.trim_end_matches('=')).ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

fn results(call: &Call<'_>, id: &str) -> Response {
    let (output, csv, version_ok, state) = {
        let jobs = lock(&call.shared.jobs);
        let Some(job) = jobs.jobs.get(id) else {
            return not_found();
        };
        (
            Arc::clone(&job.output),
            job.csv,
            job.api_version == call.version,
            job.state,
        )
    };
    if !version_ok {
        return error(
            409,
            "INVALIDJOB",
            "The job was created with a different API version; fetch its results with the same version",
        );
    }
    if state != JobState::JobComplete {
        return invalid_job("Job is not in JobComplete state; results are not available");
    }
    let offset = match call.params.get("locator").map(String::as_str) {
        None | Some("") => 0,
        Some(locator) => match decode_locator(locator) {
            Some(offset) if offset <= output.len() => offset,
            _ => return error(400, "INVALID_LOCATOR", "Invalid locator"),
        },
    };
    let max_records = match call.params.get("maxRecords") {
        None => DEFAULT_MAX_RECORDS,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return invalid_job("maxRecords must be a positive integer"),
        },
    };
    let end = offset.saturating_add(max_records).min(output.len());
    let header_row = offset == 0 || call.shared.cfg.bulk_header_every_page;
    let mut body = Vec::new();
    output.write_csv(offset..end, &csv, header_row, &mut body);
    if !lock(&call.shared.faults).fire(Site::BulkResults).is_empty() {
        insert_nul(&mut body, header_row);
    }
    let locator = if end < output.len() {
        encode_locator(end)
    } else {
        "null".to_owned()
    };

    let gzip = call
        .headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        match encoder.write_all(&body).and_then(|()| encoder.finish()) {
            Ok(compressed) => {
                let mut response = compressed.into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                response
            }
            Err(_) => body.into_response(),
        }
    } else {
        body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    headers.insert("Sforce-NumberOfRecords", HeaderValue::from(end - offset));
    if let Ok(value) = HeaderValue::from_str(&locator) {
        headers.insert("Sforce-Locator", value);
    }
    response
}

/// Puts a NUL byte at the end of the first data row (before its line ending), the way NULs
/// from rich-text fields reach Bulk CSV (airbyte#8300).
fn insert_nul(body: &mut Vec<u8>, has_header: bool) {
    let mut row_end = 0;
    let mut rows_to_skip = usize::from(has_header);
    for (index, &byte) in body.iter().enumerate() {
        if byte == b'\n' {
            if rows_to_skip == 0 {
                row_end = index;
                break;
            }
            rows_to_skip -= 1;
        }
    }
    if row_end == 0 {
        return;
    }
    let position = if body.get(row_end - 1) == Some(&b'\r') {
        row_end - 1
    } else {
        row_end
    };
    body.insert(position, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_look_like_salesforce_ones() {
        assert_eq!(encode_locator(10000), "MTAwMDA");
        assert_eq!(decode_locator("MTAwMDA"), Some(10000));
        assert_eq!(decode_locator("null"), None);
        assert_eq!(
            object_of("SELECT Id FROM Account WHERE Name = 'x'"),
            Some("Account")
        );
        assert_eq!(object_of("select id from Project__c"), Some("Project__c"));
    }

    #[test]
    fn nul_goes_into_the_first_data_row() {
        let mut body = b"Id,Name\r\n1,a\r\n2,b\r\n".to_vec();
        insert_nul(&mut body, true);
        assert_eq!(body, b"Id,Name\r\n1,a\0\r\n2,b\r\n");
        let mut body = b"1,a\n".to_vec();
        insert_nul(&mut body, false);
        assert_eq!(body, b"1,a\0\n");
    }
}
