//! `coffer-engine`: the encrypted backup repository (full and incremental backups of an org,
//! point-in-time reads, verify, compare, retention, erasure and archive) and the compositions
//! of the lower crates that need more than one of them.
//!
//! The repository is [`repo`] (the format of `docs/format/repository.md`: packs, blob packs,
//! index segments, manifests; point-in-time reads and verify) and [`backup`] (full and
//! incremental backups of an org through `coffer-salesforce`, several objects at a time).
//! Restore, compare, retention and erasure are not built yet. The other part is [`audit_trail`]: the storage of `coffer-audit`'s tamper-evident log composed with
//! `coffer-store`, `coffer-keys` and `coffer-envelope` (which `coffer-audit` may not depend on):
//! checkpoints as create-only objects under object lock, personal-data openings sealed per
//! event and erasable for good, and the checkpoint-signing key sealed under the org's key ring.
//!
//! # Getting started
//!
//! ```
//! use std::sync::Arc;
//! use coffer_audit::{AuditLog, EventDraft, FileSink, FileSinkOptions, Outcome, verify};
//! use coffer_engine::audit_trail::{
//!     CHECKPOINT_PREFIX, PAYLOAD_PREFIX, SIGNING_KEY_PREFIX, SealedPayloads, SigningKeyVault,
//!     StoreCheckpoints, verify_trail,
//! };
//! use coffer_keys::{KeyManager, LocalKms, OrgId, RingOptions};
//! use coffer_store::{Memory, ObjectStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn ObjectStore> = Arc::new(Memory::new());
//! let keys = KeyManager::new(store.clone(), Arc::new(LocalKms::generate()?));
//! let org = OrgId::new("00D5g000004SAMPLE")?;
//! keys.create_ring(&org, RingOptions::new()).await?;
//!
//! // The signing key: created once, sealed under the org's key ring, loaded on every start.
//! let vault = SigningKeyVault::new(store.clone(), keys.clone(), org.clone(), SIGNING_KEY_PREFIX)?;
//! let signer = vault.load_or_create("audit.example/acme").await?;
//! let verifier = vault.published_verifier().await?;
//!
//! let checkpoints = Arc::new(StoreCheckpoints::new(store.clone(), CHECKPOINT_PREFIX)?);
//! let payloads = Arc::new(SealedPayloads::new(store.clone(), keys, org, PAYLOAD_PREFIX)?);
//! let dir = tempfile::tempdir()?;
//! let log = AuditLog::builder(
//!     signer,
//!     Arc::new(FileSink::open(dir.path(), FileSinkOptions::default()).await?),
//!     checkpoints.clone(),
//!     payloads.clone(),
//! )
//! .open()
//! .await?;
//! let receipt = log
//!     .record(EventDraft::new("login", Outcome::Success).user("local", "alice@example.com"))
//!     .await?;
//! log.erase_payload(receipt.seq, EventDraft::new("gdpr.request", Outcome::Success)).await?;
//! log.shutdown().await?;
//!
//! let bytes = coffer_audit::read_log_dir(dir.path())?;
//! let report = verify_trail(
//!     &bytes, checkpoints.as_ref(), &verifier, Some(payloads.as_ref()), verify::Options::default(),
//! )
//! .await?;
//! assert!(report.is_verified(), "{report}");
//! assert_eq!(report.payloads.erased, vec![receipt.seq]); // "verified, payload erased"
//! # Ok(()) }
//! ```

mod error;
mod sealed;
mod slots;

pub mod audit_trail;
pub mod backup;
pub mod repo;

pub use error::{Error, Result};
