//! The REST API under `/services/data/`: one dispatcher that applies what every call shares
//! (session check, faults, the rolling API counter, `Sforce-Limit-Info`) and then routes on
//! the path segments. Salesforce clients add or drop trailing slashes freely
//! (simple-salesforce calls `query/` and `limits/`), so empty segments are ignored.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::faults::{FaultKind, Site};
use super::{
    LATEST_API_VERSION, OLDEST_API_MAJOR, Shared, bulk, limits, lock, read_org, write_org,
};
use crate::org::{ApiError, LiveOrg, UpsertOutcome};

/// Default and largest REST query batch (`Sforce-Query-Options: batchSize`).
const MAX_BATCH: usize = 2000;
/// Smallest batch Salesforce honours.
const MIN_BATCH: usize = 200;

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

/// A Salesforce error response: the JSON array body with the error's status.
pub(crate) fn api_error(error: &ApiError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &error.body())
}

/// Shorthand for an [`ApiError`] response.
pub(crate) fn error(status: u16, code: &str, message: &str) -> Response {
    api_error(&ApiError::new(status, code, message))
}

pub(crate) fn not_found() -> Response {
    error(404, "NOT_FOUND", "The requested resource does not exist")
}

fn method_not_allowed(method: &Method, allowed: &str) -> Response {
    error(
        405,
        "METHOD_NOT_ALLOWED",
        &format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
    )
}

fn invalid_session() -> Response {
    error(401, "INVALID_SESSION_ID", "Session expired or invalid")
}

/// Season label of an API version: v20.0 was Winter '11, three releases a year since.
fn version_label(major: u32) -> String {
    let index = major.saturating_sub(20);
    let season = ["Winter", "Spring", "Summer"][(index % 3) as usize];
    format!("{season} '{:02}", 11 + index / 3)
}

fn latest_major() -> u32 {
    LATEST_API_VERSION
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(OLDEST_API_MAJOR)
}

/// `GET /services/data/`: the versions list. Not authenticated and not counted.
pub(crate) async fn versions() -> Response {
    let list: Vec<Value> = (OLDEST_API_MAJOR..=latest_major())
        .map(|major| {
            json!({
                "label": version_label(major),
                "url": format!("/services/data/v{major}.0"),
                "version": format!("{major}.0"),
            })
        })
        .collect();
    json_response(StatusCode::OK, &list)
}

/// `vNN.0` → `NN.0` when served.
fn parse_version(segment: &str) -> Option<&str> {
    let number = segment.strip_prefix('v')?;
    let (major, minor) = number.split_once('.')?;
    let major: u32 = major.parse().ok()?;
    (minor == "0" && (OLDEST_API_MAJOR..=latest_major()).contains(&major)).then_some(number)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("OAuth "))
        .map(str::trim)
}

/// The parsed query string (last value wins).
pub(crate) fn query_params(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// What a handler needs to know about the request.
pub(crate) struct Call<'a> {
    pub(crate) shared: &'a Arc<Shared>,
    pub(crate) method: &'a Method,
    /// `62.0`
    pub(crate) version: &'a str,
    pub(crate) params: HashMap<String, String>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: Bytes,
}

