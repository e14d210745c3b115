//! The live org: the synchronous core of the simulator that the HTTP server drives.
//!
//! [`LiveOrg`] holds every record of a generated (or loaded) org in typed columns and answers
//! what the Salesforce APIs answer: describe, SOQL `query`/`queryAll`, the Bulk API 2.0 view of
//! a query ([`BulkOutput`], serialised to CSV on the hot path), the `updated`/`deleted`
//! replication windows, blob bodies, and the writes a restore needs (single and collection
//! create/update/upsert/delete with `allOrNone`). Deletes are soft: rows stay, with
//! `IsDeleted = true`, until [`LiveOrg::empty_recycle_bin`]. [`LiveOrg::mutate`] changes a
//! seeded share of the records for incremental-backup tests and benchmarks.
//!
//! Errors are [`ApiError`]s carrying the HTTP status, `errorCode` and message Salesforce uses.

mod csv;
mod describe;
mod eval;
mod load;
pub(crate) mod model;
mod mutate;
mod replication;
pub mod soql;
mod writes;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

pub use csv::{BulkOutput, CsvOptions, LineEnding};

use crate::Org;
use model::Store;

/// A Salesforce-shaped error: the REST body `[{"message":..,"errorCode":..,"fields":[..]}]`
/// with HTTP status `status`. `fields` is omitted from the body when empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// Salesforce `errorCode` (e.g. `MALFORMED_QUERY`).
    pub error_code: String,
    /// Human-readable message, worded as Salesforce words it.
    pub message: String,
    /// Fields the error concerns (may be empty).
    pub fields: Vec<String>,
}

impl ApiError {
    /// An error with no `fields`.
    pub fn new(status: u16, error_code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code: error_code.to_owned(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// The same error naming `fields`.
    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }

    /// The REST error body: a one-element JSON array.
    pub fn body(&self) -> Value {
        Value::Array(vec![self.entry()])
    }

    /// One `{"message","errorCode"[, "fields"]}` object, as in the REST error array.
    pub fn entry(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("message".into(), Value::from(self.message.clone()));
        entry.insert("errorCode".into(), Value::from(self.error_code.clone()));
        if !self.fields.is_empty() {
            entry.insert("fields".into(), Value::from(self.fields.clone()));
        }
        Value::Object(entry)
    }

    /// The per-record error of a collection result: `{"statusCode","message","fields"}`.
    pub fn collection_entry(&self) -> Value {
        serde_json::json!({
            "statusCode": self.error_code,
            "message": self.message,
            "fields": self.fields,
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.error_code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The result of a REST query: every matching row, projected, in REST shape. The server pages
/// `records` into batches behind `nextRecordsUrl`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// Number of matching records (for `SELECT COUNT() ...`, the count; `records` is empty).
    pub total_size: usize,
    /// The rows, each `{"attributes":{"type","url"}, <fields in SELECT order>}`.
    pub records: Vec<Value>,
}

/// What [`LiveOrg::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// No record had the external id value: a new record with this Id (HTTP 201).
    Created(String),
    /// Exactly one record matched and was updated (HTTP 204).
    Updated(String),
    /// Several records matched (HTTP 300 with their URLs); nothing was written.
    Multiple(Vec<String>),
}

/// A seeded mutation of the org: percentages (0 to 100) of each object's live records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mutation {
    /// Seed: the same seed on the same org picks the same records and values.
    pub seed: u64,
    /// Percentage of live records to update.
    pub update_pct: f64,
    /// Percentage of live records to delete (soft, cascading to master-detail children).
    pub delete_pct: f64,
    /// Percentage of live records to add as new records.
    pub create_pct: f64,
}

/// What one object went through in a [`LiveOrg::mutate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ObjectMutation {
    /// Records updated.
    pub updated: u64,
    /// Records deleted (cascaded children are counted under their own object).
    pub deleted: u64,
    /// Records created.
    pub created: u64,
}

/// What [`LiveOrg::mutate`] changed, per object; serialises as the `mutate` command's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct MutationSummary {
    /// Counts per object API name (objects with no change are left out).
    pub objects: BTreeMap<String, ObjectMutation>,
    /// Total records updated.
    pub updated: u64,
    /// Total records deleted, cascades included.
    pub deleted: u64,
    /// Total records created.
    pub created: u64,
}

/// A live, mutable simulated org.
#[derive(Debug)]
pub struct LiveOrg {
    store: Store,
}

