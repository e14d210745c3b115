//! Signed checkpoints as create-only objects, optionally under object lock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use coffer_audit::CheckpointStore;
use coffer_audit::checkpoint_store::{checkpoint_file_name, parse_checkpoint_file_name};
use coffer_store::{ObjectKey, ObjectStore, PutOptions, Retention, RetentionMode};

use super::{folder, list_numbered, to_audit};
use crate::error::{Error, Result};

/// A [`CheckpointStore`] over any [`ObjectStore`]: the checkpoint of tree size `n` is the
/// object `<prefix>/<n as 20 digits>.checkpoint` (the file name
/// [`DirCheckpointStore`](coffer_audit::DirCheckpointStore) uses, so a `LocalFs` store's
/// `objects/<prefix>` directory is also a checkpoint directory `coffer audit verify` reads).
///
/// Writes use the store's create-only precondition (`If-None-Match: *` on S3), so an
/// existing checkpoint is never replaced through this type: a second write of a size is
/// [`coffer_audit::Error::AlreadyExists`]. With
/// [`with_compliance_retention`](Self::with_compliance_retention) each checkpoint is also
/// written under an object-lock retention in compliance mode, so nobody with access to the
/// bucket, not even its owner, can delete or overwrite-and-purge it before the period ends.
#[derive(Debug, Clone)]
pub struct StoreCheckpoints {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    retention: Option<Duration>,
}

impl StoreCheckpoints {
    /// Checkpoints under `prefix` (a folder; a trailing `/` is added) in `store`.
    ///
    /// # Errors
    /// [`Error::Store`] if `prefix` is not a valid key prefix.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Result<Self> {
        Ok(Self {
            store,
            prefix: folder(prefix)?,
            retention: None,
        })
    }

    /// Writes every new checkpoint with an object-lock retention in compliance mode lasting
    /// `period` from the moment of the write.
    ///
    /// # Errors
    /// [`Error::ObjectLockUnavailable`] if the store does not honour object lock (rather than
    /// storing checkpoints unprotected); [`Error::InvalidArgument`] for a zero period or one
    /// that overflows the clock.
    pub fn with_compliance_retention(mut self, period: Duration) -> Result<Self> {
        if !self.store.capabilities().object_lock {
            return Err(Error::ObjectLockUnavailable {
                backend: self.store.backend(),
            });
        }
        if period.is_zero() || SystemTime::now().checked_add(period).is_none() {
            return Err(Error::InvalidArgument(format!(
                "retention period {period:?} must be positive and representable"
            )));
        }
        self.retention = Some(period);
        Ok(self)
    }

    /// The folder the checkpoints are in (empty, or ending in `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The object key of the checkpoint of tree size `size`.
    ///
    /// # Errors
    /// [`Error::Store`] if the prefix and name together exceed the key limits.
    pub fn key(&self, size: u64) -> Result<ObjectKey> {
        Ok(ObjectKey::new(format!(
            "{}{}",
            self.prefix,
            checkpoint_file_name(size)
        ))?)
    }

    fn put_options(&self) -> Result<PutOptions> {
        let options = PutOptions::create_only();
        let Some(period) = self.retention else {
            return Ok(options);
        };
        let until = SystemTime::now()
            .checked_add(period)
            .ok_or_else(|| Error::InvalidArgument("retention period out of range".into()))?;
        Ok(options.with_retention(Retention {
            mode: RetentionMode::Compliance,
            until,
        }))
    }
}

#[async_trait]
impl CheckpointStore for StoreCheckpoints {
    async fn put(&self, size: u64, note: &[u8]) -> Result<(), coffer_audit::Error> {
        let key = self.key(size).map_err(|e| to_audit("name checkpoint", e))?;
        let options = self
            .put_options()
            .map_err(|e| to_audit("write checkpoint", e))?;
        match self
            .store
            .put(&key, Bytes::copy_from_slice(note), &options)
            .await
        {
            Ok(_) => Ok(()),
            Err(coffer_store::Error::AlreadyExists { .. }) => Err(
                coffer_audit::Error::AlreadyExists(format!("checkpoint at size {size}")),
            ),
            Err(e) => Err(to_audit("write checkpoint", e)),
        }
    }

    async fn get(&self, size: u64) -> Result<Option<Vec<u8>>, coffer_audit::Error> {
        let key = self.key(size).map_err(|e| to_audit("name checkpoint", e))?;
        match self.store.get(&key).await {
            Ok(bytes) => Ok(Some(bytes.to_vec())),
            Err(coffer_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(to_audit("read checkpoint", e)),
        }
    }

    async fn list(&self) -> Result<Vec<u64>, coffer_audit::Error> {
        list_numbered(
            self.store.as_ref(),
            &self.prefix,
            parse_checkpoint_file_name,
            "list checkpoints",
        )
        .await
    }
}
