//! `S3`: a bucket on Amazon S3 or any S3-compatible service, through `aws-sdk-s3`.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream as SdkByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload,
    CompletedPart, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode,
    ServerSideEncryption, VersioningConfiguration,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use md5::Md5;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::key::{ObjectKey, validate_prefix};
use crate::object_store::{ObjectStore, unsupported};
use crate::types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutMode,
    PutOptions, PutOutcome, RetentionMode, VersionId, VersionInfo,
};

const BACKEND: &str = "s3";

/// S3's smallest allowed part (except the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// S3's largest number of parts in one upload.
const MAX_PARTS: i32 = 10_000;

/// Applies encryption and object-lock settings to a `PutObject` or `CreateMultipartUpload`
/// request (same setter names, different builder types).
macro_rules! apply_write_options {
    ($request:expr, $store:expr, $options:expr) => {{
        let mut request = $request;
        match &$store.config.encryption {
            Encryption::BucketDefault => {}
            Encryption::S3Managed => {
                request = request.server_side_encryption(ServerSideEncryption::Aes256);
            }
            Encryption::Kms { key_id } => {
                request = request.server_side_encryption(ServerSideEncryption::AwsKms);
                if let Some(key_id) = key_id {
                    request = request.ssekms_key_id(key_id);
                }
            }
            Encryption::CustomerKey(sse_c) => {
                request = request
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(sse_c.key_base64.as_str())
                    .sse_customer_key_md5(&sse_c.key_md5_base64);
            }
        }
        if let Some(retention) = &$options.retention {
            let mode = match retention.mode {
                RetentionMode::Governance => ObjectLockMode::Governance,
                RetentionMode::Compliance => ObjectLockMode::Compliance,
            };
            request = request
                .object_lock_mode(mode)
                .object_lock_retain_until_date(DateTime::from(retention.until));
        }
        if $options.legal_hold {
            request = request.object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On);
        }
        request
    }};
}

/// Adds the SSE-C key to a read request, when the store uses one.
macro_rules! apply_read_key {
    ($request:expr, $store:expr) => {{
        let mut request = $request;
        if let Some(sse_c) = $store.customer_key() {
            request = request
                .sse_customer_algorithm("AES256")
                .sse_customer_key(sse_c.key_base64.as_str())
                .sse_customer_key_md5(&sse_c.key_md5_base64);
        }
        request
    }};
}

/// Where credentials come from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum S3Credentials {
    /// The standard AWS chain: environment, profile files, web identity, ECS, instance
    /// metadata.
    #[default]
    DefaultChain,
    /// Fixed credentials (their `Debug` output is redacted).
    Static(aws_credential_types::Credentials),
}

/// A customer-provided key for SSE-C. S3 encrypts with it and forgets it; every read must
/// present it again. Its `Debug` output is redacted and its copies are zeroized on drop.
#[derive(Clone)]
pub struct SseCustomerKey {
    key_base64: Zeroizing<String>,
    key_md5_base64: String,
}

impl SseCustomerKey {
    /// A 256-bit AES key.
    pub fn new(key: &[u8; 32]) -> Self {
        SseCustomerKey {
            key_base64: Zeroizing::new(BASE64.encode(key)),
            key_md5_base64: BASE64.encode(Md5::digest(key)),
        }
    }
}

impl fmt::Debug for SseCustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SseCustomerKey(<redacted>)")
    }
}

/// Server-side encryption of the objects this store writes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Encryption {
    /// Send no encryption header: the bucket's default applies.
    BucketDefault,
    /// SSE-S3: AES-256 with keys S3 manages.
    #[default]
    S3Managed,
    /// SSE-KMS: a KMS key (its id, ARN or alias; `None` for the account's `aws/s3` key).
    Kms {
        /// The KMS key.
        key_id: Option<String>,
    },
    /// SSE-C: a key the caller provides with every request.
    CustomerKey(SseCustomerKey),
}

