//! [`Client`]: the HTTPS implementation of [`SalesforceApi`].
//!
//! Every call goes through one request loop (`Client::send`) that: refuses to start when the
//! API budget is spent; sends the bearer token; records `Sforce-Limit-Info`; on 401
//! `INVALID_SESSION_ID` refreshes the session once and resends; on transient failures (5xx,
//! timeouts, connection errors) backs off with jitter for a bounded number of attempts. Writes
//! that are not idempotent are resent only when the request provably did not run (connection
//! refused, 503).

use std::io::Read;

use async_trait::async_trait;
use futures::TryStreamExt;
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

use crate::Record;
use crate::api::{BlobStream, SalesforceApi};
use crate::auth::{Authenticator, Credentials, RotationHook};
use crate::budget::{Budget, DEFAULT_STOP_SHARE, Limits, parse_limit_info};
use crate::bulk::{BulkJob, CreateJob, Locator, RawBulkPage, parse_job, parse_locator};
use crate::describe::{ApiVersion, DescribeGlobal, SObjectDescribe};
use crate::error::{Error, classify};
use crate::query::{
    DeletedRecords, QueryPage, UpdatedIds, parse_deleted, parse_query_page, parse_updated,
};
use crate::retry::RetryPolicy;
use crate::time::Timestamp;
use crate::tls::{TransportOptions, http_client, http_client_identity};
use crate::writes::{self, MAX_BATCH, RecordResult, WriteOp};

/// The REST API version used unless configured otherwise.
pub const DEFAULT_API_VERSION: &str = "62.0";

/// The default bound on a response body read into memory.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 512 << 20;

/// Configures and builds a [`Client`].
#[must_use]
pub struct ClientBuilder {
    login_url: String,
    credentials: Credentials,
    transport: TransportOptions,
    api_version: String,
    budget_share: f64,
    retry: RetryPolicy,
    on_rotate: Option<RotationHook>,
    query_batch_size: Option<u32>,
    max_body_bytes: u64,
    bulk_gzip: bool,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("login_url", &self.login_url)
            .field("credentials", &self.credentials)
            .field("api_version", &self.api_version)
            .field("budget_share", &self.budget_share)
            .field("on_rotate", &self.on_rotate.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Trust these extra PEM roots (e.g. the simulator's CA).
    pub fn extra_root_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.transport.extra_roots_pem.push(pem.into());
        self
    }

    /// Whether to trust the platform's roots (default true).
    pub fn native_roots(mut self, yes: bool) -> Self {
        self.transport.native_roots = yes;
        self
    }

    /// All transport options at once.
    pub fn transport(mut self, t: TransportOptions) -> Self {
        self.transport = t;
        self
    }

    /// The REST API version, e.g. `"62.0"`.
    pub fn api_version(mut self, v: impl Into<String>) -> Self {
        self.api_version = v.into();
        self
    }

    /// Stop at this share of the daily API limit (default 0.8).
    pub fn budget_share(mut self, share: f64) -> Self {
        self.budget_share = share;
        self
    }

    /// Retry policy for transient failures.
    pub fn retry(mut self, r: RetryPolicy) -> Self {
        self.retry = r;
        self
    }

    /// Called with every token response that carries a (rotated) refresh token.
    pub fn on_token_rotation(mut self, hook: RotationHook) -> Self {
        self.on_rotate = Some(hook);
        self
    }

    /// `Sforce-Query-Options: batchSize=N` for REST queries (200..=2000).
    pub fn query_batch_size(mut self, n: u32) -> Self {
        self.query_batch_size = Some(n);
        self
    }

    /// The largest response body (after inflation) the client reads into memory: a query
    /// page, a Bulk result page (default 512 MiB). Blobs are streamed and not bounded by it.
    pub fn max_body_bytes(mut self, max: u64) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Whether to ask for gzip-compressed Bulk result pages (default true). Compression saves
    /// bandwidth at the cost of CPU on both ends (deflate on the server, inflate here); on a
    /// link faster than inflation (a LAN, loopback) plain pages extract faster.
    pub fn bulk_gzip(mut self, yes: bool) -> Self {
        self.bulk_gzip = yes;
        self
    }

    /// Builds the client. No request is sent until the first call.
    pub fn build(self) -> Result<Client, Error> {
        if !self
            .api_version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Error::Config(format!(
                "API version must look like 62.0, got {:?}",
                self.api_version
            )));
        }
        if let Some(n) = self.query_batch_size
            && !(200..=2000).contains(&n)
        {
            return Err(Error::Config(format!(
                "query batch size must be 200..=2000, got {n}"
            )));
        }
        let http = http_client(&self.transport)?;
        let http_identity = http_client_identity(&self.transport)?;
        let auth = Authenticator::new(
            http.clone(),
            &self.login_url,
            self.credentials,
            self.on_rotate,
            self.retry,
        )?;
        Ok(Client {
            http,
            http_identity,
            bulk_gzip: self.bulk_gzip,
            auth,
            api_version: self.api_version,
            budget: Budget::new(self.budget_share)?,
            retry: self.retry,
            query_batch_size: self.query_batch_size,
            max_body_bytes: self.max_body_bytes,
        })
    }
}

