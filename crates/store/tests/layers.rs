//! The layers: retry against a deterministic flaky store, residency against a counting store,
//! replication and its verification across two backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use coffer_store::{
    ByteRange, ByteStream, Capabilities, Error, ListPage, LocalFs, Memory, ObjectKey, ObjectMeta,
    ObjectReader, ObjectStore, PageToken, PutOptions, PutOutcome, Region, Replicated,
    ResidencyLayer, Retry, RetryPolicy, VersionId, VersionInfo, verify_replication,
};
use futures::{StreamExt, TryStreamExt};

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(name).unwrap()
}

/// How a [`Faulty`] store fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Never.
    None,
    /// The first `n` calls of each operation fail with `Unavailable` before doing anything.
    FailFirst(u32),
    /// The first `n` calls of each operation do their work, then report `Unavailable` (a reply
    /// lost on the way back).
    LoseReply(u32),
    /// Every write fails with a non-transient error.
    RefuseWrites,
}

/// A `Memory` store that counts every call per operation and fails deterministically.
#[derive(Debug)]
struct Faulty {
    inner: Memory,
    fault: Fault,
    calls: Mutex<HashMap<&'static str, u32>>,
}

impl Faulty {
    fn new(inner: Memory, fault: Fault) -> Self {
        Faulty {
            inner,
            fault,
            calls: Mutex::default(),
        }
    }

    fn calls(&self, op: &str) -> u32 {
        self.calls.lock().unwrap().get(op).copied().unwrap_or(0)
    }

    fn total_calls(&self) -> u32 {
        self.calls.lock().unwrap().values().sum()
    }

    /// Counts the call; says whether it fails before or after doing its work.
    fn enter(&self, op: &'static str) -> (bool, bool) {
        let mut calls = self.calls.lock().unwrap();
        let n = calls.entry(op).or_default();
        *n += 1;
        match self.fault {
            Fault::FailFirst(k) => (*n <= k, false),
            Fault::LoseReply(k) => (false, *n <= k),
            Fault::None | Fault::RefuseWrites => (false, false),
        }
    }

    fn transient(op: &str) -> Error {
        Error::Unavailable {
            detail: format!("injected failure in {op}"),
        }
    }

    async fn wrap<T>(
        &self,
        op: &'static str,
        f: impl std::future::Future<Output = coffer_store::Result<T>>,
    ) -> coffer_store::Result<T> {
        let (before, after) = self.enter(op);
        if before {
            return Err(Self::transient(op));
        }
        let result = f.await;
        if after && result.is_ok() {
            return Err(Self::transient(op));
        }
        result
    }

