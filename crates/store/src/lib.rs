//! Where Coffer keeps its bytes: one async [`ObjectStore`] trait, three backends behind it
//! ([`LocalFs`], [`S3`], [`Memory`]) and layers that wrap any of them ([`Retry`],
//! [`ResidencyLayer`], [`Replicated`], and [`Prefixed`] for a store inside one folder of
//! another).
//!
//! ```
//! use bytes::Bytes;
//! use coffer_store::{
//!     Error, Memory, ObjectKey, ObjectStore, PutOptions, Region, ResidencyLayer, Retry,
//!     RetryPolicy,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! // An EU-pinned org writing to a store in eu-central-1, with retries for transient errors.
//! let eu = Region::new("eu-central-1")?;
//! let store = Retry::new(
//!     ResidencyLayer::new(Memory::new(), eu.clone(), [eu]),
//!     RetryPolicy::default(),
//! );
//!
//! let key = ObjectKey::new("orgs/00D000000000001/manifests/0001")?;
//! store.put(&key, Bytes::from_static(b"snapshot"), &PutOptions::create_only()).await?;
//! assert_eq!(store.get(&key).await?, Bytes::from_static(b"snapshot"));
//!
//! // A second create-only write of the same key loses, and writes nothing.
//! let again = store.put(&key, Bytes::from_static(b"other"), &PutOptions::create_only()).await;
//! assert!(matches!(again, Err(Error::AlreadyExists { .. })));
//! # Ok(()) }
//! ```
//!
//! # Design
//! - **One seam, one suite.** Every backend implements the same trait and passes the same
//!   conformance suite ([`conformance`], behind the `conformance` feature, so crates that
//!   wrap a store can run it on their wrapper too).
//! - **Keys are validated once.** [`ObjectKey::new`] is the only way to make a key; it refuses
//!   empty segments, `.`/`..`, leading `/`, NUL and control characters and over-long names,
//!   so no backend can be handed a path that escapes it, and all refuse the same names.
//! - **Behaviour is layered, not flagged.** Retrying, residency and replication are wrappers
//!   that implement [`ObjectStore`] around any other implementation, in any order.
//! - **Errors carry meaning.** [`Error`] has semantic variants (`NotFound`, `AlreadyExists`,
//!   `PreconditionFailed`, `PermissionDenied`, `ResidencyViolation`, `Unavailable`...) and
//!   [`Error::is_transient`] tells the retry layer what is worth retrying.
//! - **Large objects stream.** [`ObjectStore::put_stream`] and [`ObjectStore::get_stream`]
//!   move data in chunks; memory is bounded by a backend's buffer (the multipart part size on
//!   S3), not by the object.
//!
//! Backend-specific guarantees and limits (atomic writes and symlink refusal on `LocalFs`,
//! checksums, encryption, multipart and object lock on `S3`) are documented on each type.

mod error;
mod key;
mod local;
mod memory;
mod object_store;
mod prefix;
mod replication;
mod residency;
mod retry;
#[cfg(feature = "s3")]
mod s3;
mod types;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use error::{Error, Result};
pub use key::{MAX_KEY_LEN, MAX_SEGMENT_LEN, ObjectKey, validate_prefix};
pub use local::LocalFs;
pub use memory::Memory;
pub use object_store::{ObjectStore, list_by_pages};
pub use prefix::Prefixed;
pub use replication::{ContentDigest, Mismatch, Replicated, ReplicationReport, verify_replication};
pub use residency::{Region, ResidencyLayer};
pub use retry::{Retry, RetryPolicy};
#[cfg(feature = "s3")]
pub use s3::{Encryption, MIN_PART_SIZE, S3, S3Config, S3Credentials, SseCustomerKey};
pub use types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutMode,
    PutOptions, PutOutcome, Retention, RetentionMode, VersionId, VersionInfo,
};