/// How to reach a bucket and how to write to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The bucket's region.
    pub region: String,
    /// A custom endpoint (`http://127.0.0.1:9000`); `None` for AWS.
    pub endpoint: Option<String>,
    /// Path-style addressing (`ENDPOINT/BUCKET/KEY`), which most S3-compatible stores need.
    pub force_path_style: bool,
    /// Where credentials come from.
    pub credentials: S3Credentials,
    /// Server-side encryption.
    pub encryption: Encryption,
    /// Streaming writes that reach this many bytes become multipart uploads.
    pub multipart_threshold: usize,
    /// Size of each multipart part (at least [`MIN_PART_SIZE`]).
    pub part_size: usize,
    /// Objects per listing page (1 to 1000).
    pub page_size: i32,
    /// The bucket has versioning enabled.
    pub versioning: bool,
    /// The bucket was created with object lock enabled.
    pub object_lock: bool,
}

impl S3Config {
    /// A configuration for `bucket` in `region`, with the AWS defaults: virtual-hosted
    /// addressing, the standard credential chain, SSE-S3, 64 MiB multipart threshold, 16 MiB
    /// parts, 1000 keys per page, no versioning or object lock assumed.
    pub fn new(bucket: impl Into<String>, region: impl Into<String>) -> Self {
        S3Config {
            bucket: bucket.into(),
            region: region.into(),
            endpoint: None,
            force_path_style: false,
            credentials: S3Credentials::DefaultChain,
            encryption: Encryption::default(),
            multipart_threshold: 64 * 1024 * 1024,
            part_size: 16 * 1024 * 1024,
            page_size: 1000,
            versioning: false,
            object_lock: false,
        }
    }

    /// Sets a custom endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets path-style addressing.
    pub fn with_path_style(mut self, on: bool) -> Self {
        self.force_path_style = on;
        self
    }

    /// Uses fixed credentials.
    pub fn with_credentials(mut self, credentials: aws_credential_types::Credentials) -> Self {
        self.credentials = S3Credentials::Static(credentials);
        self
    }

    /// Sets server-side encryption.
    pub fn with_encryption(mut self, encryption: Encryption) -> Self {
        self.encryption = encryption;
        self
    }

    /// Sets the multipart threshold and part size (raised to [`MIN_PART_SIZE`] if smaller).
    pub fn with_multipart(mut self, threshold: usize, part_size: usize) -> Self {
        self.part_size = part_size.max(MIN_PART_SIZE);
        self.multipart_threshold = threshold.max(1);
        self
    }

    /// Sets the number of objects per listing page (clamped to 1..=1000).
    pub fn with_page_size(mut self, page_size: i32) -> Self {
        self.page_size = page_size.clamp(1, 1000);
        self
    }

    /// Declares that the bucket is versioned.
    pub fn with_versioning(mut self, on: bool) -> Self {
        self.versioning = on;
        self
    }

    /// Declares that the bucket has object lock enabled (which implies versioning).
    pub fn with_object_lock(mut self, on: bool) -> Self {
        self.object_lock = on;
        if on {
            self.versioning = true;
        }
        self
    }
}

/// `S3`: a bucket on Amazon S3 or any S3-compatible service, through `aws-sdk-s3`.
///
/// - **Endpoint and addressing**: [`S3Config::with_endpoint`] and
///   [`S3Config::with_path_style`] point it at MinIO, Ceph, moto or another region's endpoint.
/// - **Checksums**: every upload (single request or multipart part) carries a SHA-256 the
///   client computed, which S3 verifies before storing; full-object reads ask S3 for the stored
///   checksum and the SDK verifies it while streaming, and every read checks its length.
/// - **Large objects**: [`ObjectStore::put_stream`] buffers at most
///   `max(multipart_threshold, part_size)` bytes: an object that ends below the threshold goes up
///   in one request, a larger one as a multipart upload, aborted if anything fails so no
///   half-written object or orphaned parts remain.
/// - **Create-only writes**: `If-None-Match: *` on `PutObject` and on
///   `CompleteMultipartUpload`, which S3 evaluates atomically; a `409
///   ConditionalRequestConflict` (a concurrent conditional write in flight) is reported as
///   [`Error::Unavailable`] so the retry layer tries again and then sees the winner.
/// - **Encryption**: [`Encryption`] selects SSE-S3, SSE-KMS (with a key id) or SSE-C (a key the
///   caller supplies on every request; S3 keeps only a salted HMAC of it).
/// - **Versions and object lock**: used when the bucket has them, which the configuration
///   declares ([`S3Config::with_versioning`], [`S3Config::with_object_lock`]); without them the
///   version operations fail with [`Error::Unsupported`] instead of misbehaving.
#[derive(Debug, Clone)]
pub struct S3 {
    client: Client,
    config: S3Config,
}