    fn check_write(&self, key: &ObjectKey) -> coffer_store::Result<()> {
        if self.fault == Fault::RefuseWrites {
            return Err(Error::PermissionDenied {
                key: key.to_string(),
                detail: "refused".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    fn backend(&self) -> &'static str {
        "faulty"
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn put(
        &self,
        k: &ObjectKey,
        d: Bytes,
        o: &PutOptions,
    ) -> coffer_store::Result<PutOutcome> {
        self.check_write(k)?;
        self.wrap("put", self.inner.put(k, d, o)).await
    }
    async fn put_stream(
        &self,
        k: &ObjectKey,
        d: ByteStream,
        o: &PutOptions,
    ) -> coffer_store::Result<PutOutcome> {
        self.check_write(k)?;
        self.wrap("put_stream", self.inner.put_stream(k, d, o))
            .await
    }
    async fn get(&self, k: &ObjectKey) -> coffer_store::Result<Bytes> {
        self.wrap("get", self.inner.get(k)).await
    }
    async fn get_stream(&self, k: &ObjectKey) -> coffer_store::Result<ObjectReader> {
        self.wrap("get_stream", self.inner.get_stream(k)).await
    }
    async fn get_range(&self, k: &ObjectKey, r: ByteRange) -> coffer_store::Result<Bytes> {
        self.wrap("get_range", self.inner.get_range(k, r)).await
    }
    async fn head(&self, k: &ObjectKey) -> coffer_store::Result<ObjectMeta> {
        self.wrap("head", self.inner.head(k)).await
    }
    async fn list_page(&self, p: &str, t: Option<&PageToken>) -> coffer_store::Result<ListPage> {
        self.wrap("list_page", self.inner.list_page(p, t)).await
    }
    async fn delete(&self, k: &ObjectKey) -> coffer_store::Result<()> {
        self.check_write(k)?;
        self.wrap("delete", self.inner.delete(k)).await
    }
    async fn list_versions(&self, k: &ObjectKey) -> coffer_store::Result<Vec<VersionInfo>> {
        self.wrap("list_versions", self.inner.list_versions(k))
            .await
    }
    async fn get_version(&self, k: &ObjectKey, v: &VersionId) -> coffer_store::Result<Bytes> {
        self.wrap("get_version", self.inner.get_version(k, v)).await
    }
    async fn delete_version(&self, k: &ObjectKey, v: &VersionId) -> coffer_store::Result<()> {
        self.wrap("delete_version", self.inner.delete_version(k, v))
            .await
    }
    async fn set_legal_hold(
        &self,
        k: &ObjectKey,
        v: &VersionId,
        on: bool,
    ) -> coffer_store::Result<()> {
        self.wrap("set_legal_hold", self.inner.set_legal_hold(k, v, on))
            .await
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy::new(5, Duration::from_millis(100), Duration::from_millis(400))
}

async fn seeded(fault: Fault) -> Faulty {
    let memory = Memory::new();
    memory
        .put(
            &key("k"),
            Bytes::from_static(b"value"),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    Faulty::new(memory, fault)
}

#[tokio::test(start_paused = true)]
async fn retry_recovers_from_transient_failures_with_bounded_backoff() {
    let store = Retry::new(seeded(Fault::FailFirst(3)).await, policy());
    let started = tokio::time::Instant::now();
    assert_eq!(
        store.get(&key("k")).await.unwrap(),
        Bytes::from_static(b"value")
    );
    let waited = started.elapsed();
    assert_eq!(store.inner().calls("get"), 4);
    // Backoffs of 100, 200, 400 ms before jitter; equal jitter waits between half and all.
    assert!(waited >= Duration::from_millis(350), "{waited:?}");
    assert!(waited <= Duration::from_millis(700), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_gives_up_after_max_attempts_with_the_last_error() {
    let store = Retry::new(seeded(Fault::FailFirst(100)).await, policy());
    match store.head(&key("k")).await {
        Err(Error::Unavailable { detail }) => assert!(detail.contains("head"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.inner().calls("head"), 5);
}

#[tokio::test(start_paused = true)]
async fn retry_does_not_retry_permanent_errors() {
    let store = Retry::new(seeded(Fault::None).await, policy());
    let started = tokio::time::Instant::now();
    assert!(matches!(
        store.get(&key("missing")).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(store.inner().calls("get"), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
    let taken = store
        .put(
            &key("k"),
            Bytes::from_static(b"x"),
            &PutOptions::create_only(),
        )
        .await;
    assert!(matches!(taken, Err(Error::AlreadyExists { .. })));
    assert_eq!(store.inner().calls("put"), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_resolves_a_create_only_write_whose_reply_was_lost() {
    let store = Retry::new(Faulty::new(Memory::new(), Fault::LoseReply(1)), policy());
    let data = Bytes::from_static(b"manifest 7");
    let outcome = store
        .put(&key("m/7"), data.clone(), &PutOptions::create_only())
        .await
        .unwrap();
    assert_eq!(outcome.size, data.len() as u64);
    assert_eq!(store.inner().calls("put"), 2);
    assert_eq!(store.get(&key("m/7")).await.unwrap(), data);

    // When the key holds someone else's bytes, AlreadyExists stands.
    let store = Retry::new(Faulty::new(Memory::new(), Fault::LoseReply(1)), policy());
    store
        .inner()
        .inner
        .put(
            &key("m/8"),
            Bytes::from_static(b"theirs"),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    // First attempt: AlreadyExists at once (not transient), so it is not retried at all.
    let ours = store
        .put(
            &key("m/8"),
            Bytes::from_static(b"ours"),
            &PutOptions::create_only(),
        )
        .await;
    assert!(matches!(ours, Err(Error::AlreadyExists { .. })));
    // A lost reply for a different key, then a retry that meets foreign bytes.
    let store = Retry::new(Faulty::new(Memory::new(), Fault::FailFirst(1)), policy());
    store
        .inner()
        .inner
        .put(
            &key("m/9"),
            Bytes::from_static(b"theirs"),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    let ours = store
        .put(
            &key("m/9"),
            Bytes::from_static(b"ours"),
            &PutOptions::create_only(),
        )
        .await;
    assert!(matches!(ours, Err(Error::AlreadyExists { .. })), "{ours:?}");
    assert_eq!(store.inner().calls("put"), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_leaves_streaming_writes_to_one_attempt_and_pages_listings() {
    let store = Retry::new(
        Faulty::new(Memory::new().with_page_size(3), Fault::FailFirst(2)),
        policy(),
    );
    let stream = futures::stream::iter([Ok(Bytes::from_static(b"s"))]).boxed();
    assert!(
        store
            .put_stream(&key("s"), stream, &PutOptions::overwrite())
            .await
            .is_err()
    );
    assert_eq!(store.inner().calls("put_stream"), 1);

    for i in 0..10 {
        store
            .inner()
            .inner
            .put(
                &key(&format!("l/{i}")),
                Bytes::new(),
                &PutOptions::overwrite(),
            )
            .await
            .unwrap();
    }
    let keys: Vec<String> = store
        .list("l/")
        .map_ok(|m| m.key.into_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys.len(), 10);
    // 4 pages, the first one after two injected failures.
    assert_eq!(store.inner().calls("list_page"), 6);
}

#[tokio::test]
async fn residency_refuses_before_the_inner_store_is_called() {
    let inner = Faulty::new(Memory::new(), Fault::None);
    let layer = ResidencyLayer::new(
        inner,
        Region::new("us-east-1").unwrap(),
        [
            Region::new("eu-west-1").unwrap(),
            Region::new("eu-central-1").unwrap(),
        ],
    );
    assert!(!layer.allows_writes());
    let refused = layer
        .put(
            &key("p"),
            Bytes::from_static(b"pii"),
            &PutOptions::overwrite(),
        )
        .await;
    match refused {
        Err(Error::ResidencyViolation {
            store_region,
            allowed,
        }) => {
            assert_eq!(store_region, "us-east-1");
            assert_eq!(allowed, "eu-central-1, eu-west-1");
        }
        other => panic!("{other:?}"),
    }
    let stream = futures::stream::iter([Ok(Bytes::from_static(b"pii"))]).boxed();
    assert!(matches!(
        layer
            .put_stream(&key("p"), stream, &PutOptions::overwrite())
            .await,
        Err(Error::ResidencyViolation { .. })
    ));
    assert_eq!(
        layer.inner().total_calls(),
        0,
        "a refused write reached the store"
    );
}

#[tokio::test]
async fn replication_writes_both_and_reports_a_failed_secondary() {
    let dir = tempfile::tempdir().unwrap();
    let replicated = Replicated::new(Memory::new(), LocalFs::new(dir.path()).unwrap());
    let k = key("packs/aa");
    replicated
        .put(&k, Bytes::from_static(b"pack"), &PutOptions::create_only())
        .await
        .unwrap();
    assert_eq!(
        replicated.primary().get(&k).await.unwrap(),
        Bytes::from_static(b"pack")
    );
    assert_eq!(
        replicated.secondary().get(&k).await.unwrap(),
        Bytes::from_static(b"pack")
    );

    let big = coffer_store::conformance::PatternSource::stream(3, 3 << 20, 100_000);
    replicated
        .put_stream(&key("packs/big"), big, &PutOptions::overwrite())
        .await
        .unwrap();
    assert_eq!(
        replicated
            .secondary()
            .head(&key("packs/big"))
            .await
            .unwrap()
            .size,
        3 << 20
    );

    replicated.delete(&k).await.unwrap();
    assert!(
        replicated
            .secondary()
            .head(&k)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let report = verify_replication(replicated.primary(), replicated.secondary(), "")
        .await
        .unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.compared, 1);

    // The secondary refuses: the primary keeps the object, the error says what happened.
    let failing = Replicated::new(
        Memory::new(),
        Faulty::new(Memory::new(), Fault::RefuseWrites),
    );
    match failing
        .put(&k, Bytes::from_static(b"pack"), &PutOptions::overwrite())
        .await
    {
        Err(Error::ReplicationIncomplete { key, source }) => {
            assert_eq!(key, "packs/aa");
            assert!(matches!(*source, Error::PermissionDenied { .. }));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        failing.primary().get(&k).await.unwrap(),
        Bytes::from_static(b"pack")
    );
    let report = verify_replication(failing.primary(), failing.secondary(), "")
        .await
        .unwrap();
    assert_eq!(report.missing_in_secondary, std::slice::from_ref(&k));

    // A failing primary stops the write before the secondary.
    let failing = Replicated::new(
        Faulty::new(Memory::new(), Fault::RefuseWrites),
        Memory::new(),
    );
    assert!(matches!(
        failing
            .put(&k, Bytes::from_static(b"pack"), &PutOptions::overwrite())
            .await,
        Err(Error::PermissionDenied { .. })
    ));
    assert!(
        failing
            .secondary()
            .head(&k)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn verify_replication_lists_every_kind_of_difference() {
    async fn put(store: &Memory, name: &str, data: &'static [u8]) {
        store
            .put(
                &key(name),
                Bytes::from_static(data),
                &PutOptions::overwrite(),
            )
            .await
            .unwrap();
    }
    let primary = Memory::new().with_page_size(2);
    let secondary = Memory::new().with_page_size(3);
    for name in ["a", "b", "c", "d", "e"] {
        put(&primary, name, b"same").await;
        put(&secondary, name, b"same").await;
    }
    put(&primary, "only-primary", b"x").await;
    put(&secondary, "only-secondary", b"x").await;
    put(&primary, "size", b"short").await;
    put(&secondary, "size", b"longer!").await;
    put(&primary, "hash", b"abcd").await;
    put(&secondary, "hash", b"abce").await;

    let report = verify_replication(&primary, &secondary, "").await.unwrap();
    assert!(!report.is_consistent());
    assert_eq!(report.compared, 7);
    assert_eq!(report.missing_in_secondary, [key("only-primary")]);
    assert_eq!(report.missing_in_primary, [key("only-secondary")]);
    let mismatched: Vec<_> = report.mismatched.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(mismatched, ["hash", "size"]);
    let hash = &report.mismatched[0];
    assert_eq!(hash.primary.size, 4);
    assert_ne!(hash.primary.sha256, hash.secondary.sha256);
    assert!(hash.primary.sha256.is_some());
    let size = &report.mismatched[1];
    assert_eq!((size.primary.size, size.secondary.size), (5, 7));

    // Restricted to a prefix, only that part is walked.
    let report = verify_replication(&primary, &secondary, "only-p")
        .await
        .unwrap();
    assert_eq!(report.missing_in_secondary, [key("only-primary")]);
    assert!(report.missing_in_primary.is_empty());
}
