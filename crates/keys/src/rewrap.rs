//! Rewrap: move every data key of an org from older KEK versions to the primary, without
//! touching the data they encrypt, resumably.
//!
//! The wrapped data keys live wherever the caller keeps them (the engine's index, a database);
//! a [`DekCatalog`] gives access to them in a stable order of ids. A [`RewrapCursor`] records how
//! far a rewrap got and serializes to JSON, so a rewrap interrupted by a crash or a deploy
//! resumes where it stopped ([`KeyManager::rewrap_batch`] after loading the cursor). Each record
//! is replaced compare-and-swap: a record someone else rewrote meanwhile is left alone and
//! counted. Once a rewrap completes, no data key seen by it is under an older version, and
//! those versions can be retired and destroyed.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::context::{EncryptionContext, OrgId};
use crate::error::Result;
use crate::event::{KeyEvent, KeyEventKind};
use crate::manager::KeyManager;
use crate::wrap::WrappedDek;

/// One wrapped data key as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DekRecord {
    /// The catalog's id for it (ids order the rewrap and must be stable).
    pub id: String,
    /// The wrapped key.
    pub wrapped: WrappedDek,
    /// The context it is bound to.
    pub context: EncryptionContext,
}

/// What a compare-and-swap replacement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplaceOutcome {
    /// The record held the expected wrapped key and now holds the new one.
    Replaced,
    /// The record changed meanwhile (or was deleted); nothing was written.
    Changed,
}

/// Where an org's wrapped data keys are kept, as a rewrap needs them.
#[async_trait]
pub trait DekCatalog: Send + Sync {
    /// Up to `limit` records of `org` with ids greater than `after` (all, if `None`), in
    /// ascending id order.
    async fn list_after(
        &self,
        org: &OrgId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DekRecord>>;

    /// Replaces record `id`'s wrapped key with `new` if it still is `expected`.
    async fn replace(
        &self,
        org: &OrgId,
        id: &str,
        expected: &WrappedDek,
        new: &WrappedDek,
    ) -> Result<ReplaceOutcome>;
}

/// Counters of a rewrap so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RewrapProgress {
    /// Records examined.
    pub scanned: u64,
    /// Records rewrapped to the target version.
    pub rewrapped: u64,
    /// Records already under the target version.
    pub already_current: u64,
    /// Records that changed under the rewrap and were left alone.
    pub changed_concurrently: u64,
}

/// A resumable rewrap of one org to one target version. Persist it (it is `Serialize`)
/// after each batch to resume after an interruption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewrapCursor {
    org: OrgId,
    target_version: u32,
    after: Option<String>,
    progress: RewrapProgress,
    done: bool,
}

impl RewrapCursor {
    /// The org.
    pub fn org(&self) -> &OrgId {
        &self.org
    }

    /// The version data keys are moved to (the primary when the rewrap started).
    pub fn target_version(&self) -> u32 {
        self.target_version
    }

    /// The id of the last record processed.
    pub fn position(&self) -> Option<&str> {
        self.after.as_deref()
    }

    /// Counters so far.
    pub fn progress(&self) -> RewrapProgress {
        self.progress
    }

    /// Whether every record has been processed.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl KeyManager {
    /// Starts a rewrap of `org` to its current primary version.
    ///
    /// # Errors
    /// [`Error::UnknownOrg`](crate::Error::UnknownOrg),
    /// [`Error::NoActiveVersion`](crate::Error::NoActiveVersion), KMS and store errors.
    pub async fn start_rewrap(&self, org: &OrgId) -> Result<RewrapCursor> {
        let ring = self.fresh_ring(org).await?;
        let target_version = ring.primary_version()?.version();
        Ok(RewrapCursor {
            org: org.clone(),
            target_version,
            after: None,
            progress: RewrapProgress::default(),
            done: false,
        })
    }