impl LiveOrg {
    /// Produces and keeps the generated file bodies now, for a server to send as stored bytes.
    pub(crate) fn keep_file_bodies(&self) {
        self.store.keep_generated_bodies();
    }

    /// The live org of a generated org.
    pub fn new(org: Org) -> Self {
        Self {
            store: Store::from_generated(org),
        }
    }

    /// Loads `DIR/records/<Object>.jsonl` (any object; undescribed fields get types inferred
    /// from their values) with file bodies from `DIR/blobs/<Id>` (read when requested).
    ///
    /// # Errors
    /// [`crate::Error::Io`] or [`crate::Error::Json`] when a file cannot be read or parsed,
    /// [`crate::Error::InvalidRecord`] when a record has no valid Id.
    pub fn load_dir(dir: &Path) -> Result<Self, crate::Error> {
        Ok(Self {
            store: load::load_dir(dir)?,
        })
    }

    /// Writes every record the org holds now, soft-deleted ones included, and every file body,
    /// in the layout of [`crate::export`] (what `coffer-sfsim generate` writes), so other tools
    /// can be run on exactly the data a backup of this org reads.
    ///
    /// # Errors
    /// As [`crate::export::write_dir`].
    pub fn write_dir(&self, dir: &Path) -> Result<crate::export::ExportSummary, crate::Error> {
        crate::export::write_live(&self.store, dir)
    }

    /// Simulated "now" in epoch milliseconds: the later of the wall clock and the last stamp
    /// given out.
    pub fn now_millis(&self) -> i64 {
        self.store.now_millis()
    }

    /// `GET /sobjects/` body (describeGlobal).
    pub fn describe_global(&self) -> Value {
        describe::describe_global(&self.store)
    }

    /// `GET /sobjects/T/describe` body.
    ///
    /// # Errors
    /// 404 `NOT_FOUND` for an unknown object.
    pub fn describe(&self, object: &str) -> Result<Value, ApiError> {
        describe::describe(&self.store, object)
    }

    /// `GET /sobjects/T` body: `{"objectDescribe":{..},"recentItems":[]}`.
    ///
    /// # Errors
    /// 404 `NOT_FOUND` for an unknown object.
    pub fn sobject_basic(&self, object: &str) -> Result<Value, ApiError> {
        describe::sobject_basic(&self.store, object)
    }

    /// `/limits/recordCount` body for `objects` (all objects when `None`).
    pub fn record_counts(&self, objects: Option<&[String]>) -> Value {
        describe::record_counts(&self.store, objects)
    }

    /// Non-deleted records per object.
    pub fn live_counts(&self) -> BTreeMap<String, u64> {
        self.store.live_counts()
    }

    /// Runs a SOQL query; `all_rows` is queryAll (soft-deleted rows included).
    ///
    /// # Errors
    /// 400 `MALFORMED_QUERY`, `INVALID_FIELD` or `INVALID_TYPE`, worded as Salesforce does.
    pub fn query(
        &self,
        soql: &str,
        all_rows: bool,
        api_version: &str,
    ) -> Result<QueryOutput, ApiError> {
        eval::query(&self.store, soql, all_rows, api_version)
    }

    /// The Bulk API 2.0 view of a query: the Bulk restrictions checked, rows flattened for CSV.
    ///
    /// # Errors
    /// As [`LiveOrg::query`], plus 400 `INVALIDENTITY` for objects Bulk does not serve,
    /// `FUNCTIONALITY_NOT_ENABLED` for compound fields and `MALFORMED_QUERY` for aggregates,
    /// GROUP BY, OFFSET, TYPEOF and subqueries.
    pub fn bulk_query(&self, soql: &str, all_rows: bool) -> Result<BulkOutput, ApiError> {
        eval::bulk_query(&self.store, soql, all_rows)
    }

    /// `GET /sobjects/T/ID` body, all fields or `fields`.
    ///
    /// # Errors
    /// 404 `NOT_FOUND` for an unknown object or record (deleted records included), 400
    /// `INVALID_FIELD` for an unknown field.
    pub fn get_record(
        &self,
        object: &str,
        id: &str,
        fields: Option<&[String]>,
        api_version: &str,
    ) -> Result<Value, ApiError> {
        eval::get_record(&self.store, object, id, fields, api_version)
    }

    /// `GET /sobjects/T/updated?start=&end=` body.
    ///
    /// # Errors
    /// See [`replication`](self) rules: `INVALID_REPLICATION_DATE`, `EXCEEDED_ID_LIMIT`,
    /// `NOT_FOUND`, and refusal of objects that are not replicateable.
    pub fn updated(&self, object: &str, start: &str, end: &str) -> Result<Value, ApiError> {
        replication::updated(&self.store, object, start, end)
    }

