//! `coffer-audit`: a tamper-evident audit trail that a third party can verify.
//!
//! Every audited action becomes an [`Event`] (who, what, on what, when, from where, with
//! what outcome) appended to an RFC 6962 Merkle log. The log is written through an
//! [`AuditSink`] (segmented files, SQLite/PostgreSQL, or a fan-out) and **fails closed**: if
//! no sink can make the event durable, [`AuditLog::record`] returns an error and the caller
//! refuses the action. Every N events, every T seconds and at shutdown the log signs a
//! C2SP checkpoint (origin, size, root) with Ed25519 and puts it in a [`CheckpointStore`]
//! separate from the log, so recomputing the log or cutting its tail is detected.
//!
//! Personal data (user names and source IPs) is never in the log: events carry HMAC
//! commitments, the values live in an erasable [`PayloadStore`]. Erasure keeps every proof
//! valid and is reported as "verified, payload erased", distinct from tampering.
//!
//! The [`verify`] module is synchronous and does no I/O: given the log bytes, the checkpoints
//! and the public key, it names the first bad entry. Exports (JSON Lines with inclusion and
//! consistency proofs, CSV, CEF, syslog) are themselves audited events.
//!
//! The byte formats are specified in `docs/format/audit.md`.
//!
//! # Getting started
//!
//! ```
//! use std::sync::Arc;
//! use coffer_audit::{
//!     AuditLog, CheckpointSigner, EventDraft, MemoryCheckpointStore, MemoryPayloadStore,
//!     Outcome, FileSink, FileSinkOptions, Target, verify,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), coffer_audit::Error> {
//! let dir = tempfile::tempdir().map_err(|e| coffer_audit::Error::Export(e.to_string()))?;
//! // In production the seed is unwrapped from coffer-keys; here it is fresh.
//! let signer = CheckpointSigner::new("audit.example/acme", &CheckpointSigner::generate_seed()?)?;
//! let verifier = signer.verifier();
//! let checkpoints = Arc::new(MemoryCheckpointStore::new());
//! let log = AuditLog::builder(
//!     signer,
//!     Arc::new(FileSink::open(dir.path(), FileSinkOptions::default()).await?),
//!     checkpoints.clone(),
//!     Arc::new(MemoryPayloadStore::new()),
//! )
//! .open()
//! .await?;
//!
//! let receipt = log
//!     .record(
//!         EventDraft::new("backup.start", Outcome::Success)
//!             .user("oidc:https://idp.example", "alice@example.com")
//!             .source_ip("203.0.113.7".parse().expect("literal IP"))
//!             .target(Target { org: Some("00D5e000000abcd".into()), ..Target::default() }),
//!     )
//!     .await?; // on Err: refuse the backup
//! assert_eq!(receipt.seq, 0);
//! log.shutdown().await?; // signs the final checkpoint
//!
//! // Anyone with the log bytes, the checkpoints and the public key can verify.
//! let bytes = coffer_audit::read_log_dir(dir.path())?;
//! let notes: Vec<Vec<u8>> = coffer_audit::checkpoint_store::load_all(checkpoints.as_ref())
//!     .await?
//!     .into_iter()
//!     .map(|(_, note)| note)
//!     .collect();
//! let report = verify::verify_log(&bytes, &notes, &verifier, None, verify::Options::default());
//! assert!(report.is_verified(), "{report}");
//! # Ok(()) }
//! ```
//!
//! # Composed elsewhere
//!
//! This crate depends on none of Coffer's other crates. `coffer_engine::audit_trail` composes
//! it with them: `StoreCheckpoints` (a [`CheckpointStore`] on any `coffer_store::ObjectStore`,
//! under S3 object lock in compliance mode where available), `SealedPayloads` (a
//! [`PayloadStore`] sealing each opening with `coffer-envelope` under an org data key, so
//! erasure is final) and `SigningKeyVault` (the checkpoint-signing seed sealed under the org's
//! `coffer-keys` ring).

mod error;
mod fsutil;

pub mod checkpoint;
pub mod checkpoint_store;
pub mod event;
pub mod export;
pub mod log;
pub mod merkle;
pub mod offline;
pub mod pii;
pub mod sink;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;
pub mod time;
pub mod verify;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointSigner, NoteVerifier, SignedNote};
pub use checkpoint_store::{CheckpointStore, DirCheckpointStore, MemoryCheckpointStore};
pub use error::Error;
pub use event::{Actor, Commitment, Event, Outcome, Target};
pub use export::{ExportFormat, ExportRequest, export, verify_export, verify_export_pair};
pub use log::{AuditConfig, AuditLog, AuditLogBuilder, Clock, EventDraft, Receipt, SystemClock};
pub use merkle::{Frontier, Hash, MerkleTree};
pub use pii::{DirPayloadStore, MemoryPayloadStore, Opening, PayloadStore};
pub use sink::{
    AuditSink, FanOut, FanOutPolicy, FileSink, FileSinkOptions, LogBatch, read_log_dir,
};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::SqlSink;
pub use time::Timestamp;
pub use verify::{Failure, FailureKind, Report, verify_log};
