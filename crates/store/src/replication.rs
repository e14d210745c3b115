//! `Replicated`: writes to a primary and a secondary store; `verify_replication` compares
//! them.

use std::cmp::Ordering;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::key::ObjectKey;
use crate::object_store::ObjectStore;
use crate::types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutOptions,
    PutOutcome, VersionId, VersionInfo,
};

/// Two stores kept alike for disaster recovery: every write goes to `primary`, then to
/// `secondary` (say, a bucket in another account and region).
///
/// Ordering and failure:
/// - Writes and deletes go to the primary first. If the primary fails, the secondary is not
///   touched and the primary's error is returned.
/// - If the primary succeeded and the secondary fails, the result is
///   [`Error::ReplicationIncomplete`] carrying the secondary's error: the data is durable in
///   the primary, the replica lags, and [`verify_replication`] lists the difference until a
///   retry of the same write (or a repair copy) closes it. A create-only retry will then see
///   `AlreadyExists` from the primary; the caller knows from the earlier error that only the
///   secondary needs the object.
/// - Streaming writes stream into the primary, then stream the primary's copy into the
///   secondary, so memory stays bounded and the replica is what the primary actually stored.
/// - Reads, listings and version operations use the primary only (version ids differ
///   between stores). To fail over, open the secondary directly.
/// - Capabilities are the primary's, except that object lock is offered only if both stores
///   have it: a retention that the replica could not keep is refused.
#[derive(Debug, Clone)]
pub struct Replicated<P, S> {
    primary: P,
    secondary: S,
}

impl<P: ObjectStore, S: ObjectStore> Replicated<P, S> {
    /// Replicates writes from `primary` to `secondary`.
    pub fn new(primary: P, secondary: S) -> Self {
        Replicated { primary, secondary }
    }

    /// The primary store.
    pub fn primary(&self) -> &P {
        &self.primary
    }

    /// The secondary store.
    pub fn secondary(&self) -> &S {
        &self.secondary
    }

    fn secondary_failed(key: &ObjectKey, source: Error) -> Error {
        Error::ReplicationIncomplete {
            key: key.to_string(),
            source: Box::new(source),
        }
    }
}

#[async_trait]
impl<P: ObjectStore, S: ObjectStore> ObjectStore for Replicated<P, S> {
    fn backend(&self) -> &'static str {
        "replicated"
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.primary.capabilities();
        caps.object_lock = caps.object_lock && self.secondary.capabilities().object_lock;
        caps
    }

    async fn put(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome> {
        if options.wants_lock() && !self.capabilities().object_lock {
            return Err(Error::Unsupported {
                backend: "replicated",
                operation: "object lock unless both stores have it",
            });
        }
        let outcome = self.primary.put(key, data.clone(), options).await?;
        self.secondary
            .put(key, data, options)
            .await
            .map_err(|e| Self::secondary_failed(key, e))?;
        Ok(outcome)
    }

    async fn put_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        if options.wants_lock() && !self.capabilities().object_lock {
            return Err(Error::Unsupported {
                backend: "replicated",
                operation: "object lock unless both stores have it",
            });
        }
        let outcome = self.primary.put_stream(key, data, options).await?;
        let copy = async {
            let reader = self.primary.get_stream(key).await?;
            self.secondary.put_stream(key, reader.stream, options).await
        };
        copy.await.map_err(|e| Self::secondary_failed(key, e))?;
        Ok(outcome)
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        self.primary.get(key).await
    }

    async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader> {
        self.primary.get_stream(key).await
    }

    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
        self.primary.get_range(key, range).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        self.primary.head(key).await
    }

    async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage> {
        self.primary.list_page(prefix, token).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        self.primary.list(prefix)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.primary.delete(key).await?;
        self.secondary
            .delete(key)
            .await
            .map_err(|e| Self::secondary_failed(key, e))
    }

    async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<VersionInfo>> {
        self.primary.list_versions(key).await
    }

    async fn get_version(&self, key: &ObjectKey, version: &VersionId) -> Result<Bytes> {
        self.primary.get_version(key, version).await
    }

    async fn delete_version(&self, key: &ObjectKey, version: &VersionId) -> Result<()> {
        self.primary.delete_version(key, version).await
    }

    async fn set_legal_hold(&self, key: &ObjectKey, version: &VersionId, on: bool) -> Result<()> {
        self.primary.set_legal_hold(key, version, on).await
    }
}

