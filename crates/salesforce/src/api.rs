//! The `SalesforceApi` seam: what the backup engine needs from an org. [`crate::Client`]
//! implements it over HTTPS; test doubles implement it in memory. The extraction logic
//! ([`crate::extract`]) is written against this trait, so doubles get it too.

use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::Record;
use crate::budget::Limits;
use crate::bulk::{BulkJob, BulkPage, JobState, Locator, RawBulkPage};
use crate::bulk_csv::CsvDecoder;
use crate::describe::{ApiVersion, DescribeGlobal, SObjectDescribe};
use crate::error::Error;
use crate::query::{DeletedRecords, QueryPage, UpdatedIds};
use crate::retry::PollPolicy;
use crate::time::Timestamp;
use crate::writes::{MAX_BATCH, RecordResult, WriteOp};

/// A streamed blob body (Attachment/Document `Body`, ContentVersion `VersionData`). Reading it
/// holds at most one network chunk in memory.
pub struct BlobStream {
    /// `Content-Type` as sent.
    pub content_type: Option<String>,
    /// `Content-Length` when known.
    pub content_length: Option<u64>,
    /// The bytes.
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

impl std::fmt::Debug for BlobStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStream")
            .field("content_type", &self.content_type)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

/// What the engine needs from a Salesforce org.
#[async_trait]
pub trait SalesforceApi: Send + Sync {
    /// `GET /services/data/`: the API versions (does not count toward the API limit).
    async fn api_versions(&self) -> Result<Vec<ApiVersion>, Error>;

    /// `GET /sobjects/`.
    async fn describe_global(&self) -> Result<DescribeGlobal, Error>;

    /// `GET /sobjects/{object}/describe`.
    async fn describe(&self, object: &str) -> Result<SObjectDescribe, Error>;

    /// `GET /limits`.
    async fn limits(&self) -> Result<Limits, Error>;

    /// `GET /limits/recordCount?sObjects={object}`: the approximate record count, `None` when
    /// Salesforce has none for the object.
    async fn record_count(&self, object: &str) -> Result<Option<u64>, Error>;

    /// The first page of a SOQL query; `include_deleted` uses `queryAll` (soft-deleted and
    /// archived rows too).
    async fn query(&self, soql: &str, include_deleted: bool) -> Result<QueryPage, Error>;

    /// The page at a `nextRecordsUrl`.
    async fn query_more(&self, next_records_url: &str) -> Result<QueryPage, Error>;

    /// Creates a Bulk API 2.0 query job (`queryAll` when `include_deleted`).
    async fn bulk_create(
        &self,
        object: &str,
        soql: &str,
        include_deleted: bool,
    ) -> Result<BulkJob, Error>;

    /// Polls a Bulk query job once.
    async fn bulk_job(&self, job_id: &str) -> Result<BulkJob, Error>;

    /// Fetches one result page without decoding it (`locator` `None` = the first page).
    async fn bulk_results_raw(
        &self,
        job_id: &str,
        locator: Option<&Locator>,
        max_records: u32,
    ) -> Result<RawBulkPage, Error>;

    /// Fetches and decodes one result page (`locator` `None` = the first page).
    async fn bulk_results(
        &self,
        job_id: &str,
        locator: Option<&Locator>,
        max_records: u32,
        decoder: &mut CsvDecoder,
    ) -> Result<BulkPage, Error> {
        self.bulk_results_raw(job_id, locator, max_records)
            .await?
            .decode(decoder)
    }

    /// Deletes a finished job and its results.
    async fn bulk_delete(&self, job_id: &str) -> Result<(), Error>;

    /// `GET /sobjects/{object}/updated/?start=&end=`.
    async fn updated(
        &self,
        object: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<UpdatedIds, Error>;

    /// `GET /sobjects/{object}/deleted/?start=&end=`.
    async fn deleted(
        &self,
        object: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<DeletedRecords, Error>;

    /// Streams a blob body: `GET /sobjects/{object}/{id}/{field}`.
    async fn download_blob(&self, object: &str, id: &str, field: &str)
    -> Result<BlobStream, Error>;

    /// One collections request of at most [`MAX_BATCH`] records; results in input order.
    async fn write_batch(
        &self,
        op: &WriteOp,
        object: &str,
        records: &[Record],
        all_or_none: bool,
    ) -> Result<Vec<RecordResult>, Error>;

    /// Writes any number of records in batches of [`MAX_BATCH`]; `all_or_none` applies per
    /// batch (Salesforce cannot roll back across requests).
    async fn write_all(
        &self,
        op: &WriteOp,
        object: &str,
        records: &[Record],
        all_or_none: bool,
    ) -> Result<Vec<RecordResult>, Error> {
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(MAX_BATCH) {
            out.extend(self.write_batch(op, object, chunk, all_or_none).await?);
        }
        Ok(out)
    }

    /// Polls a job with backoff until it is `JobComplete`; `Failed`/`Aborted` become
    /// [`Error::BulkJobFailed`].
    async fn bulk_wait(&self, job_id: &str, poll: PollPolicy) -> Result<BulkJob, Error> {
        let started = tokio::time::Instant::now();
        let mut n = 0;
        loop {
            let job = self.bulk_job(job_id).await?;
            match &job.state {
                JobState::JobComplete => return Ok(job),
                JobState::Failed | JobState::Aborted => {
                    return Err(Error::BulkJobFailed {
                        job_id: job.id,
                        state: format!("{:?}", job.state),
                        message: job.error_message.unwrap_or_default(),
                    });
                }
                _ => {}
            }
            if started.elapsed() >= poll.timeout {
                return Err(Error::BulkJobFailed {
                    job_id: job.id,
                    state: "Timeout".to_owned(),
                    message: "job did not finish within the poll timeout".to_owned(),
                });
            }
            tokio::time::sleep(poll.wait(n)).await;
            n = n.saturating_add(1);
        }
    }
}