impl S3 {
    /// Builds a client from `config` (region, endpoint, addressing, credentials).
    pub async fn connect(config: S3Config) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(config.region.clone()));
        if let S3Credentials::Static(credentials) = &config.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let sdk = loader.load().await;
        let mut builder =
            aws_sdk_s3::config::Builder::from(&sdk).force_path_style(config.force_path_style);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        S3 {
            client: Client::from_conf(builder.build()),
            config,
        }
    }

    /// Uses an existing client; the configuration's endpoint, addressing and credentials are
    /// then those of the client, the rest applies.
    pub fn from_client(client: Client, config: S3Config) -> Self {
        S3 { client, config }
    }

    /// The configuration in force.
    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// The underlying SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Turns on versioning for the bucket (an administrative call needing
    /// `s3:PutBucketVersioning`), and declares it in this store's configuration.
    pub async fn enable_versioning(&mut self) -> Result<()> {
        self.client
            .put_bucket_versioning()
            .bucket(&self.config.bucket)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| map_sdk_error(e, &self.config.bucket))?;
        self.config.versioning = true;
        Ok(())
    }

    fn check_versions(&self) -> Result<()> {
        if self.config.versioning {
            Ok(())
        } else {
            Err(unsupported(BACKEND, "versions"))
        }
    }

    fn check_put_options(&self, options: &PutOptions) -> Result<()> {
        if options.wants_lock() && !self.config.object_lock {
            return Err(unsupported(BACKEND, "object lock on a bucket without it"));
        }
        Ok(())
    }

    /// The SSE-C headers, when the store uses a customer key (reads need them too).
    fn customer_key(&self) -> Option<&SseCustomerKey> {
        match &self.config.encryption {
            Encryption::CustomerKey(key) => Some(key),
            _ => None,
        }
    }

    async fn put_single(
        &self,
        key: &ObjectKey,
        data: Bytes,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        let size = data.len() as u64;
        let checksum = BASE64.encode(Sha256::digest(&data));
        let mut request = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .content_length(size_i64(size)?)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(checksum)
            .body(SdkByteStream::from(data));
        if options.mode == PutMode::CreateOnly {
            request = request.if_none_match("*");
        }
        request = apply_write_options!(request, self, options);
        let output = request
            .send()
            .await
            .map_err(|e| map_put_error(e, key, options.mode))?;
        Ok(PutOutcome {
            size,
            etag: output.e_tag().map(str::to_owned),
            version: output.version_id().map(VersionId::new),
        })
    }

    async fn put_multipart(
        &self,
        key: &ObjectKey,
        buffered: BytesMut,
        rest: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        if options.mode == PutMode::CreateOnly {
            // Fail fast rather than upload gigabytes for nothing. This is an optimisation
            // only: the atomic check is the If-None-Match on CompleteMultipartUpload below.
            match self.head(key).await {
                Ok(_) => return Err(Error::already_exists(key)),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .checksum_algorithm(ChecksumAlgorithm::Sha256);
        request = apply_write_options!(request, self, options);
        let created = request
            .send()
            .await
            .map_err(|e| map_sdk_error(e, key.as_str()))?;
        let upload_id = created
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| Error::Backend {
                backend: BACKEND,
                detail: "CreateMultipartUpload returned no upload id".into(),
            })?;
        match self
            .upload_parts(key, &upload_id, buffered, rest, options)
            .await
        {
            Ok(outcome) => Ok(outcome),
            Err(err) => {
                // Parts of an unfinished upload are billed and invisible; remove them. If the
                // abort fails too, a bucket lifecycle rule for incomplete uploads is the net.
                if let Err(abort) = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.config.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .send()
                    .await
                {
                    tracing::warn!(
                        key = key.as_str(),
                        error = %DisplayErrorContext(&abort),
                        "could not abort multipart upload"
                    );
                }
                Err(err)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        mut buffer: BytesMut,
        mut rest: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        let part_size = self.config.part_size;
        let mut parts = Vec::new();
        let mut size = 0u64;
        let mut input_done = false;
        loop {
            while !input_done && buffer.len() < part_size {
                match rest.next().await {
                    Some(chunk) => buffer.extend_from_slice(&chunk?),
                    None => input_done = true,
                }
            }
            if buffer.is_empty() && !parts.is_empty() {
                break;
            }
            let take = buffer.len().min(part_size);
            let part = buffer.split_to(take).freeze();
            let part_number = i32::try_from(parts.len() + 1)
                .ok()
                .filter(|n| *n <= MAX_PARTS)
                .ok_or_else(|| Error::Backend {
                    backend: BACKEND,
                    detail: format!("object needs more than {MAX_PARTS} parts; raise part_size"),
                })?;
            size += part.len() as u64;
            parts.push(self.upload_part(key, upload_id, part_number, part).await?);
            if input_done && buffer.is_empty() {
                break;
            }
        }
        let mut request = self
            .client
            .complete_multipart_upload()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        if options.mode == PutMode::CreateOnly {
            request = request.if_none_match("*");
        }
        if let Some(sse_c) = self.customer_key() {
            request = request
                .sse_customer_algorithm("AES256")
                .sse_customer_key(sse_c.key_base64.as_str())
                .sse_customer_key_md5(&sse_c.key_md5_base64);
        }
        match request.send().await {
            Ok(output) => Ok(PutOutcome {
                size,
                etag: output.e_tag().map(str::to_owned),
                version: output.version_id().map(VersionId::new),
            }),
            Err(err) => match completion_under_other_root(&err, size) {
                Some(outcome) => Ok(outcome),
                None => Err(map_put_error(err, key, options.mode)),
            },
        }
    }

    async fn upload_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        part_number: i32,
        part: Bytes,
    ) -> Result<CompletedPart> {
        let checksum = BASE64.encode(Sha256::digest(&part));
        let mut request = self
            .client
            .upload_part()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .part_number(part_number)
            .content_length(size_i64(part.len() as u64)?)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(&checksum)
            .body(SdkByteStream::from(part));
        if let Some(sse_c) = self.customer_key() {
            request = request
                .sse_customer_algorithm("AES256")
                .sse_customer_key(sse_c.key_base64.as_str())
                .sse_customer_key_md5(&sse_c.key_md5_base64);
        }
        let output = request
            .send()
            .await
            .map_err(|e| map_sdk_error(e, key.as_str()))?;
        Ok(CompletedPart::builder()
            .part_number(part_number)
            .set_e_tag(output.e_tag().map(str::to_owned))
            .checksum_sha256(checksum)
            .build())
    }

    async fn open(
        &self,
        key: &ObjectKey,
        version: Option<&VersionId>,
        range: Option<ByteRange>,
    ) -> Result<(ObjectMeta, SdkByteStream)> {
        let mut request = self
            .client
            .get_object()
            .bucket(&self.config.bucket)
            .key(key.as_str());
        if let Some(version) = version {
            request = request.version_id(version.as_str());
        }
        match range {
            Some(range) => {
                request = request.range(format!("bytes={}-{}", range.start(), range.end() - 1));
            }
            // Stored checksums cover whole objects only; the SDK verifies it as it streams.
            None => request = request.checksum_mode(ChecksumMode::Enabled),
        }
        request = apply_read_key!(request, self);
        let output = request
            .send()
            .await
            .map_err(|e| match map_sdk_error(e, key.as_str()) {
                Error::InvalidRange { .. } => match range {
                    Some(range) => Error::InvalidRange {
                        key: key.to_string(),
                        start: range.start(),
                        end: range.end(),
                        size: None,
                    },
                    None => Error::Backend {
                        backend: BACKEND,
                        detail: "unexpected 416".into(),
                    },
                },
                other => other,
            })?;
        let meta = ObjectMeta {
            key: key.clone(),
            size: output
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            last_modified: output.last_modified().and_then(to_system_time),
            etag: output.e_tag().map(str::to_owned),
            version: output.version_id().map(VersionId::new),
        };
        Ok((meta, output.body))
    }
}

fn size_i64(size: u64) -> Result<i64> {
    i64::try_from(size).map_err(|_| Error::Backend {
        backend: BACKEND,
        detail: format!("object of {size} bytes is too large"),
    })
}

fn to_system_time(time: &DateTime) -> Option<SystemTime> {
    SystemTime::try_from(*time).ok()
}

/// Maps an SDK failure onto the store's meaning.
fn map_sdk_error<E>(err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>, key: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::Unavailable { detail }
        }
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or_default();
            classify(status, code, key, detail)
        }
        _ => Error::Backend {
            backend: BACKEND,
            detail,
        },
    }
}