/// The size and SHA-256 of one object's content on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDigest {
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, hex; `None` when the sizes already differed and reading the
    /// content was unnecessary.
    pub sha256: Option<String>,
}

/// A key present on both sides with different content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The key.
    pub key: ObjectKey,
    /// The primary's content.
    pub primary: ContentDigest,
    /// The secondary's content.
    pub secondary: ContentDigest,
}

/// What [`verify_replication`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicationReport {
    /// Keys present on both sides (compared by content).
    pub compared: u64,
    /// Keys in the primary but not the secondary.
    pub missing_in_secondary: Vec<ObjectKey>,
    /// Keys in the secondary but not the primary.
    pub missing_in_primary: Vec<ObjectKey>,
    /// Keys on both sides whose size or SHA-256 differ.
    pub mismatched: Vec<Mismatch>,
}

impl ReplicationReport {
    /// Whether both sides hold exactly the same objects.
    pub fn is_consistent(&self) -> bool {
        self.missing_in_secondary.is_empty()
            && self.missing_in_primary.is_empty()
            && self.mismatched.is_empty()
    }
}

/// Walks both stores' listings under `prefix` in step and compares them: keys missing on
/// either side, and keys whose size or SHA-256 differ (the content of every key present on
/// both sides with equal sizes is read and hashed, streaming).
///
/// The listings are not a snapshot: objects written during the walk can show up as
/// differences. Run it on a quiescent pair, or re-check the keys it reports.
pub async fn verify_replication(
    primary: &dyn ObjectStore,
    secondary: &dyn ObjectStore,
    prefix: &str,
) -> Result<ReplicationReport> {
    let mut report = ReplicationReport::default();
    let mut left = primary.list(prefix);
    let mut right = secondary.list(prefix);
    let mut a = left.next().await.transpose()?;
    let mut b = right.next().await.transpose()?;
    loop {
        let order = match (&a, &b) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => x.key.cmp(&y.key),
        };
        match order {
            Ordering::Less => {
                if let Some(meta) = a.take() {
                    report.missing_in_secondary.push(meta.key);
                }
                a = left.next().await.transpose()?;
            }
            Ordering::Greater => {
                if let Some(meta) = b.take() {
                    report.missing_in_primary.push(meta.key);
                }
                b = right.next().await.transpose()?;
            }
            Ordering::Equal => {
                if let (Some(x), Some(y)) = (a.take(), b.take()) {
                    report.compared += 1;
                    if let Some(mismatch) = compare_content(primary, secondary, x, y).await? {
                        report.mismatched.push(mismatch);
                    }
                }
                a = left.next().await.transpose()?;
                b = right.next().await.transpose()?;
            }
        }
    }
    Ok(report)
}

async fn compare_content(
    primary: &dyn ObjectStore,
    secondary: &dyn ObjectStore,
    x: ObjectMeta,
    y: ObjectMeta,
) -> Result<Option<Mismatch>> {
    if x.size != y.size {
        return Ok(Some(Mismatch {
            key: x.key,
            primary: ContentDigest {
                size: x.size,
                sha256: None,
            },
            secondary: ContentDigest {
                size: y.size,
                sha256: None,
            },
        }));
    }
    let (left, right) = futures::try_join!(digest(primary, &x.key), digest(secondary, &y.key))?;
    if left == right {
        return Ok(None);
    }
    Ok(Some(Mismatch {
        key: x.key,
        primary: left,
        secondary: right,
    }))
}

async fn digest(store: &dyn ObjectStore, key: &ObjectKey) -> Result<ContentDigest> {
    let reader = store.get_stream(key).await?;
    let mut stream = reader.stream;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok(ContentDigest {
        size,
        sha256: Some(hex::encode(hasher.finalize())),
    })
}
