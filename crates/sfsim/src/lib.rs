//! A Salesforce org simulator for tests, demos and benchmarks. What exists now is its
//! **seeded data generator**: a realistic org (Users, Accounts, Contacts, Opportunities, Cases,
//! Tasks, a custom object with master-detail and lookup relationships, ContentVersion and
//! Attachment files with bodies) produced deterministically from a seed and a record count, and
//! an exporter writing it as REST-shaped JSONL plus file bodies.
//!
//! Still to come with issue 8's server part: the HTTP(S) API on loopback (OAuth, REST query and
//! queryAll, describe, Bulk API 2.0, blobs, writes, error injection) and the `serve`, `mutate`
//! and `count` subcommands.
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
//! # Ok::<(), coffer_sfsim::Error>(())
//! ```
//!
//! The command line does the same: `coffer-sfsim generate --seed 7 --records 10000 --out DIR`
//! writes `DIR/records/<Object>.jsonl` and `DIR/blobs/<Id>` (see [`export`]).

mod blob;
pub mod export;
mod generate;
pub mod ids;
mod record;
pub mod schema;
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
}
