//! A Salesforce org simulator for tests, demos and benchmarks. Its data comes from a
//! **seeded data generator**: a realistic org (Users, Accounts, Contacts, Opportunities, Cases,
//! Tasks, a custom object with master-detail and lookup relationships, ContentVersion and
//! Attachment files with bodies) produced deterministically from a seed and a record count, and
//! an exporter writing it as REST-shaped JSONL plus file bodies.
//!
//! [`org::LiveOrg`] is that org at run time, answering as the Salesforce APIs do: describe,
//! SOQL `query`/`queryAll` (a subset large enough for backup and restore), the Bulk API 2.0 view
//! of a query with its CSV writer, the `updated`/`deleted` replication windows, soft deletes and
//! the Recycle Bin, blob bodies, restore writes (single and collection, `allOrNone`, upsert by
//! external id) and seeded mutations. It can also be loaded from an export directory
//! ([`org::LiveOrg::load_dir`]), with the types of unknown fields inferred from their values.
//!
//! [`server`] serves a `LiveOrg` over HTTPS on loopback as Salesforce does (OAuth, REST,
//! query cursors, Bulk API 2.0, limits, collections, fault injection); start it in-process with
//! [`server::Simulator::builder`] or run `coffer-sfsim serve`. The server, its HTTP/TLS stack and
//! the `coffer-sfsim` binary sit behind the default feature `server`; without it the crate is the
//! generator and the org core alone (the fuzz targets build it that way).
//!
//! # Example
//!
//! ```
//! use coffer_sfsim::{GenerateConfig, Org};
//!
//! let org = Org::generate(&GenerateConfig { seed: 7, records: 200 })?;
//! let accounts = org.object("Account").map(|o| o.records.len()).unwrap_or(0);
//! assert!(accounts > 0);
//! let first = &org.object("Account").unwrap().records[0];
//! assert_eq!(first.object_type(), Some("Account"));
//! // Every Id is an 18-character Id with a valid case checksum.
//! assert_eq!(first.id().unwrap().as_str().len(), 18);
//! // Same seed, same org.
//! let again = Org::generate(&GenerateConfig { seed: 7, records: 200 })?;
//! assert_eq!(org.objects(), again.objects());
//!
//! // The live org answers SOQL in the REST shape.
//! let live = coffer_sfsim::org::LiveOrg::new(org);
//! let page = live.query("SELECT Id, Name FROM Account ORDER BY Id LIMIT 2", false, "v62.0")?;
//! assert_eq!(page.records.len(), 2);
//! assert_eq!(page.records[0]["attributes"]["type"], "Account");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The command line does the same: `coffer-sfsim generate --seed 7 --records 10000 --out DIR`
//! writes `DIR/records/<Object>.jsonl` and `DIR/blobs/<Id>` (see [`export`]).

mod blob;
pub mod export;
mod generate;
pub mod ids;
pub mod org;
mod record;
pub mod schema;
#[cfg(feature = "server")]
pub mod server;
mod time;
mod vocab;

use std::path::PathBuf;

pub use blob::{BlobKind, BlobSpec};
pub use generate::{
    API_VERSION, GenerateConfig, NOW_EPOCH_SECONDS, ObjectCounts, ObjectRecords, Org,
};
pub use ids::SfId;
pub use record::Record;

/// Everything that can go wrong in the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string is not a Salesforce Id.
    #[error("invalid Salesforce Id {id:?}: {reason}")]
    InvalidId {
        /// The offending input.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The generator was asked for something it cannot produce.
    #[error("invalid generator configuration: {0}")]
    InvalidConfig(&'static str),
    /// The export directory already holds files.
    #[error("{} is not empty; choose a new output directory", path.display())]
    OutputNotEmpty {
        /// The non-empty directory.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("I/O error on {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A loaded record cannot be served (no valid Id, no object type).
    #[error("{}:{line}: {reason}", path.display())]
    InvalidRecord {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the record.
        reason: &'static str,
    },
    /// A JSONL line is not a JSON object.
    #[error("{}:{line}: not a JSON record", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The simulator could not listen on its address.
    #[error("cannot serve on {addr}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Certificates or TLS configuration could not be made or read.
    #[error("TLS: {0}")]
    Tls(String),
    /// An HTTP request to a running simulator failed.
    #[cfg(feature = "server")]
    #[error("HTTP request to {url} failed")]
    Http {
        /// The URL.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// A running simulator's admin endpoint refused a request.
    #[error("simulator answered HTTP {status}: {body}")]
    AdminStatus {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
}