    /// `GET /sobjects/T/deleted?start=&end=` body.
    ///
    /// # Errors
    /// As [`LiveOrg::updated`].
    pub fn deleted(&self, object: &str, start: &str, end: &str) -> Result<Value, ApiError> {
        replication::deleted(&self.store, object, start, end)
    }

    /// A blob body (`Body` of Attachment/Document, `VersionData` of ContentVersion) and its
    /// content type.
    ///
    /// # Errors
    /// 404 `NOT_FOUND` when the object, record, field or body does not exist.
    pub fn blob(
        &self,
        object: &str,
        id: &str,
        field: &str,
    ) -> Result<(bytes::Bytes, String), ApiError> {
        self.store.blob(object, id, field)
    }

    /// Creates one record; returns its new Id.
    ///
    /// # Errors
    /// The Salesforce validation errors (`REQUIRED_FIELD_MISSING`,
    /// `INVALID_FIELD_FOR_INSERT_UPDATE`, `MALFORMED_ID`, `INVALID_CROSS_REFERENCE_KEY`,
    /// `DUPLICATE_VALUE`, `INVALID_FIELD`, ...).
    pub fn create(
        &mut self,
        object: &str,
        fields: &Map<String, Value>,
    ) -> Result<String, ApiError> {
        writes::create(&mut self.store, object, fields)
    }

    /// Updates one record.
    ///
    /// # Errors
    /// As [`LiveOrg::create`], plus `ENTITY_IS_DELETED` and 404 `NOT_FOUND`.
    pub fn update(
        &mut self,
        object: &str,
        id: &str,
        fields: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        writes::update(&mut self.store, object, id, fields)
    }

    /// Upserts one record by external id field `ext_field` = `value`.
    ///
    /// # Errors
    /// As [`LiveOrg::create`]; 404 `NOT_FOUND` when `ext_field` is not an external id field.
    pub fn upsert(
        &mut self,
        object: &str,
        ext_field: &str,
        value: &str,
        fields: &Map<String, Value>,
    ) -> Result<UpsertOutcome, ApiError> {
        writes::upsert(&mut self.store, object, ext_field, value, fields)
    }

    /// Soft-deletes one record to the Recycle Bin, with its master-detail children.
    ///
    /// # Errors
    /// `MALFORMED_ID`, 404 `NOT_FOUND`, `ENTITY_IS_DELETED`.
    pub fn delete(&mut self, object: Option<&str>, id: &str) -> Result<(), ApiError> {
        writes::delete(&mut self.store, object, id)
    }

    /// `POST /composite/sobjects`: results in input order.
    ///
    /// # Errors
    /// Request-level errors (more than 200 records, malformed body).
    pub fn collection_create(&mut self, body: &Value) -> Result<Value, ApiError> {
        writes::collection_create(&mut self.store, body)
    }

    /// `PATCH /composite/sobjects`: results in input order.
    ///
    /// # Errors
    /// As [`LiveOrg::collection_create`].
    pub fn collection_update(&mut self, body: &Value) -> Result<Value, ApiError> {
        writes::collection_update(&mut self.store, body)
    }

    /// `PATCH /composite/sobjects/T/ExtIdField`: results with `created`, in input order.
    ///
    /// # Errors
    /// As [`LiveOrg::collection_create`], plus 404 `NOT_FOUND` for a field that is not an
    /// external id.
    pub fn collection_upsert(
        &mut self,
        object: &str,
        ext_field: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        writes::collection_upsert(&mut self.store, object, ext_field, body)
    }

    /// `DELETE /composite/sobjects?ids=..&allOrNone=..`: results in input order.
    ///
    /// # Errors
    /// `REQUIRED_FIELD_MISSING` with no ids, `EXCEEDED_ID_LIMIT` above 200.
    pub fn collection_delete(
        &mut self,
        ids: &[String],
        all_or_none: bool,
    ) -> Result<Value, ApiError> {
        writes::collection_delete(&mut self.store, ids, all_or_none)
    }

    /// Purges every soft-deleted record; returns how many were purged.
    pub fn empty_recycle_bin(&mut self) -> usize {
        self.store.empty_recycle_bin()
    }

    /// Updates, deletes and creates a seeded share of every object's records.
    pub fn mutate(&mut self, m: &Mutation) -> MutationSummary {
        mutate::mutate(&mut self.store, m)
    }
}