/// The Salesforce REST/Bulk client.
pub struct Client {
    http: reqwest::Client,
    /// Without transparent decompression, for Bulk result pages (see
    /// [`http_client_identity`]).
    http_identity: reqwest::Client,
    /// Ask for gzip Bulk result pages.
    bulk_gzip: bool,
    auth: Authenticator,
    api_version: String,
    budget: Budget,
    retry: RetryPolicy,
    query_batch_size: Option<u32>,
    max_body_bytes: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_version", &self.api_version)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Where a request goes.
enum Target<'a> {
    /// Under `/services/data/v{version}/`.
    Data(&'a str),
    /// An absolute path on the instance (`nextRecordsUrl`, the versions list).
    Path(&'a str),
}

/// One request, resendable.
struct Call<'a> {
    method: Method,
    target: Target<'a>,
    query: Vec<(&'a str, String)>,
    json: Option<Value>,
    /// Safe to resend after an ambiguous failure.
    idempotent: bool,
    /// The object named in errors.
    object: Option<&'a str>,
    /// Counts toward the budget check (the versions list does not).
    metered: bool,
    /// Read the body as sent (no transparent decompression): the caller inflates it.
    identity: bool,
}

impl<'a> Call<'a> {
    fn get(target: Target<'a>) -> Self {
        Call {
            method: Method::GET,
            target,
            query: Vec::new(),
            json: None,
            idempotent: true,
            object: None,
            metered: true,
            identity: false,
        }
    }
}

impl Client {
    /// A builder for the org behind `login_url` (`https://login.salesforce.com`, a sandbox or
    /// My Domain URL, or the simulator's URL).
    pub fn builder(login_url: impl Into<String>, credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            login_url: login_url.into(),
            credentials,
            transport: TransportOptions::default(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            budget_share: DEFAULT_STOP_SHARE,
            retry: RetryPolicy::default(),
            on_rotate: None,
            query_batch_size: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            bulk_gzip: true,
        }
    }

    /// The org id of the logged-in session (logging in if needed), from the token response's
    /// identity URL. A session made from a bare access token has none: [`Error::Config`].
    pub async fn org_id(&self) -> Result<String, Error> {
        self.auth.session().await?.org_id.ok_or_else(|| {
            Error::Config(
                "the session does not say which org it belongs to (no identity URL)".into(),
            )
        })
    }

    /// The API budget tracker (last seen usage).
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The API version in use.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    fn url(&self, base: &Url, call: &Call<'_>) -> Result<Url, Error> {
        let path = match call.target {
            Target::Data(rest) => format!("/services/data/v{}/{rest}", self.api_version),
            Target::Path(p) => p.to_owned(),
        };
        let mut url = base
            .join(&path)
            .map_err(|e| Error::Config(format!("request URL: {e}")))?;
        if url.origin() != base.origin() {
            return Err(Error::Config("request URL leaves the instance".to_owned()));
        }
        if !call.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in &call.query {
                q.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn send(&self, call: &Call<'_>) -> Result<reqwest::Response, Error> {
        if call.metered {
            self.budget.check()?;
        }
        let mut session = self.auth.session().await?;
        let mut refreshed = false;
        let mut attempt: u32 = 0;
        loop {
            let url = self.url(&session.instance_url, call)?;
            let http = if call.identity {
                &self.http_identity
            } else {
                &self.http
            };
            let mut req = http
                .request(call.method.clone(), url)
                .bearer_auth(session.access_token.expose_secret());
            if call.identity && self.bulk_gzip {
                req = req.header(reqwest::header::ACCEPT_ENCODING, "gzip");
            }
            if let Some(body) = &call.json {
                req = req.json(body);
            }
            if let (Some(n), Target::Data(p)) = (self.query_batch_size, &call.target)
                && p.starts_with("query")
            {
                req = req.header("Sforce-Query-Options", format!("batchSize={n}"));
            }
            let failure = match req.send().await {
                Ok(resp) => {
                    if let Some(usage) = resp
                        .headers()
                        .get("Sforce-Limit-Info")
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_limit_info)
                    {
                        self.budget.observe(usage);
                    }
                    let status = resp.status().as_u16();
                    if resp.status().is_success() {
                        return Ok(resp);
                    }
                    let body = read_error_body(resp).await;
                    let err = classify(status, &body, call.object);
                    if status == 401
                        && !refreshed
                        && let Error::Auth { error, .. } = &err
                        && (error == "INVALID_SESSION_ID" || error == "HTTP 401")
                    {
                        tracing::info!("session expired; refreshing once");
                        session = self.auth.refresh(&session.access_token).await?;
                        refreshed = true;
                        continue;
                    }
                    let resendable = call.idempotent || status == 503;
                    if !(err.is_transient() && resendable) {
                        return Err(err);
                    }
                    err
                }
                Err(e) => {
                    let resendable = call.idempotent || e.is_connect();
                    let err = Error::Transport(e);
                    if !(err.is_transient() && resendable) {
                        return Err(err);
                    }
                    err
                }
            };
            attempt += 1;
            if attempt >= self.retry.max_attempts {
                return Err(failure);
            }
            let delay = self.retry.delay(attempt - 1);
            tracing::warn!(attempt, ?delay, error = %failure, "transient failure; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        call: &Call<'_>,
        what: &'static str,
    ) -> Result<T, Error> {
        let body = self.body(call).await?;
        serde_json::from_slice(&body)
            .map_err(|e| Error::decode(what, format!("line {} column {}", e.line(), e.column())))
    }

    async fn body(&self, call: &Call<'_>) -> Result<Vec<u8>, Error> {
        self.body_and_headers(call).await.map(|(_, body)| body)
    }

    /// Sends `call` and reads the whole body (bounded by `max_body_bytes`). A body cut by the
    /// network is requested again, like any transient failure, when the call is idempotent.
    async fn body_and_headers(
        &self,
        call: &Call<'_>,
    ) -> Result<(reqwest::header::HeaderMap, Vec<u8>), Error> {
        let mut attempt = 0;
        loop {
            let resp = self.send(call).await?;
            let headers = resp.headers().clone();
            match read_bounded(resp, self.max_body_bytes).await {
                Ok(body) => return Ok((headers, body)),
                Err(Error::Transport(e))
                    if call.idempotent && attempt + 1 < self.retry.max_attempts =>
                {
                    attempt += 1;
                    tracing::warn!(attempt, error = %e, "body read failed; retrying");
                    tokio::time::sleep(self.retry.delay(attempt - 1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Reads a body chunk by chunk, refusing more than `max` bytes (after any
/// `Content-Encoding` inflation, so a compressed bomb is stopped too).
async fn read_bounded(resp: reqwest::Response, max: u64) -> Result<Vec<u8>, Error> {
    let capacity = resp.content_length().unwrap_or(0).min(max).min(64 << 20);
    let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.try_next().await.map_err(Error::Transport)? {
        if (out.len() + chunk.len()) as u64 > max {
            return Err(Error::decode(
                "response body",
                format!("larger than the {max}-byte limit"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Error bodies are small; read at most 64 KiB of one (inflated when it came gzip through the
/// identity client, see [`http_client_identity`]).
async fn read_error_body(resp: reqwest::Response) -> Vec<u8> {
    const MAX: usize = 64 * 1024;
    let gzip = resp
        .headers()
        .get(reqwest::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Ok(Some(chunk)) = stream.try_next().await {
        let room = MAX - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX {
            break;
        }
    }
    if gzip {
        let mut inflated = Vec::new();
        // A cut or corrupt body keeps what inflated: the error is classified from it.
        let _ = flate2::read::MultiGzDecoder::new(out.as_slice())
            .take(MAX as u64)
            .read_to_end(&mut inflated);
        return inflated;
    }
    out
}

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn job_id_ok(job_id: &str) -> Result<(), Error> {
    if !job_id.is_empty() && job_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(Error::Config("job id is not alphanumeric".to_owned()))
    }
}

/// An API name (`Account`, `ns__Thing__c`) safe to put in a path.
fn api_name(kind: &'static str, s: &str) -> Result<(), Error> {
    let ok = s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!("{kind} is not an API name")))
    }
}

#[async_trait]
impl SalesforceApi for Client {
    async fn api_versions(&self) -> Result<Vec<ApiVersion>, Error> {
        let mut call = Call::get(Target::Path("/services/data/"));
        call.metered = false;
        self.json(&call, "API versions").await
    }

    async fn describe_global(&self) -> Result<DescribeGlobal, Error> {
        self.json(&Call::get(Target::Data("sobjects/")), "describeGlobal")
            .await
    }

    async fn describe(&self, object: &str) -> Result<SObjectDescribe, Error> {
        api_name("object", object)?;
        let path = format!("sobjects/{object}/describe");
        let mut call = Call::get(Target::Data(&path));
        call.object = Some(object);
        self.json(&call, "describe").await
    }

    async fn limits(&self) -> Result<Limits, Error> {
        let limits: Limits = self
            .json(&Call::get(Target::Data("limits")), "limits")
            .await?;
        self.budget.observe_limits(&limits);
        Ok(limits)
    }

    async fn record_count(&self, object: &str) -> Result<Option<u64>, Error> {
        api_name("object", object)?;
        #[derive(serde::Deserialize)]
        struct Entry {
            count: u64,
            name: String,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Counts {
            s_objects: Vec<Entry>,
        }
        let mut call = Call::get(Target::Data("limits/recordCount"));
        call.query.push(("sObjects", object.to_owned()));
        let counts: Counts = self.json(&call, "record count").await?;
        Ok(counts
            .s_objects
            .into_iter()
            .find(|e| e.name == object)
            .map(|e| e.count))
    }

    async fn query(&self, soql: &str, include_deleted: bool) -> Result<QueryPage, Error> {
        let mut call = Call::get(Target::Data(if include_deleted {
            "queryAll"
        } else {
            "query"
        }));
        call.query.push(("q", soql.to_owned()));
        parse_query_page(&self.body(&call).await?)
    }

    async fn query_more(&self, next_records_url: &str) -> Result<QueryPage, Error> {
        if !next_records_url.starts_with("/services/data/") || next_records_url.contains("..") {
            return Err(Error::Config(
                "nextRecordsUrl must be a /services/data/ path".to_owned(),
            ));
        }
        parse_query_page(
            &self
                .body(&Call::get(Target::Path(next_records_url)))
                .await?,
        )
    }

    async fn bulk_create(
        &self,
        object: &str,
        soql: &str,
        include_deleted: bool,
    ) -> Result<BulkJob, Error> {
        let body = CreateJob {
            operation: if include_deleted { "queryAll" } else { "query" },
            query: soql,
            content_type: "CSV",
            column_delimiter: "COMMA",
            line_ending: "LF",
        };
        let call = Call {
            method: Method::POST,
            target: Target::Data("jobs/query"),
            query: Vec::new(),
            json: Some(
                serde_json::to_value(&body)
                    .map_err(|e| Error::decode("bulk job request", e.to_string()))?,
            ),
            // A duplicate job costs one job of the daily allowance, never data.
            idempotent: true,
            object: Some(object),
            metered: true,
            identity: false,
        };
        parse_job(&self.body(&call).await?)
    }

    async fn bulk_job(&self, job_id: &str) -> Result<BulkJob, Error> {
        job_id_ok(job_id)?;
        let path = format!("jobs/query/{job_id}");
        parse_job(&self.body(&Call::get(Target::Data(&path))).await?)
    }

    async fn bulk_results_raw(
        &self,
        job_id: &str,
        locator: Option<&Locator>,
        max_records: u32,
    ) -> Result<RawBulkPage, Error> {
        job_id_ok(job_id)?;
        let path = format!("jobs/query/{job_id}/results");
        let mut call = Call::get(Target::Data(&path));
        if let Some(l) = locator {
            call.query.push(("locator", l.0.clone()));
        }
        if max_records > 0 {
            call.query.push(("maxRecords", max_records.to_string()));
        }
        // The body is read as sent and inflated by `RawBulkPage::decode`, which detects gzip.
        call.identity = true;
        let (headers, body) = self.body_and_headers(&call).await?;
        match headers
            .get(reqwest::header::CONTENT_ENCODING)
            .map(|v| v.as_bytes().trim_ascii())
        {
            None => {}
            Some(e) if e.eq_ignore_ascii_case(b"identity") => {}
            Some(e) if e.eq_ignore_ascii_case(b"gzip") && body.starts_with(&GZIP_MAGIC) => {}
            Some(_) => {
                return Err(Error::decode(
                    "bulk result page",
                    "Content-Encoding is neither gzip nor identity",
                ));
            }
        }
        let next = parse_locator(headers.get("Sforce-Locator").and_then(|v| v.to_str().ok()))?;
        Ok(RawBulkPage {
            body,
            next,
            max_bytes: self.max_body_bytes,
        })
    }

    async fn bulk_delete(&self, job_id: &str) -> Result<(), Error> {
        job_id_ok(job_id)?;
        let path = format!("jobs/query/{job_id}");
        let mut call = Call::get(Target::Data(&path));
        call.method = Method::DELETE;
        self.body(&call).await.map(drop)
    }

    async fn updated(
        &self,
        object: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<UpdatedIds, Error> {
        api_name("object", object)?;
        let path = format!("sobjects/{object}/updated/");
        let mut call = Call::get(Target::Data(&path));
        call.object = Some(object);
        call.query.push(("start", start.to_replication_param()));
        call.query.push(("end", end.to_replication_param()));
        parse_updated(&self.body(&call).await?)
    }

    async fn deleted(
        &self,
        object: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<DeletedRecords, Error> {
        api_name("object", object)?;
        let path = format!("sobjects/{object}/deleted/");
        let mut call = Call::get(Target::Data(&path));
        call.object = Some(object);
        call.query.push(("start", start.to_replication_param()));
        call.query.push(("end", end.to_replication_param()));
        parse_deleted(&self.body(&call).await?)
    }

    async fn download_blob(
        &self,
        object: &str,
        id: &str,
        field: &str,
    ) -> Result<BlobStream, Error> {
        api_name("object", object)?;
        api_name("field", field)?;
        if !writes::is_id(id) {
            return Err(Error::Config(
                "blob record id is not a Salesforce Id".to_owned(),
            ));
        }
        let path = format!("sobjects/{object}/{id}/{field}");
        let mut call = Call::get(Target::Data(&path));
        call.object = Some(object);
        let resp = self.send(&call).await?;
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_length = resp.content_length();
        let stream = resp.bytes_stream().map_err(std::io::Error::other);
        Ok(BlobStream {
            content_type,
            content_length,
            reader: Box::pin(tokio_util::io::StreamReader::new(stream)),
        })
    }

    async fn write_batch(
        &self,
        op: &WriteOp,
        object: &str,
        records: &[Record],
        all_or_none: bool,
    ) -> Result<Vec<RecordResult>, Error> {
        if records.len() > MAX_BATCH {
            return Err(Error::Config(format!(
                "a collections request takes at most {MAX_BATCH} records, got {}",
                records.len()
            )));
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        api_name("object", object)?;
        let upsert_path;
        let call = match op {
            WriteOp::Create | WriteOp::Update => Call {
                method: if *op == WriteOp::Create {
                    Method::POST
                } else {
                    Method::PATCH
                },
                target: Target::Data("composite/sobjects"),
                query: Vec::new(),
                json: Some(writes::body(object, records, all_or_none)),
                // Resending a create after an ambiguous failure could duplicate records.
                idempotent: *op == WriteOp::Update,
                object: Some(object),
                metered: true,
                identity: false,
            },
            WriteOp::Upsert {
                object: o,
                external_id_field,
            } => {
                api_name("object", o)?;
                api_name("external Id field", external_id_field)?;
                upsert_path = format!("composite/sobjects/{o}/{external_id_field}");
                Call {
                    method: Method::PATCH,
                    target: Target::Data(&upsert_path),
                    query: Vec::new(),
                    json: Some(writes::body(o, records, all_or_none)),
                    idempotent: true,
                    object: Some(o),
                    metered: true,
                    identity: false,
                }
            }
            WriteOp::Delete => Call {
                method: Method::DELETE,
                target: Target::Data("composite/sobjects"),
                query: vec![
                    ("ids", writes::ids(records)?.join(",")),
                    ("allOrNone", all_or_none.to_string()),
                ],
                json: None,
                idempotent: true,
                object: Some(object),
                metered: true,
                identity: false,
            },
        };
        writes::parse_results(&self.body(&call).await?, records.len())
    }
}
