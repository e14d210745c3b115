//! Key lifecycle for every connected org: a [`Kms`] seam over a root key (AWS KMS, or a local
//! master key), a key ring of versioned key-encryption keys (KEKs) per org, and data keys
//! (DEKs) per object, wrapped under a KEK with an encryption context. Usable alone by anyone who
//! needs envelope encryption with a KMS.
//!
//! # Getting started
//!
//! ```
//! use std::sync::Arc;
//! use coffer_keys::{EncryptionContext, KeyManager, LocalKms, OrgId, RingOptions};
//! use coffer_store::Memory;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: LocalKms::from_default_env() (COFFER_MASTER_KEY_FILE or COFFER_MASTER_KEY,
//! // made by `openssl rand -base64 32`), or AwsKms.
//! let kms = Arc::new(LocalKms::generate()?);
//! let keys = KeyManager::new(Arc::new(Memory::new()), kms);
//!
//! let org = OrgId::new("00D5g000004SAMPLE")?;
//! let created = keys.create_ring(&org, RingOptions::new()).await?;
//! assert_eq!(created.kind.action(), "key.ring-created"); // send it to the audit log
//!
//! // A data key per object, bound to what the object is.
//! let context = EncryptionContext::object(&org, "packs/0001", "pack");
//! let new = keys.generate_data_key(&org, &context).await?;
//! let sealed = coffer_envelope::seal(&new.key, b"packs/0001", &context.canonical_bytes(), b"records")?;
//! // Store `new.wrapped` (69 bytes) with the object; the plaintext key is never stored.
//!
//! // Rotation: new writes use version 2; version 1 stays readable (decrypt-only).
//! keys.rotate(&org).await?;
//! let key = keys.unwrap_data_key(&org, &new.wrapped, &context).await?;
//! let opened = coffer_envelope::open(&key, &context.canonical_bytes(), &sealed)?;
//! assert_eq!(opened, b"records");
//!
//! // The wrong context never unwraps.
//! let elsewhere = EncryptionContext::object(&org, "packs/0002", "pack");
//! assert!(keys.unwrap_data_key(&org, &new.wrapped, &elsewhere).await.is_err());
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! - **Hierarchy.** Root key (never leaves the KMS) → org KEK versions, each stored only wrapped
//!   by the root with the context `{coffer:purpose=org-kek, coffer:org, coffer:kek-version}` →
//!   data keys, each wrapped by one KEK version with AES-256-GCM ([`WrappedDek`], 69 bytes),
//!   bound to the org and the caller's [`EncryptionContext`]. Unwrapping a data key costs no
//!   KMS call once its KEK is cached. Formats: `docs/format/keyring.md`.
//! - **Lifecycle** ([`KeyRing`], [`KeyState`]): one `active` primary for new writes; rotation
//!   makes older versions `decrypt-only`; `min_decryption_version` disables old versions
//!   reversibly; `destroy` erases a decrypt-only version's wrapped KEK (crypto-shredding), and
//!   [`KeyManager::shred`] does it for a whole org. Every change returns a [`KeyEvent`].
//! - **Rewrap** ([`KeyManager::rewrap_all`], [`DekCatalog`], [`RewrapCursor`]): moves data keys
//!   to the primary without touching the data, resumably, so old versions can then be
//!   destroyed.
//! - **Persistence** ([`persist`]): each ring generation is one object
//!   `keyrings/<org>/<generation>`, sealed with `coffer-envelope` under a fresh KMS data key and
//!   written create-only, so a repository's keys travel with its bucket and of two concurrent
//!   changes exactly one wins ([`Error::Conflict`] for the other). Superseded generations are
//!   overwritten with a marker (and their older versions deleted on a versioned store), so a
//!   destroyed KEK survives nowhere, while their names stay taken so a stale writer cannot
//!   re-create one and lose a change silently.
//! - **Cache**: unwrapped KEKs and DEKs stay in RAM for a TTL (default 5 minutes, not extended
//!   by hits) under a size bound, as `Arc`s to self-wiping keys; a hit is one hash-map lookup.
//!   Destroy and shred evict at once in this process; other processes sharing the store notice
//!   within one TTL, which is why destroy waits one TTL after retirement.
//! - **Errors** ([`Error`]): typed for every domain failure; what fails to authenticate is one
//!   opaque [`Error::Unwrap`].
//! - **Key material** is held in [`coffer_envelope::DataKey`] (a wiped-on-drop `SecretBox`);
//!   `Debug` never prints key bytes.
//!
//! # Threats this does not stop
//!
//! Whoever can write the bucket can delete the newest ring generation and so roll a ring back
//! to the previous one (which the caller's audit log, recording generations, reveals), and can
//! delete data; keep rings in a write-protected location. Whoever can use the root key through
//! the KMS can read everything: that is what the root key is. With AWS KMS, restrict the
//! principal's `kms:Decrypt` to the intended keys, since a ring object names its root key.

mod cache;
mod clock;
mod context;
mod error;
mod event;
mod kms;
mod manager;
pub mod persist;
mod rewrap;
mod ring;
mod wrap;

pub use cache::{CacheConfig, CacheStats, DEFAULT_CAPACITY, DEFAULT_TTL};
pub use clock::{Clock, ManualClock, SystemClock};
pub use coffer_envelope::DataKey;
pub use context::{EncryptionContext, MAX_ORG_ID_LEN, OrgId};
pub use error::{Error, MasterKeyError, Result};
pub use event::{KeyEvent, KeyEventKind};
#[cfg(feature = "aws-kms")]
pub use kms::{AwsKms, AwsKmsConfig};
pub use kms::{
    DEFAULT_LOCAL_KEY_ID, GeneratedKey, Kms, LocalKms, MASTER_KEY_ENV, MASTER_KEY_FILE_ENV,
};
pub use manager::{KeyCacheStats, KeyManager, KeyManagerBuilder, NewDataKey, RingOptions};
pub use rewrap::{
    DekCatalog, DekRecord, MemoryDekCatalog, ReplaceOutcome, RewrapCursor, RewrapProgress,
};
pub use ring::{KeyOrigin, KeyRing, KeyState, KeyVersion, MAX_VERSIONS, RING_FORMAT};
pub use wrap::{
    DEK_FORMAT_VERSION, DEK_MAGIC, MAX_WRAPPED_KEY_LEN, WRAPPED_DEK_LEN, WrappedDek, WrappedKey,
};
