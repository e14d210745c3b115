//! `Retry`: retries transient failures with jittered exponential backoff.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::key::ObjectKey;
use crate::object_store::ObjectStore;
use crate::types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutMode,
    PutOptions, PutOutcome, VersionId, VersionInfo,
};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in total, the first included (at least 1).
    pub max_attempts: u32,
    /// The backoff before the first retry, before jitter.
    pub base_delay: Duration,
    /// The longest backoff, before jitter.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 100 ms doubling up to 5 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy with the given limits.
    pub fn new(max_attempts: u32, base_delay: Duration, max_delay: Duration) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            base_delay,
            max_delay,
        }
    }

    /// The backoff before retry number `retry` (0 for the first retry), given a uniform random
    /// `unit` in `[0, 1)`: "equal jitter", half the exponential step plus a random share of
    /// the other half, so clients that failed together spread out but never retry at once.
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let exponential = self
            .base_delay
            .checked_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        let half = exponential / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A uniform random number in `[0, 1)` for jitter. Jitter needs no secrecy; if the OS source
/// fails, the midpoint still gives a valid (merely unjittered) backoff.
fn jitter_unit() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

/// Wraps a store and retries operations that failed with a transient error
/// ([`Error::is_transient`]).
///
/// - Non-transient errors (not found, precondition, permission, residency...) return at once.
/// - `put_stream` is attempted once: its input stream is consumed by the first attempt and
///   cannot be replayed. Callers that can regenerate the data retry themselves.
/// - `get_stream` retries opening the object; an error in the middle of the stream is the
///   caller's to handle.
/// - A create-only `put` is ambiguous after a transient failure: the write may have landed
///   before the reply was lost, and the retry then sees [`Error::AlreadyExists`]. In that case
///   the layer reads the object back and reports success if it holds exactly the bytes being
///   written; otherwise `AlreadyExists` stands.
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    policy: RetryPolicy,
}

impl<S: ObjectStore> Retry<S> {
    /// Wraps `inner` with `policy`.
    pub fn new(inner: S, policy: RetryPolicy) -> Self {
        Retry { inner, policy }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    async fn run<'f, T: Send>(
        &self,
        what: &'static str,
        mut op: impl FnMut() -> BoxFuture<'f, Result<T>> + Send,
    ) -> Result<T> {
        let mut attempt = 1;
        loop {
            match op().await {
                Err(err) if err.is_transient() && attempt < self.policy.max_attempts => {
                    let delay = self.policy.backoff(attempt - 1, jitter_unit());
                    tracing::debug!(operation = what, attempt, ?delay, error = %err, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for Retry<S> {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome> {
        let mut had_transient_failure = false;
        let mut attempt = 1;
        loop {
            match self.inner.put(key, data.clone(), options).await {
                Err(err) if err.is_transient() && attempt < self.policy.max_attempts => {
                    had_transient_failure = true;
                    let delay = self.policy.backoff(attempt - 1, jitter_unit());
                    tracing::debug!(operation = "put", attempt, ?delay, error = %err, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(Error::AlreadyExists { key: existing })
                    if had_transient_failure && options.mode == PutMode::CreateOnly =>
                {
                    return self.resolve_ambiguous_create(key, &data, existing).await;
                }
                result => return result,
            }
        }
    }

    async fn put_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        self.inner.put_stream(key, data, options).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        self.run("get", || self.inner.get(key)).await
    }

    async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader> {
        self.run("get_stream", || self.inner.get_stream(key)).await
    }

    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
        self.run("get_range", || self.inner.get_range(key, range))
            .await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        self.run("head", || self.inner.head(key)).await
    }

    async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage> {
        self.run("list_page", || self.inner.list_page(prefix, token))
            .await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        // Deletes are idempotent, so a retry after a lost reply is harmless.
        self.run("delete", || self.inner.delete(key)).await
    }

    async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<VersionInfo>> {
        self.run("list_versions", || self.inner.list_versions(key))
            .await
    }

    async fn get_version(&self, key: &ObjectKey, version: &VersionId) -> Result<Bytes> {
        self.run("get_version", || self.inner.get_version(key, version))
            .await
    }

    async fn delete_version(&self, key: &ObjectKey, version: &VersionId) -> Result<()> {
        self.run("delete_version", || self.inner.delete_version(key, version))
            .await
    }

    async fn set_legal_hold(&self, key: &ObjectKey, version: &VersionId, on: bool) -> Result<()> {
        self.run("set_legal_hold", || {
            self.inner.set_legal_hold(key, version, on)
        })
        .await
    }
}

impl<S: ObjectStore> Retry<S> {
    /// After a transient failure, a create-only retry found the key taken: it is ours if the
    /// stored bytes are exactly the bytes we were writing.
    async fn resolve_ambiguous_create(
        &self,
        key: &ObjectKey,
        data: &Bytes,
        existing: String,
    ) -> Result<PutOutcome> {
        let stored = self.run("get", || self.inner.get(key)).await?;
        if Sha256::digest(&stored) != Sha256::digest(data) {
            return Err(Error::AlreadyExists { key: existing });
        }
        let meta = self.run("head", || self.inner.head(key)).await?;
        Ok(PutOutcome {
            size: meta.size,
            etag: meta.etag,
            version: meta.version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let policy = RetryPolicy::new(10, Duration::from_millis(100), Duration::from_millis(1_000));
        assert_eq!(policy.backoff(0, 0.0), Duration::from_millis(50));
        assert_eq!(policy.backoff(0, 1.0), Duration::from_millis(100));
        assert_eq!(policy.backoff(1, 0.0), Duration::from_millis(100));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_millis(300));
        // 100 ms * 2^4 = 1.6 s, capped at 1 s.
        assert_eq!(policy.backoff(4, 0.0), Duration::from_millis(500));
        assert_eq!(policy.backoff(4, 1.0), Duration::from_millis(1_000));
        // Huge retry numbers neither overflow nor exceed the cap.
        assert_eq!(policy.backoff(u32::MAX, 1.0), Duration::from_millis(1_000));
    }

    #[test]
    fn jitter_is_a_unit_fraction() {
        for _ in 0..1000 {
            let u = jitter_unit();
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }
}
