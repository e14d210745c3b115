//! The Salesforce client a backup product needs: OAuth 2.0 flows, discovery, REST and Bulk
//! API 2.0 extraction, incremental windows, deletes, blob downloads and collection writes for
//! restore, within the org's API budget.
//!
//! The seam is the [`SalesforceApi`] trait (what the backup engine calls); [`Client`]
//! implements it over HTTPS (rustls on aws-lc-rs; plain HTTP only to loopback test servers).
//! The logic above single calls — choosing Bulk or REST, falling back, splitting windows on
//! `QUERY_TIMEOUT`, resuming after dead cursors, detecting a required full resync — lives in
//! [`extract`] and works with any implementation of the trait. The HTTP client ([`Client`],
//! [`auth`], [`tls`]) sits behind the default feature `client`; without it the crate is the
//! trait, the planners and the decoders alone (the fuzz targets build it that way).
//!
//! # Records
//!
//! A [`Record`] is a `serde_json::Map` in REST shape without `attributes`. Both read paths
//! produce the same record for the same row: the same fields are selected (compound
//! `address`/`location` fields and `base64` fields are left out, see [`ObjectPlan`]), Bulk CSV
//! cells are typed with describe (empty cell = `null`, booleans and numbers as JSON values) and
//! Bulk datetimes are rewritten to the REST form `2020-10-22T21:03:23.000+0000`.
//!
//! An extraction returns a [`Page`] at a time. A Bulk page stays in its compact decoded form
//! ([`CsvPage`]: typed cells, one text buffer, column names shared) and becomes records row by
//! row as the page is iterated, so decoding costs a few allocations per page instead of several
//! per cell (see [`bulk_csv`]).
//!
//! # Example
//!
//! Plan an object from its describe, and build the window query an incremental run sends:
//!
//! ```
//! use coffer_salesforce::{ObjectPlan, SObjectDescribe, Timestamp, Window};
//! use std::time::Duration;
//!
//! let describe: SObjectDescribe = serde_json::from_str(r#"{
//!   "name": "Account", "queryable": true, "replicateable": true,
//!   "fields": [
//!     {"name": "Id", "type": "id"},
//!     {"name": "Name", "type": "string"},
//!     {"name": "BillingAddress", "type": "address"},
//!     {"name": "SystemModstamp", "type": "datetime"}
//!   ]}"#)?;
//! let plan = ObjectPlan::from_describe(&describe);
//! assert_eq!(plan.select(), "SELECT Id,Name,SystemModstamp FROM Account");
//! assert_eq!(plan.compound_fields, ["BillingAddress"]);
//!
//! let previous_end = Timestamp::parse("2024-05-01T00:10:00.000+0000").unwrap();
//! let now = Timestamp::parse("2024-05-02T00:00:00.000Z").unwrap();
//! let window = Window::incremental(previous_end, now, Duration::from_secs(600));
//! assert_eq!(
//!     window.condition(),
//!     "SystemModstamp >= 2024-05-01T00:00:00.000Z AND SystemModstamp <= 2024-05-02T00:00:00.000Z"
//! );
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! A client against an org (not run here: it needs a network):
//!
//! ```no_run
//! use coffer_salesforce::{Client, Credentials, SalesforceApi};
//! use secrecy::SecretString;
//!
//! # async fn run() -> Result<(), coffer_salesforce::Error> {
//! let client = Client::builder(
//!     "https://acme.my.salesforce.com",
//!     Credentials::ClientCredentials {
//!         client_id: "3MVG9...".into(),
//!         client_secret: SecretString::from("..."),
//!     },
//! )
//! .build()?;
//! let objects = client.describe_global().await?;
//! println!("{} objects", objects.sobjects.len());
//! # Ok(()) }
//! ```

pub mod api;
#[cfg(feature = "client")]
pub mod auth;
pub mod budget;
pub mod bulk;
pub mod bulk_csv;
#[cfg(feature = "client")]
pub mod client;
mod csv_scan;
pub mod describe;
pub mod error;
pub mod extract;
pub mod query;
pub mod retry;
pub mod time;
#[cfg(feature = "client")]
pub mod tls;
pub mod window;
pub mod writes;

pub use api::{BlobStream, SalesforceApi};
#[cfg(feature = "client")]
pub use auth::{Credentials, RotationHook, TokenSet};
pub use budget::{ApiUsage, Budget, Limits};
pub use bulk::{BulkJob, BulkPage, JobState, Locator, RawBulkPage};
pub use bulk_csv::{CsvDecoder, CsvPage, CsvRow, Field};
#[cfg(feature = "client")]
pub use client::{Client, ClientBuilder};
pub use describe::{DescribeGlobal, FieldSpec, ObjectPlan, SObjectDescribe, ValueKind};
pub use error::Error;
pub use extract::{BulkSupport, Checkpoint, ExtractOptions, Extraction, Method, Page, PageRecords};
pub use query::{DeletedRecords, QueryPage, UpdatedIds};
pub use time::Timestamp;
pub use window::{Cursor, Window};
pub use writes::{RecordResult, WriteOp};

/// A record: REST-shaped JSON fields, `attributes` removed.
pub type Record = serde_json::Map<String, serde_json::Value>;
