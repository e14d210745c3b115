//! Openings of personal data, sealed one by one, erasable for good.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use coffer_audit::PayloadStore;
use coffer_audit::pii::{parse_payload_file_name, payload_file_name};
use coffer_keys::{EncryptionContext, KeyManager, OrgId};
use coffer_store::{ObjectKey, ObjectStore, PutOptions};
use zeroize::Zeroizing;

use super::{PURPOSE_PAYLOAD, folder, list_numbered, open, seal, to_audit};
use crate::error::{Error, Result};

/// A [`PayloadStore`] that seals every opening with `coffer-envelope` before it reaches the
/// object store: event `seq`'s opening is `<prefix>/<seq as 20 digits>.payload`, sealed under
/// its own data key from the org's key ring with the encryption context
/// `{org, path: <object key>, purpose: "audit-payload", seq}`.
///
/// The wrapped data key is the envelope's key reference, so it exists only inside the
/// object: [`erase`](PayloadStore::erase) deletes the object and, on a versioned store, every
/// version of it, which destroys the payload and the only copy of its key. (The key manager's
/// in-memory cache may hold the plaintext data key until its TTL ends.) A payload copied to
/// another sequence number or path does not open, because the context names both.
#[derive(Debug, Clone)]
pub struct SealedPayloads {
    store: Arc<dyn ObjectStore>,
    keys: KeyManager,
    org: OrgId,
    prefix: String,
}

impl SealedPayloads {
    /// Openings of `org`'s audit log under `prefix` (a folder) in `store`, sealed with data
    /// keys of `org`'s ring in `keys` (which must exist).
    ///
    /// # Errors
    /// [`Error::Store`] if `prefix` is not a valid key prefix.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        keys: KeyManager,
        org: OrgId,
        prefix: &str,
    ) -> Result<Self> {
        Ok(Self {
            store,
            keys,
            org,
            prefix: folder(prefix)?,
        })
    }

    /// The object key of event `seq`'s opening.
    ///
    /// # Errors
    /// [`Error::Store`] if the prefix and name together exceed the key limits.
    pub fn key(&self, seq: u64) -> Result<ObjectKey> {
        Ok(ObjectKey::new(format!(
            "{}{}",
            self.prefix,
            payload_file_name(seq)
        ))?)
    }

    /// The encryption context of the opening stored at `key` for event `seq`.
    pub fn context(&self, key: &ObjectKey, seq: u64) -> EncryptionContext {
        EncryptionContext::object(&self.org, key.as_str(), PURPOSE_PAYLOAD)
            .with("seq", seq.to_string())
    }

    async fn put_sealed(&self, seq: u64, payload: &[u8]) -> Result<()> {
        let key = self.key(seq)?;
        let sealed = seal(&self.keys, &self.org, &self.context(&key, seq), payload).await?;
        self.store
            .put(&key, Bytes::from(sealed), &PutOptions::create_only())
            .await?;
        Ok(())
    }

    async fn open_stored(&self, seq: u64) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let key = self.key(seq)?;
        let sealed = match self.store.get(&key).await {
            Ok(bytes) => bytes,
            Err(coffer_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        open(&self.keys, &self.org, &self.context(&key, seq), &sealed)
            .await
            .map(Some)
    }

    async fn erase_all_versions(&self, seq: u64) -> Result<bool> {
        let key = self.key(seq)?;
        if !self.store.capabilities().versions {
            let existed = match self.store.head(&key).await {
                Ok(_) => true,
                Err(coffer_store::Error::NotFound { .. }) => false,
                Err(e) => return Err(e.into()),
            };
            self.store.delete(&key).await?;
            return Ok(existed);
        }
        // On a versioned store a plain delete only hides the payload behind a marker; every
        // version, older ones (a retried write) and markers included, is removed for good.
        let versions = self.store.list_versions(&key).await?;
        let existed = versions.iter().any(|v| v.is_latest && !v.is_delete_marker);
        for version in &versions {
            self.store.delete_version(&key, &version.version).await?;
        }
        Ok(existed)
    }
}

#[async_trait]
impl PayloadStore for SealedPayloads {
    async fn put(&self, seq: u64, payload: &[u8]) -> Result<(), coffer_audit::Error> {
        match self.put_sealed(seq, payload).await {
            Ok(()) => Ok(()),
            Err(Error::Store(coffer_store::Error::AlreadyExists { .. })) => Err(
                coffer_audit::Error::AlreadyExists(format!("payload of event {seq}")),
            ),
            Err(e) => Err(to_audit("write sealed payload", e)),
        }
    }

    async fn get(&self, seq: u64) -> Result<Option<Zeroizing<Vec<u8>>>, coffer_audit::Error> {
        match self.open_stored(seq).await {
            Ok(found) => Ok(found),
            // Opaque on purpose: which check failed is not the reader's business.
            Err(Error::Crypto(_)) => Err(coffer_audit::Error::MalformedPayload(format!(
                "sealed payload of event {seq} does not open"
            ))),
            Err(e) => Err(to_audit("read sealed payload", e)),
        }
    }

    async fn erase(&self, seq: u64) -> Result<bool, coffer_audit::Error> {
        self.erase_all_versions(seq)
            .await
            .map_err(|e| to_audit("erase sealed payload", e))
    }

    async fn list(&self) -> Result<Vec<u64>, coffer_audit::Error> {
        list_numbered(
            self.store.as_ref(),
            &self.prefix,
            parse_payload_file_name,
            "list sealed payloads",
        )
        .await
    }
}