/// The status/code table behind [`map_sdk_error`], separate so it can be tested directly.
fn classify(status: u16, code: &str, key: &str, detail: String) -> Error {
    let key = key.to_owned();
    match (status, code) {
        (_, "NoSuchBucket") => Error::Backend {
            backend: BACKEND,
            detail: format!("bucket does not exist: {detail}"),
        },
        (_, "NoSuchKey" | "NoSuchVersion") | (404, _) => Error::NotFound { key },
        (_, "PreconditionFailed") | (412, _) => Error::PreconditionFailed { key, detail },
        (_, "ConditionalRequestConflict") => Error::Unavailable { detail },
        (_, "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch") | (401 | 403, _) => {
            Error::PermissionDenied { key, detail }
        }
        (_, "InvalidRange") | (416, _) => Error::InvalidRange {
            key,
            start: 0,
            end: 0,
            size: None,
        },
        (_, "SlowDown" | "Throttling" | "ThrottlingException") | (429, _) => {
            Error::RateLimited { detail }
        }
        (_, "InternalError" | "RequestTimeout" | "ServiceUnavailable") | (500..=599, _) => {
            Error::Unavailable { detail }
        }
        _ => Error::Backend {
            backend: BACKEND,
            detail,
        },
    }
}

/// A failed write: under create-only, a failed `If-None-Match` means the key exists.
fn map_put_error<E>(
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    key: &ObjectKey,
    mode: PutMode,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match map_sdk_error(err, key.as_str()) {
        Error::PreconditionFailed { .. } if mode == PutMode::CreateOnly => {
            Error::already_exists(key)
        }
        other => other,
    }
}