/// Every `/services/data/...` request but the versions list.
pub(crate) async fn api(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let rest = path.strip_prefix("/services/data/").unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let Some((&first, route)) = segments.split_first() else {
        return versions().await;
    };
    let Some(version) = parse_version(first) else {
        return not_found();
    };

    let Some(token) = bearer(&headers) else {
        return invalid_session();
    };
    let now = Instant::now();
    if !lock(&shared.oauth).access_valid(token, now) {
        return invalid_session();
    }

    let fired = lock(&shared.faults).fire(Site::AnyCall);
    for kind in fired {
        match kind {
            FaultKind::ExpiredSession => {
                lock(&shared.oauth).revoke(token);
                return invalid_session();
            }
            FaultKind::ServerError => {
                return error(
                    500,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId if you contact support: 1930419232-19662 (-1205391204)",
                );
            }
            FaultKind::ServiceUnavailable => {
                return error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable");
            }
            FaultKind::Slow(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            _ => {}
        }
    }

    let (counted, used, max) = {
        let mut calls = lock(&shared.api_calls);
        let counted = calls.try_count(now);
        (counted, calls.used(now), calls.max())
    };
    let mut response = if counted {
        let call = Call {
            shared: &shared,
            method: &method,
            version,
            params: query_params(&uri),
            headers: &headers,
            body,
        };
        route_call(&call, route).await
    } else {
        error(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    };
    if let Ok(value) = HeaderValue::from_str(&limits::limit_info(used, max)) {
        response.headers_mut().insert("Sforce-Limit-Info", value);
    }
    if !lock(&shared.faults).fire(Site::AnyResponse).is_empty() {
        response = truncate(response).await;
    }
    response
}

/// Sends the first half of the body but announces the full length, so the client sees the
/// connection close mid-body.
async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if bytes.len() < 2 {
        return Response::from_parts(parts, Body::from(bytes));
    }
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let half = bytes.slice(..bytes.len() / 2);
    // Yield the half, then pause before ending: the pause lets hyper flush the headers and
    // the half to the client before it notices the short body and drops the connection.
    let stream = futures::stream::unfold(Some(half), |state| async move {
        match state {
            Some(half) => Some((Ok::<Bytes, std::io::Error>(half), None)),
            None => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                None
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

async fn route_call(call: &Call<'_>, route: &[&str]) -> Response {
    let get = call.method == Method::GET;
    match route {
        [] if get => resources(call),
        ["limits"] if get => limits_response(call),
        ["limits", "recordCount"] if get => record_count(call),
        ["sobjects"] if get => {
            if not_modified_since_start(call) {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            json_response(
                StatusCode::OK,
                &read_org(&call.shared.org).describe_global(),
            )
        }
        ["sobjects", object] => match *call.method {
            Method::GET => value_or_error(read_org(&call.shared.org).sobject_basic(object)),
            Method::POST => create(call, object),
            _ => method_not_allowed(call.method, "GET,HEAD,POST"),
        },
        ["sobjects", object, "describe"] if get => {
            if not_modified_since_start(call) {
                return StatusCode::NOT_MODIFIED.into_response();
            }
            value_or_error(read_org(&call.shared.org).describe(object))
        }
        ["sobjects", object, which @ ("updated" | "deleted")] if get => {
            let start = call
                .params
                .get("start")
                .map(String::as_str)
                .unwrap_or_default();
            let end = call
                .params
                .get("end")
                .map(String::as_str)
                .unwrap_or_default();
            let org = read_org(&call.shared.org);
            value_or_error(if *which == "updated" {
                org.updated(object, start, end)
            } else {
                org.deleted(object, start, end)
            })
        }
        ["sobjects", object, id] => record(call, object, id),
        ["sobjects", object, second, third] => match *call.method {
            Method::GET => blob(call, object, second, third),
            Method::PATCH => upsert(call, object, second, third),
            _ => method_not_allowed(call.method, "GET,PATCH"),
        },
        [endpoint @ ("query" | "queryAll")] if get => {
            first_query_page(call, *endpoint == "queryAll")
        }
        ["query" | "queryAll", locator] if get => query_more(call, locator),
        ["composite", "sobjects"] => collections(call),
        ["composite", "sobjects", object, ext_field] if call.method == Method::PATCH => {
            match parse_json(&call.body) {
                Ok(body) => value_or_error(
                    write_org(&call.shared.org).collection_upsert(object, ext_field, &body),
                ),
                Err(e) => api_error(&e),
            }
        }
        ["jobs", "query", rest @ ..] => bulk::route(call, rest).await,
        _ => not_found(),
    }
}

/// Whether `If-Modified-Since` is at or after the server's start: the simulator's metadata is
/// fixed once serving, so describe then answers 304 as Salesforce does for unchanged metadata.
fn not_modified_since_start(call: &Call<'_>) -> bool {
    call.headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .is_some_and(|since| since >= call.shared.cfg.started_epoch_seconds)
}

/// Epoch seconds of an RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as u32 + 1;
    let day: u32 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|n| n.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&m)
        || !(0..61).contains(&s)
    {
        return None;
    }
    Some(crate::time::days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s)
}

fn value_or_error(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(value) => json_response(StatusCode::OK, &value),
        Err(e) => api_error(&e),
    }
}

/// A JSON request body, or the `JSON_PARSER_ERROR` error.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::new(400, "JSON_PARSER_ERROR", e.to_string()))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match parse_json(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::new(
            400,
            "JSON_PARSER_ERROR",
            "Expected a JSON object for the record's fields",
        )),
    }
}

fn resources(call: &Call<'_>) -> Response {
    let base = format!("/services/data/v{}", call.version);
    let cfg = &call.shared.cfg;
    let mut map = Map::new();
    for name in [
        "tooling",
        "metadata",
        "eclair",
        "folders",
        "prechatForms",
        "chatter",
        "tabs",
        "appMenu",
        "quickActions",
        "queryAll",
        "commerce",
        "wave",
        "iot",
        "analytics",
        "search",
        "composite",
        "parameterizedSearch",
        "theme",
        "nouns",
        "event",
        "serviceTemplates",
        "recent",
        "connect",
        "licensing",
        "limits",
        "process",
        "dedupe",
        "async-queries",
        "query",
        "jobs",
        "match",
        "emailConnect",
        "compactLayouts",
        "knowledgeManagement",
        "sobjects",
        "actions",
        "support",
    ] {
        map.insert(name.to_owned(), Value::from(format!("{base}/{name}")));
    }
    map.insert(
        "identity".to_owned(),
        Value::from(format!(
            "{}/id/{}/{}",
            cfg.instance_url, cfg.org_id, cfg.user_id
        )),
    );
    json_response(StatusCode::OK, &Value::Object(map))
}