    /// Processes the next batch of up to `batch_size` records and advances `cursor` record by
    /// record (so even a batch that fails half-way leaves an exact cursor). Returns whether the
    /// rewrap is done.
    ///
    /// # Errors
    /// [`Error::StaleRewrap`](crate::Error::StaleRewrap) if the primary changed since the
    /// cursor was made; unwrap errors of a record (a destroyed version, a wrong context); the
    /// catalog's errors.
    pub async fn rewrap_batch(
        &self,
        cursor: &mut RewrapCursor,
        catalog: &dyn DekCatalog,
        batch_size: usize,
    ) -> Result<bool> {
        if cursor.done {
            return Ok(true);
        }
        let org = cursor.org.clone();
        let ring = self.ring_with_primary(&org, cursor.target_version).await?;
        let batch_size = batch_size.max(1);
        let records = catalog
            .list_after(&org, cursor.after.as_deref(), batch_size)
            .await?;
        let exhausted = records.len() < batch_size;
        for record in records {
            let rewrapped = self
                .rewrap_to(
                    &org,
                    &ring,
                    cursor.target_version,
                    &record.wrapped,
                    &record.context,
                )
                .await?;
            match rewrapped {
                None => cursor.progress.already_current += 1,
                Some(new) => match catalog
                    .replace(&org, &record.id, &record.wrapped, &new)
                    .await?
                {
                    ReplaceOutcome::Replaced => cursor.progress.rewrapped += 1,
                    ReplaceOutcome::Changed => cursor.progress.changed_concurrently += 1,
                },
            }
            cursor.progress.scanned += 1;
            cursor.after = Some(record.id);
        }
        cursor.done = exhausted;
        Ok(cursor.done)
    }

    /// Runs batches until done, calling `on_progress` after each, and returns the completion
    /// event for the audit log.
    ///
    /// # Errors
    /// As [`KeyManager::rewrap_batch`]; `cursor` then says where to resume.
    pub async fn rewrap_all(
        &self,
        cursor: &mut RewrapCursor,
        catalog: &dyn DekCatalog,
        batch_size: usize,
        mut on_progress: impl FnMut(&RewrapCursor) + Send,
    ) -> Result<KeyEvent> {
        while !self.rewrap_batch(cursor, catalog, batch_size).await? {
            on_progress(cursor);
        }
        on_progress(cursor);
        let ring = self.fresh_ring(&cursor.org).await?;
        Ok(KeyEvent {
            org: cursor.org.clone(),
            generation: ring.generation(),
            at: self.unix_now(),
            kind: KeyEventKind::RewrapCompleted {
                target_version: cursor.target_version,
                scanned: cursor.progress.scanned,
                rewrapped: cursor.progress.rewrapped,
            },
        })
    }
}

/// A [`DekCatalog`] in memory: for tests, examples, and callers that keep their wrapped keys in
/// a map anyway.
#[derive(Debug, Default)]
pub struct MemoryDekCatalog {
    records: Mutex<BTreeMap<(OrgId, String), DekRecord>>,
}

impl MemoryDekCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a record.
    pub fn insert(&self, org: &OrgId, record: DekRecord) {
        self.lock().insert((org.clone(), record.id.clone()), record);
    }

    /// The record `id` of `org`.
    pub fn get(&self, org: &OrgId, id: &str) -> Option<DekRecord> {
        self.lock().get(&(org.clone(), id.to_owned())).cloned()
    }

    /// Every record of `org`, by id.
    pub fn records(&self, org: &OrgId) -> Vec<DekRecord> {
        self.lock()
            .iter()
            .filter(|((o, _), _)| o == org)
            .map(|(_, r)| r.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(OrgId, String), DekRecord>> {
        // Each operation is a single map call: a poisoned map is still consistent.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl DekCatalog for MemoryDekCatalog {
    async fn list_after(
        &self,
        org: &OrgId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DekRecord>> {
        let records = self.lock();
        Ok(records
            .iter()
            .filter(|((o, id), _)| o == org && after.is_none_or(|a| id.as_str() > a))
            .take(limit)
            .map(|(_, record)| record.clone())
            .collect())
    }

    async fn replace(
        &self,
        org: &OrgId,
        id: &str,
        expected: &WrappedDek,
        new: &WrappedDek,
    ) -> Result<ReplaceOutcome> {
        let mut records = self.lock();
        match records.get_mut(&(org.clone(), id.to_owned())) {
            Some(record) if record.wrapped == *expected => {
                record.wrapped = *new;
                Ok(ReplaceOutcome::Replaced)
            }
            _ => Ok(ReplaceOutcome::Changed),
        }
    }
}