/// Some S3-compatible servers (moto 5.2 among them) answer a successful
/// `CompleteMultipartUpload` with the right fields under the root element
/// `CompleteMultipartUploadResponse` instead of `CompleteMultipartUploadResult`, which the
/// SDK's strict parser rejects. Recognise exactly that document, on a 200, and read the
/// outcome from it. Anything else, including S3's "200 with an `<Error>` body", stays an error.
fn completion_under_other_root(
    err: &SdkError<
        aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError,
        aws_sdk_s3::config::http::HttpResponse,
    >,
    size: u64,
) -> Option<PutOutcome> {
    let SdkError::ServiceError(context) = err else {
        return None;
    };
    let raw = context.raw();
    if raw.status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?.trim_start();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>")?.1.trim_start(),
        None => body,
    };
    let inner = body
        .strip_prefix("<CompleteMultipartUploadResponse")?
        .trim_end()
        .strip_suffix("</CompleteMultipartUploadResponse>")?;
    let etag = inner.split_once("<ETag>")?.1.split_once("</ETag>")?.0;
    let etag = etag.replace("&quot;", "\"").replace("&#34;", "\"");
    Some(PutOutcome {
        size,
        etag: Some(etag),
        version: raw.headers().get("x-amz-version-id").map(VersionId::new),
    })
}

/// Turns the SDK's body into this crate's stream, checking that exactly `expected` bytes
/// arrive (a short body from a dropped connection must not pass for a whole object).
fn body_stream(key: &ObjectKey, body: SdkByteStream, expected: u64) -> ByteStream {
    struct Reading {
        body: SdkByteStream,
        seen: u64,
        done: bool,
    }
    let key = key.clone();
    futures::stream::unfold(
        Reading {
            body,
            seen: 0,
            done: false,
        },
        move |mut state| {
            let key = key.clone();
            async move {
                if state.done {
                    return None;
                }
                match state.body.next().await {
                    Some(Ok(chunk)) => {
                        state.seen += chunk.len() as u64;
                        Some((Ok(chunk), state))
                    }
                    Some(Err(e)) => {
                        state.done = true;
                        let text = DisplayErrorContext(&e).to_string();
                        // The SDK reports a checksum mismatch as a body error.
                        let err = if text.to_ascii_lowercase().contains("checksum") {
                            Error::Integrity {
                                key: key.to_string(),
                                detail: text,
                            }
                        } else {
                            Error::Unavailable { detail: text }
                        };
                        Some((Err(err), state))
                    }
                    None if state.seen != expected => {
                        state.done = true;
                        let detail = format!("got {} of {expected} bytes", state.seen);
                        Some((
                            Err(Error::Integrity {
                                key: key.to_string(),
                                detail,
                            }),
                            state,
                        ))
                    }
                    None => None,
                }
            }
        },
    )
    .boxed()
}