fn limits_response(call: &Call<'_>) -> Response {
    let now = Instant::now();
    let (used, max) = {
        let mut calls = lock(&call.shared.api_calls);
        (calls.used(now), calls.max())
    };
    let jobs = lock(&call.shared.bulk_jobs_started).used(now);
    json_response(StatusCode::OK, &limits::limits_body(used, max, jobs))
}

fn record_count(call: &Call<'_>) -> Response {
    let objects: Option<Vec<String>> = call.params.get("sObjects").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let org = read_org(&call.shared.org);
    json_response(StatusCode::OK, &org.record_counts(objects.as_deref()))
}

/// The `{"id","success","errors"}` body of a created record.
fn created(id: &str) -> Response {
    json_response(
        StatusCode::CREATED,
        &json!({ "id": id, "success": true, "errors": [] }),
    )
}

fn create(call: &Call<'_>, object: &str) -> Response {
    let fields = match parse_object(&call.body) {
        Ok(fields) => fields,
        Err(e) => return api_error(&e),
    };
    match write_org(&call.shared.org).create(object, &fields) {
        Ok(id) => created(&id),
        Err(e) => api_error(&e),
    }
}

fn record(call: &Call<'_>, object: &str, id: &str) -> Response {
    match *call.method {
        Method::GET => {
            let fields: Option<Vec<String>> = call.params.get("fields").map(|list| {
                list.split(',')
                    .map(|f| f.trim().to_owned())
                    .filter(|f| !f.is_empty())
                    .collect()
            });
            let version = format!("v{}", call.version);
            value_or_error(read_org(&call.shared.org).get_record(
                object,
                id,
                fields.as_deref(),
                &version,
            ))
        }
        Method::PATCH => {
            let fields = match parse_object(&call.body) {
                Ok(fields) => fields,
                Err(e) => return api_error(&e),
            };
            match write_org(&call.shared.org).update(object, id, &fields) {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => api_error(&e),
            }
        }
        Method::DELETE => match write_org(&call.shared.org).delete(Some(object), id) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => api_error(&e),
        },
        _ => method_not_allowed(call.method, "GET,PATCH,DELETE,HEAD"),
    }
}

fn blob(call: &Call<'_>, object: &str, id: &str, field: &str) -> Response {
    match read_org(&call.shared.org).blob(object, id, field) {
        Ok((bytes, content_type)) => {
            let content_type = HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type)],
                bytes,
            )
                .into_response()
        }
        Err(e) => api_error(&e),
    }
}

fn upsert(call: &Call<'_>, object: &str, ext_field: &str, value: &str) -> Response {
    let fields = match parse_object(&call.body) {
        Ok(fields) => fields,
        Err(e) => return api_error(&e),
    };
    match write_org(&call.shared.org).upsert(object, ext_field, value, &fields) {
        Ok(UpsertOutcome::Created(id)) => created(&id),
        Ok(UpsertOutcome::Updated(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(UpsertOutcome::Multiple(ids)) => {
            let urls: Vec<String> = ids
                .iter()
                .map(|id| format!("/services/data/v{}/sobjects/{object}/{id}", call.version))
                .collect();
            json_response(StatusCode::MULTIPLE_CHOICES, &urls)
        }
        Err(e) => api_error(&e),
    }
}

fn collections(call: &Call<'_>) -> Response {
    match *call.method {
        Method::POST | Method::PATCH => {
            let body = match parse_json(&call.body) {
                Ok(body) => body,
                Err(e) => return api_error(&e),
            };
            let mut org = write_org(&call.shared.org);
            value_or_error(if call.method == Method::POST {
                org.collection_create(&body)
            } else {
                org.collection_update(&body)
            })
        }
        Method::DELETE => {
            let ids: Vec<String> = call
                .params
                .get("ids")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if ids.is_empty() {
                return error(400, "REQUIRED_FIELD_MISSING", "At least 1 Id is required.");
            }
            let all_or_none = call
                .params
                .get("allOrNone")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            value_or_error(write_org(&call.shared.org).collection_delete(&ids, all_or_none))
        }
        _ => method_not_allowed(call.method, "POST,PATCH,DELETE"),
    }
}

/// The batch size a request asks for with `Sforce-Query-Options: batchSize=N`, clamped to
/// what Salesforce honours; `None` when the header is absent.
fn requested_batch(headers: &HeaderMap) -> Option<usize> {
    let options = headers.get("Sforce-Query-Options")?.to_str().ok()?;
    options.split(',').find_map(|option| {
        let (name, value) = option.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("batchSize") {
            return None;
        }
        let n: usize = value.trim().parse().ok()?;
        Some(n.clamp(MIN_BATCH, MAX_BATCH))
    })
}

/// A REST query page, fields in Salesforce's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryPage {
    total_size: usize,
    done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_records_url: Option<String>,
    records: Vec<Value>,
}

fn page_response(call: &Call<'_>, page: super::cursors::Page) -> Response {
    let next_records_url = page
        .next
        .map(|locator| format!("/services/data/v{}/query/{locator}", call.version));
    json_response(
        StatusCode::OK,
        &QueryPage {
            total_size: page.total_size,
            done: next_records_url.is_none(),
            next_records_url,
            records: page.records,
        },
    )
}

fn first_query_page(call: &Call<'_>, all_rows: bool) -> Response {
    let Some(soql) = call.params.get("q") else {
        return error(400, "MALFORMED_QUERY", "A query string has to be specified");
    };
    if !lock(&call.shared.faults).fire(Site::Query).is_empty() {
        return error(
            400,
            "QUERY_TIMEOUT",
            "Your query request was running for too long.",
        );
    }
    let version = format!("v{}", call.version);
    let output = match read_org(&call.shared.org).query(soql, all_rows, &version) {
        Ok(output) => output,
        Err(e) => return api_error(&e),
    };
    let mut batch = requested_batch(call.headers).unwrap_or(MAX_BATCH);
    if long_text_fields_selected(&read_org(&call.shared.org), soql) >= 2 {
        batch = batch.min(MIN_BATCH);
    }
    let page = lock(&call.shared.cursors).first_page(
        output.total_size,
        output.records,
        batch,
        Instant::now(),
    );
    page_response(call, page)
}

/// How many long text area fields (textarea longer than 255) the top-level SELECT list names:
/// with two or more, Salesforce caps the batch at 200 whatever `batchSize` asks. Only plain
/// field names of the queried object count; relationship paths and subqueries are ignored.
fn long_text_fields_selected(org: &LiveOrg, soql: &str) -> usize {
    let lower = soql.to_ascii_lowercase();
    let (Some(select), Some(from)) = (lower.find("select "), lower.find(" from ")) else {
        return 0;
    };
    let Some(object) = bulk::object_of(soql) else {
        return 0;
    };
    let Ok(describe) = org.describe(object) else {
        return 0;
    };
    let long_text: Vec<String> = describe["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter(|f| {
                    f["type"] == "textarea" && f["length"].as_u64().is_some_and(|n| n > 255)
                })
                .filter_map(|f| f["name"].as_str().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default();
    lower
        .get(select + "select ".len()..from)
        .unwrap_or_default()
        .split(',')
        .filter(|field| long_text.iter().any(|name| name == field.trim()))
        .count()
}

fn query_more(call: &Call<'_>, locator: &str) -> Response {
    let invalid = || error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    if !lock(&call.shared.faults).fire(Site::QueryMore).is_empty() {
        lock(&call.shared.cursors).kill(locator);
        return invalid();
    }
    let batch = requested_batch(call.headers);
    match lock(&call.shared.cursors).page(locator, batch, Instant::now()) {
        Ok(page) => page_response(call, page),
        Err(_) => invalid(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_labels_follow_the_release_calendar() {
        assert_eq!(version_label(20), "Winter '11");
        assert_eq!(version_label(21), "Spring '11");
        assert_eq!(version_label(23), "Winter '12");
        assert_eq!(version_label(62), "Winter '25");
        assert_eq!(parse_version("v62.0"), Some("62.0"));
        assert_eq!(parse_version("v63.0"), None);
        assert_eq!(parse_version("v30.0"), None);
        assert_eq!(parse_version("62.0"), None);
    }

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
    }

    #[test]
    fn batch_size_is_clamped() {
        let mut headers = HeaderMap::new();
        assert_eq!(requested_batch(&headers), None);
        headers.insert(
            "Sforce-Query-Options",
            HeaderValue::from_static("batchSize=500"),
        );
        assert_eq!(requested_batch(&headers), Some(500));
        headers.insert(
            "Sforce-Query-Options",
            HeaderValue::from_static("batchSize=5"),
        );
        assert_eq!(requested_batch(&headers), Some(200));
        headers.insert(
            "Sforce-Query-Options",
            HeaderValue::from_static("batchSize=9000"),
        );
        assert_eq!(requested_batch(&headers), Some(2000));
    }
}