async fn collect(stream: ByteStream, capacity: u64) -> Result<Bytes> {
    let mut out = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.freeze())
}

#[async_trait]
impl ObjectStore for S3 {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            versions: self.config.versioning,
            object_lock: self.config.object_lock,
        }
    }

    async fn put(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome> {
        self.check_put_options(options)?;
        if data.len() < self.config.multipart_threshold {
            self.put_single(key, data, options).await
        } else {
            let empty: ByteStream = futures::stream::empty().boxed();
            self.put_multipart(key, BytesMut::from(data), empty, options)
                .await
        }
    }

    async fn put_stream(
        &self,
        key: &ObjectKey,
        mut data: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        self.check_put_options(options)?;
        let threshold = self.config.multipart_threshold;
        let mut buffer = BytesMut::new();
        while buffer.len() < threshold {
            match data.next().await {
                Some(chunk) => buffer.extend_from_slice(&chunk?),
                None => return self.put_single(key, buffer.freeze(), options).await,
            }
        }
        self.put_multipart(key, buffer, data, options).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let (meta, body) = self.open(key, None, None).await?;
        collect(body_stream(key, body, meta.size), meta.size).await
    }

    async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader> {
        let (meta, body) = self.open(key, None, None).await?;
        let stream = body_stream(key, body, meta.size);
        Ok(ObjectReader { meta, stream })
    }

    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
        let (meta, body) = self.open(key, None, Some(range)).await?;
        // For a range read, content-length is the length of the returned slice.
        collect(body_stream(key, body, meta.size), meta.size).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let request = self
            .client
            .head_object()
            .bucket(&self.config.bucket)
            .key(key.as_str());
        let output = apply_read_key!(request, self)
            .send()
            .await
            .map_err(|e| map_sdk_error(e, key.as_str()))?;
        if output.delete_marker() == Some(true) {
            return Err(Error::not_found(key));
        }
        Ok(ObjectMeta {
            key: key.clone(),
            size: output
                .content_length()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            last_modified: output.last_modified().and_then(to_system_time),
            etag: output.e_tag().map(str::to_owned),
            version: output.version_id().map(VersionId::new),
        })
    }

    async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage> {
        validate_prefix(prefix)?;
        let mut request = self
            .client
            .list_objects_v2()
            .bucket(&self.config.bucket)
            .max_keys(self.config.page_size);
        if !prefix.is_empty() {
            request = request.prefix(prefix);
        }
        if let Some(token) = token {
            request = request.continuation_token(token.as_str());
        }
        let output = request.send().await.map_err(|e| map_sdk_error(e, prefix))?;
        let mut objects = Vec::with_capacity(output.contents().len());
        for object in output.contents() {
            // A key another tool wrote that Coffer could not address is an error, not a skip:
            // a silent gap would make a verification pass that should fail.
            let key = ObjectKey::new(object.key().unwrap_or_default())?;
            objects.push(ObjectMeta {
                key,
                size: object
                    .size()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                last_modified: object.last_modified().and_then(to_system_time),
                etag: object.e_tag().map(str::to_owned),
                version: None,
            });
        }
        let next = match (output.is_truncated(), output.next_continuation_token()) {
            (Some(true), Some(token)) => Some(PageToken::new(token)),
            _ => None,
        };
        Ok(ListPage { objects, next })
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| map_sdk_error(e, key.as_str()))?;
        Ok(())
    }

    async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<VersionInfo>> {
        self.check_versions()?;
        let mut out = Vec::new();
        let mut markers: Option<(String, Option<String>)> = None;
        loop {
            let mut request = self
                .client
                .list_object_versions()
                .bucket(&self.config.bucket)
                .prefix(key.as_str());
            if let Some((key_marker, version_marker)) = &markers {
                request = request
                    .key_marker(key_marker)
                    .set_version_id_marker(version_marker.clone());
            }
            let output = request
                .send()
                .await
                .map_err(|e| map_sdk_error(e, key.as_str()))?;
            // The prefix also matches longer keys (`a` matches `a/b`); keep the exact key.
            for v in output
                .versions()
                .iter()
                .filter(|v| v.key() == Some(key.as_str()))
            {
                out.push(VersionInfo {
                    version: VersionId::new(v.version_id().unwrap_or("null")),
                    is_latest: v.is_latest().unwrap_or(false),
                    is_delete_marker: false,
                    size: v.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    last_modified: v.last_modified().and_then(to_system_time),
                });
            }
            for m in output
                .delete_markers()
                .iter()
                .filter(|m| m.key() == Some(key.as_str()))
            {
                out.push(VersionInfo {
                    version: VersionId::new(m.version_id().unwrap_or("null")),
                    is_latest: m.is_latest().unwrap_or(false),
                    is_delete_marker: true,
                    size: 0,
                    last_modified: m.last_modified().and_then(to_system_time),
                });
            }
            match (output.is_truncated(), output.next_key_marker()) {
                (Some(true), Some(next_key)) if next_key <= key.as_str() => {
                    markers = Some((
                        next_key.to_owned(),
                        output.next_version_id_marker().map(str::to_owned),
                    ));
                }
                _ => break,
            }
        }
        // The SDK hands versions and delete markers back in two lists; put them back in one
        // history, newest first (the current one leads).
        out.sort_by(|a, b| {
            b.is_latest
                .cmp(&a.is_latest)
                .then_with(|| b.last_modified.cmp(&a.last_modified))
        });
        Ok(out)
    }

    async fn get_version(&self, key: &ObjectKey, version: &VersionId) -> Result<Bytes> {
        self.check_versions()?;
        let (meta, body) = self.open(key, Some(version), None).await?;
        collect(body_stream(key, body, meta.size), meta.size).await
    }

    async fn delete_version(&self, key: &ObjectKey, version: &VersionId) -> Result<()> {
        self.check_versions()?;
        self.client
            .delete_object()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .version_id(version.as_str())
            .send()
            .await
            .map_err(|e| map_sdk_error(e, key.as_str()))?;
        Ok(())
    }

    async fn set_legal_hold(&self, key: &ObjectKey, version: &VersionId, on: bool) -> Result<()> {
        if !self.config.object_lock {
            return Err(unsupported(BACKEND, "object lock on a bucket without it"));
        }
        let status = if on {
            ObjectLockLegalHoldStatus::On
        } else {
            ObjectLockLegalHoldStatus::Off
        };
        self.client
            .put_object_legal_hold()
            .bucket(&self.config.bucket)
            .key(key.as_str())
            .version_id(version.as_str())
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send()
            .await
            .map_err(|e| map_sdk_error(e, key.as_str()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_keep_their_meaning() {
        let c = |status, code| classify(status, code, "k", String::new());
        assert!(matches!(c(404, "NoSuchKey"), Error::NotFound { .. }));
        assert!(matches!(c(404, ""), Error::NotFound { .. }));
        assert!(matches!(c(404, "NoSuchBucket"), Error::Backend { .. }));
        assert!(matches!(
            c(412, "PreconditionFailed"),
            Error::PreconditionFailed { .. }
        ));
        assert!(c(409, "ConditionalRequestConflict").is_transient());
        assert!(matches!(
            c(403, "AccessDenied"),
            Error::PermissionDenied { .. }
        ));
        assert!(matches!(c(416, "InvalidRange"), Error::InvalidRange { .. }));
        assert!(matches!(c(503, "SlowDown"), Error::RateLimited { .. }));
        assert!(c(500, "InternalError").is_transient());
        assert!(!c(400, "InvalidArgument").is_transient());
    }

    #[test]
    fn customer_key_is_redacted_and_carries_its_md5() {
        let key = SseCustomerKey::new(&[7u8; 32]);
        assert_eq!(format!("{key:?}"), "SseCustomerKey(<redacted>)");
        let md5 = BASE64.decode(&key.key_md5_base64).unwrap();
        assert_eq!(md5, Md5::digest([7u8; 32]).to_vec());
        assert_eq!(
            BASE64.decode(key.key_base64.as_str()).unwrap(),
            vec![7u8; 32]
        );
    }

    #[test]
    fn multipart_settings_respect_s3_minimums() {
        let config = S3Config::new("b", "eu-west-1")
            .with_multipart(1, 1)
            .with_page_size(0);
        assert_eq!(config.part_size, MIN_PART_SIZE);
        assert_eq!(config.page_size, 1);
        assert!(S3Config::new("b", "r").with_object_lock(true).versioning);
    }
}
