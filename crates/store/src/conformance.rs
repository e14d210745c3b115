//! The conformance suite every [`ObjectStore`] must pass.
//!
//! Each function exercises one part of the contract on a fresh, empty store and panics (it is
//! test code) when the store breaks it. [`conformance_suite!`](crate::conformance_suite)
//! turns them into one `#[tokio::test]` each for a store factory; this crate runs it against
//! `Memory` (both modes), `LocalFs` and `S3` on moto, and a crate that wraps a store can run
//! it against its wrapper:
//!
//! ```
//! use coffer_store::conformance::Fixture;
//! use coffer_store::{Memory, Retry, RetryPolicy};
//!
//! // In `tests/conformance.rs` of a crate with a layer of its own (here: `Retry`).
//! async fn make() -> Fixture {
//!     Fixture::new(Retry::new(Memory::new().with_page_size(100), RetryPolicy::default()))
//! }
//! coffer_store::conformance_suite!(make);
//! # fn main() {}
//! ```
//!
//! The factory should set a small listing page size (100 or less) so that
//! [`list_pagination`] really crosses pages, and (for S3) a multipart threshold below
//! [`LARGE_OBJECT`] so that [`large_streaming_object`] exercises multipart.
//!
//! What depends on capabilities is still tested both ways: a store without versions must
//! refuse the version operations with [`Error::Unsupported`], and one without object lock
//! must refuse a locked write and store nothing.

// Test support: a failed expectation should stop the test with a message, which is what
// panicking assertions are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::{
    ByteRange, ByteStream, Error, ObjectKey, ObjectStore, PageToken, PutOptions, Region,
    ResidencyLayer, Retention, RetentionMode,
};

/// Keys written by [`list_pagination`].
pub const PAGINATION_KEYS: usize = 2_500;

/// Size of the object [`large_streaming_object`] writes and reads: 24 MiB.
pub const LARGE_OBJECT: usize = 24 * 1024 * 1024;

/// Concurrent writers in [`concurrent_create_only`].
pub const CONCURRENT_WRITERS: usize = 8;

/// A store handed to the suite.
pub type SharedStore = Arc<dyn ObjectStore>;

/// What a factory hands to [`conformance_suite!`](crate::conformance_suite): a fresh store, and
/// whatever must live as long as the test (a temporary directory, say).
pub struct Fixture {
    /// The store under test.
    pub store: SharedStore,
    _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Fixture {
    /// A fixture for `store`.
    pub fn new(store: impl ObjectStore + 'static) -> Self {
        Fixture {
            store: Arc::new(store),
            _guard: None,
        }
    }

    /// Keeps `guard` alive until the test ends.
    pub fn with_guard(mut self, guard: impl Send + Sync + 'static) -> Self {
        self._guard = Some(Box::new(guard));
        self
    }
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(name).unwrap()
}

fn bytes(data: &'static [u8]) -> Bytes {
    Bytes::from_static(data)
}

/// Deterministic pseudo-random bytes, a pure function of `(seed, position)` (splitmix64 of the
/// 8-byte word index), so large objects can be regenerated piecewise for comparison instead of
/// kept in memory.
#[derive(Debug, Clone)]
pub struct PatternSource {
    seed: u64,
    position: u64,
}

impl PatternSource {
    /// A source for `seed` (any value), at position 0.
    pub fn new(seed: u64) -> Self {
        PatternSource { seed, position: 0 }
    }

    fn word(&self, index: u64) -> [u8; 8] {
        let mut z = self
            .seed
            .wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)).to_le_bytes()
    }

    /// The next `len` bytes.
    pub fn take(&mut self, len: usize) -> Bytes {
        let mut out = BytesMut::with_capacity(len);
        let end = self.position + len as u64;
        while self.position < end {
            let word = self.word(self.position / 8);
            let from = (self.position % 8) as usize;
            let n = (8 - from).min((end - self.position) as usize);
            out.extend_from_slice(&word[from..from + n]);
            self.position += n as u64;
        }
        out.freeze()
    }

    /// `total` bytes from `seed` as a stream of `chunk`-sized pieces.
    pub fn stream(seed: u64, total: usize, chunk: usize) -> ByteStream {
        let mut source = PatternSource::new(seed);
        let mut left = total;
        futures::stream::iter(std::iter::from_fn(move || {
            if left == 0 {
                return None;
            }
            let n = left.min(chunk);
            left -= n;
            Some(Ok(source.take(n)))
        }))
        .boxed()
    }

    /// The bytes `start..start + len` of the stream for `seed`.
    pub fn slice(seed: u64, start: usize, len: usize) -> Bytes {
        let mut source = PatternSource {
            seed,
            position: start as u64,
        };
        source.take(len)
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

fn assert_unsupported<T: std::fmt::Debug>(result: Result<T, Error>, what: &str) {
    match result {
        Err(Error::Unsupported { .. }) => {}
        other => panic!("{what}: expected Unsupported, got {other:?}"),
    }
}

/// `put`, `get`, `head` round trip, including an empty and a binary object.
pub async fn put_get_head(store: SharedStore) {
    let k = key("round/trip.bin");
    let data = Bytes::from((0u8..=255).cycle().take(70_000).collect::<Vec<_>>());
    let outcome = store
        .put(&k, data.clone(), &PutOptions::overwrite())
        .await
        .unwrap();
    assert_eq!(outcome.size, data.len() as u64);
    assert_eq!(store.get(&k).await.unwrap(), data);
    let meta = store.head(&k).await.unwrap();
    assert_eq!(meta.key, k);
    assert_eq!(meta.size, data.len() as u64);

    let empty = key("round/empty");
    store
        .put(&empty, Bytes::new(), &PutOptions::overwrite())
        .await
        .unwrap();
    assert_eq!(store.get(&empty).await.unwrap(), Bytes::new());
    assert_eq!(store.head(&empty).await.unwrap().size, 0);

    let reader = store.get_stream(&k).await.unwrap();
    assert_eq!(reader.meta.size, data.len() as u64);
    let chunks: Vec<Bytes> = reader.stream.try_collect().await.unwrap();
    assert_eq!(chunks.concat(), data.to_vec());
}

/// Every read of a missing key is `NotFound`; so is a "directory" that only prefixes keys.
pub async fn missing_keys(store: SharedStore) {
    let missing = key("no/such/object");
    assert_not_found(store.get(&missing).await, "get");
    assert_not_found(store.head(&missing).await, "head");
    assert_not_found(
        store.get_stream(&missing).await.map(|r| r.meta),
        "get_stream",
    );
    let range = ByteRange::new(0, 1).unwrap();
    assert_not_found(store.get_range(&missing, range).await, "get_range");

    store
        .put(&key("dir/child"), bytes(b"x"), &PutOptions::overwrite())
        .await
        .unwrap();
    assert_not_found(store.get(&key("dir")).await, "get of a prefix");
    assert_not_found(store.head(&key("dir")).await, "head of a prefix");
}

/// An overwrite replaces the content.
pub async fn overwrite(store: SharedStore) {
    let k = key("over/write");
    store
        .put(&k, bytes(b"first version"), &PutOptions::overwrite())
        .await
        .unwrap();
    store
        .put(&k, bytes(b"second"), &PutOptions::overwrite())
        .await
        .unwrap();
    assert_eq!(store.get(&k).await.unwrap(), bytes(b"second"));
    assert_eq!(store.head(&k).await.unwrap().size, 6);
}

/// A create-only write succeeds once, then fails with `AlreadyExists` and writes nothing.
pub async fn create_only(store: SharedStore) {
    let k = key("create/only");
    store
        .put(&k, bytes(b"winner"), &PutOptions::create_only())
        .await
        .unwrap();
    match store
        .put(&k, bytes(b"loser"), &PutOptions::create_only())
        .await
    {
        Err(Error::AlreadyExists { key }) => assert_eq!(key, k.as_str()),
        other => panic!("second create-only put: {other:?}"),
    }
    let stream = futures::stream::iter([Ok(bytes(b"stream loser"))]).boxed();
    match store
        .put_stream(&k, stream, &PutOptions::create_only())
        .await
    {
        Err(Error::AlreadyExists { .. }) => {}
        other => panic!("create-only put_stream over an existing key: {other:?}"),
    }
    assert_eq!(store.get(&k).await.unwrap(), bytes(b"winner"));
}

/// Ranges: inside, clamped at the end, refused at or past the end.
pub async fn ranges(store: SharedStore) {
    let k = key("range/object");
    let data = bytes(b"0123456789abcdef");
    store
        .put(&k, data.clone(), &PutOptions::overwrite())
        .await
        .unwrap();
    let get = |start, end| {
        let store = Arc::clone(&store);
        let k = k.clone();
        async move {
            store
                .get_range(&k, ByteRange::new(start, end).unwrap())
                .await
        }
    };
    assert_eq!(get(0, 1).await.unwrap(), bytes(b"0"));
    assert_eq!(get(3, 7).await.unwrap(), bytes(b"3456"));
    assert_eq!(get(10, 16).await.unwrap(), bytes(b"abcdef"));
    assert_eq!(
        get(10, 1_000).await.unwrap(),
        bytes(b"abcdef"),
        "end is clamped"
    );
    for (start, end) in [(16, 17), (100, 200)] {
        match get(start, end).await {
            Err(Error::InvalidRange { .. }) => {}
            other => panic!("range {start}..{end} of 16 bytes: {other:?}"),
        }
    }
    assert!(ByteRange::new(5, 5).is_err(), "empty ranges are refused");
    assert!(ByteRange::new(6, 5).is_err(), "reversed ranges are refused");
}

/// Listings filter by prefix and come in byte order of keys.
pub async fn list_prefix_and_order(store: SharedStore) {
    let names = ["x/z/w", "x0", "x-y", "x/y", "x.y", "y/a", "w"];
    for name in names {
        store
            .put(&key(name), Bytes::from(name), &PutOptions::overwrite())
            .await
            .unwrap();
    }
    let listed = |prefix: &'static str| {
        let store = Arc::clone(&store);
        async move {
            store
                .list(prefix)
                .map_ok(|m| m.key.into_string())
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        listed("").await,
        ["w", "x-y", "x.y", "x/y", "x/z/w", "x0", "y/a"]
    );
    assert_eq!(listed("x").await, ["x-y", "x.y", "x/y", "x/z/w", "x0"]);
    assert_eq!(listed("x/").await, ["x/y", "x/z/w"]);
    assert_eq!(listed("x/z").await, ["x/z/w"]);
    assert!(listed("nothing/").await.is_empty());
    let metas: Vec<_> = store.list("x/y").try_collect().await.unwrap();
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].size, 3);
}

/// [`PAGINATION_KEYS`] keys, listed page by page and as a stream: every key once, in order,
/// across several pages, and nothing from outside the prefix.
pub async fn list_pagination(store: SharedStore) {
    let expected: Vec<String> = (0..PAGINATION_KEYS)
        .map(|i| format!("many/{i:05}"))
        .collect();
    futures::stream::iter(expected.iter().cloned())
        .map(|name| {
            let store = Arc::clone(&store);
            async move {
                store
                    .put(&key(&name), Bytes::new(), &PutOptions::overwrite())
                    .await
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    for decoy in ["man", "manz/0", "many0"] {
        store
            .put(&key(decoy), Bytes::new(), &PutOptions::overwrite())
            .await
            .unwrap();
    }

    let mut pages = 0;
    let mut token: Option<PageToken> = None;
    let mut paged = Vec::new();
    loop {
        let page = store.list_page("many/", token.as_ref()).await.unwrap();
        pages += 1;
        paged.extend(page.objects.into_iter().map(|m| m.key.into_string()));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
        assert!(pages <= PAGINATION_KEYS, "listing does not end");
    }
    assert!(
        pages >= 3,
        "{pages} page(s): set a small page size in the factory"
    );
    assert_eq!(paged, expected);

    let streamed: Vec<String> = store
        .list("many/")
        .map_ok(|m| m.key.into_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, expected);
}

/// Deletes remove the object from reads and listings, and deleting twice is fine.
pub async fn delete(store: SharedStore) {
    let k = key("del/me");
    let keep = key("del/keep");
    store
        .put(&k, bytes(b"bye"), &PutOptions::overwrite())
        .await
        .unwrap();
    store
        .put(&keep, bytes(b"stay"), &PutOptions::overwrite())
        .await
        .unwrap();
    store.delete(&k).await.unwrap();
    assert_not_found(store.get(&k).await, "get after delete");
    assert_not_found(store.head(&k).await, "head after delete");
    store.delete(&k).await.unwrap();
    store.delete(&key("del/never-existed")).await.unwrap();
    let left: Vec<_> = store
        .list("del/")
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(left, [keep]);
    // A deleted key can be created again, even create-only.
    store
        .put(&k, bytes(b"back"), &PutOptions::create_only())
        .await
        .unwrap();
    assert_eq!(store.get(&k).await.unwrap(), bytes(b"back"));
}

/// A [`LARGE_OBJECT`] streamed in and out in pieces, never as one buffer in this test.
pub async fn large_streaming_object(store: SharedStore) {
    const SEED: u64 = 0x5eed;
    let k = key("large/object");
    // An odd chunk size, so part boundaries and chunk boundaries never line up.
    let input = PatternSource::stream(SEED, LARGE_OBJECT, 1024 * 1024 + 7);
    let outcome = store
        .put_stream(&k, input, &PutOptions::create_only())
        .await
        .unwrap();
    assert_eq!(outcome.size, LARGE_OBJECT as u64);
    assert_eq!(store.head(&k).await.unwrap().size, LARGE_OBJECT as u64);

    let mut expected = Sha256::new();
    let mut source = PatternSource::stream(SEED, LARGE_OBJECT, 4 * 1024 * 1024);
    while let Some(chunk) = source.next().await {
        expected.update(chunk.unwrap());
    }

    let reader = store.get_stream(&k).await.unwrap();
    assert_eq!(reader.meta.size, LARGE_OBJECT as u64);
    let mut stream = reader.stream;
    let mut actual = Sha256::new();
    let (mut total, mut chunks, mut largest) = (0usize, 0usize, 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        total += chunk.len();
        chunks += 1;
        largest = largest.max(chunk.len());
        actual.update(&chunk);
    }
    assert_eq!(total, LARGE_OBJECT);
    assert!(
        chunks > 1 && largest < LARGE_OBJECT,
        "read came back as one {largest}-byte buffer"
    );
    assert_eq!(actual.finalize(), expected.finalize());

    // A range across the 5 MiB and 8 MiB marks (part boundaries on S3).
    let start = 5 * 1024 * 1024 - 10;
    let len = 3 * 1024 * 1024 + 20;
    let range = ByteRange::new(start as u64, (start + len) as u64).unwrap();
    let got = store.get_range(&k, range).await.unwrap();
    assert_eq!(got, PatternSource::slice(SEED, start, len));
}

/// A streaming write whose input fails part-way leaves nothing behind, small or large.
pub async fn failed_stream_writes_nothing(store: SharedStore) {
    for (name, before_failure) in [("fail/small", 3 * 1024), ("fail/large", 12 * 1024 * 1024)] {
        let k = key(name);
        let good = PatternSource::stream(7, before_failure, 1024 * 1024);
        let failing = good
            .chain(futures::stream::once(async {
                Err(Error::Unavailable {
                    detail: "source went away".into(),
                })
            }))
            .boxed();
        match store
            .put_stream(&k, failing, &PutOptions::overwrite())
            .await
        {
            Err(Error::Unavailable { detail }) => assert_eq!(detail, "source went away"),
            other => panic!("put_stream with a failing input: {other:?}"),
        }
        assert_not_found(store.head(&k).await, "object after a failed stream");
    }
    let left: Vec<_> = store.list("fail/").try_collect().await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

/// Versions where the store has them; `Unsupported` where it does not.
pub async fn versions(store: SharedStore) {
    let k = key("ver/sioned");
    let v1 = store
        .put(&k, bytes(b"one"), &PutOptions::overwrite())
        .await
        .unwrap()
        .version;
    let v2 = store
        .put(&k, bytes(b"two"), &PutOptions::overwrite())
        .await
        .unwrap()
        .version;
    if !store.capabilities().versions {
        let any = v1.unwrap_or_else(|| crate::VersionId::new("v"));
        assert_unsupported(store.list_versions(&k).await, "list_versions");
        assert_unsupported(store.get_version(&k, &any).await, "get_version");
        assert_unsupported(store.delete_version(&k, &any).await, "delete_version");
        assert_eq!(store.get(&k).await.unwrap(), bytes(b"two"));
        return;
    }
    let (v1, v2) = (
        v1.expect("versioned put returns a version"),
        v2.expect("version"),
    );
    assert_ne!(v1, v2);
    let history = store.list_versions(&k).await.unwrap();
    let ids: Vec<_> = history.iter().map(|v| v.version.clone()).collect();
    assert_eq!(ids, [v2.clone(), v1.clone()]);
    assert!(history[0].is_latest && !history[1].is_latest);
    assert_eq!(history[1].size, 3);
    assert_eq!(store.get_version(&k, &v1).await.unwrap(), bytes(b"one"));
    assert_eq!(store.head(&k).await.unwrap().version, Some(v2.clone()));

    // Deleting hides the object but keeps its history.
    store.delete(&k).await.unwrap();
    assert_not_found(store.get(&k).await, "get after delete");
    let history = store.list_versions(&k).await.unwrap();
    assert_eq!(history.len(), 3);
    assert!(history[0].is_delete_marker && history[0].is_latest);
    assert_eq!(store.get_version(&k, &v1).await.unwrap(), bytes(b"one"));
    let listed: Vec<_> = store.list("ver/").try_collect().await.unwrap();
    assert!(
        listed.is_empty(),
        "a deleted object is not listed: {listed:?}"
    );

    // Removing a version for good.
    store.delete_version(&k, &v1).await.unwrap();
    assert_not_found(store.get_version(&k, &v1).await, "get of a removed version");
    let left: Vec<_> = store
        .list_versions(&k)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert!(!left.contains(&v1) && left.contains(&v2));
    // Another key's history is separate, even when one key prefixes the other.
    store
        .put(&key("ver/sioned2"), bytes(b"x"), &PutOptions::overwrite())
        .await
        .unwrap();
    assert_eq!(store.list_versions(&k).await.unwrap().len(), 2);
}

/// Object lock: retained and held versions cannot be deleted; without lock, a locked write is
/// refused and writes nothing.
pub async fn object_lock(store: SharedStore) {
    let until = SystemTime::now() + Duration::from_secs(24 * 3600);
    let governance = Retention {
        mode: RetentionMode::Governance,
        until,
    };
    let compliance = Retention {
        mode: RetentionMode::Compliance,
        until,
    };
    if !store.capabilities().object_lock {
        for options in [
            PutOptions::overwrite().with_retention(governance),
            PutOptions::create_only().with_legal_hold(),
        ] {
            let k = key("lock/refused");
            assert_unsupported(store.put(&k, bytes(b"x"), &options).await, "locked put");
            let stream = futures::stream::iter([Ok(bytes(b"x"))]).boxed();
            assert_unsupported(
                store.put_stream(&k, stream, &options).await,
                "locked stream",
            );
            assert_not_found(store.head(&k).await, "object after a refused locked put");
        }
        let v = crate::VersionId::new("v");
        assert_unsupported(
            store.set_legal_hold(&key("lock/x"), &v, true).await,
            "legal hold",
        );
        return;
    }

    for (name, retention) in [
        ("lock/governance", governance),
        ("lock/compliance", compliance),
    ] {
        let k = key(name);
        let options = PutOptions::overwrite().with_retention(retention);
        let v = store
            .put(&k, bytes(b"immutable"), &options)
            .await
            .unwrap()
            .version
            .unwrap();
        match store.delete_version(&k, &v).await {
            Err(Error::PermissionDenied { .. }) => {}
            other => panic!("delete of a retained version ({name}): {other:?}"),
        }
        // A plain delete only hides it: the retained version survives and stays readable.
        store.delete(&k).await.unwrap();
        assert_not_found(store.get(&k).await, "get after delete");
        assert_eq!(
            store.get_version(&k, &v).await.unwrap(),
            bytes(b"immutable")
        );
    }

    let k = key("lock/held");
    let stream = futures::stream::iter([Ok(bytes(b"held"))]).boxed();
    let held = PutOptions::create_only().with_legal_hold();
    let v = store
        .put_stream(&k, stream, &held)
        .await
        .unwrap()
        .version
        .unwrap();
    match store.delete_version(&k, &v).await {
        Err(Error::PermissionDenied { .. }) => {}
        other => panic!("delete of a held version: {other:?}"),
    }
    store.set_legal_hold(&k, &v, false).await.unwrap();
    store.delete_version(&k, &v).await.unwrap();
    assert_not_found(
        store.get_version(&k, &v).await,
        "released and deleted version",
    );

    let k = key("lock/held-later");
    let v = store
        .put(&k, bytes(b"x"), &PutOptions::overwrite())
        .await
        .unwrap()
        .version
        .unwrap();
    store.set_legal_hold(&k, &v, true).await.unwrap();
    assert!(matches!(
        store.delete_version(&k, &v).await,
        Err(Error::PermissionDenied { .. })
    ));
    store.set_legal_hold(&k, &v, false).await.unwrap();
    store.delete_version(&k, &v).await.unwrap();
}

/// [`CONCURRENT_WRITERS`] create-only writers race for each of several keys: exactly one wins
/// each race, the rest get `AlreadyExists`, and the stored content is the winner's.
pub async fn concurrent_create_only(store: SharedStore) {
    for round in 0..5 {
        let k = key(&format!("race/{round}"));
        let tasks: Vec<_> = (0..CONCURRENT_WRITERS)
            .map(|writer| {
                let store = Arc::clone(&store);
                let k = k.clone();
                tokio::spawn(async move {
                    let data = Bytes::from(format!("writer {writer} of round {round}"));
                    (
                        data.clone(),
                        store.put(&k, data, &PutOptions::create_only()).await,
                    )
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (data, result) = task.await.unwrap();
            match result {
                Ok(_) => winners.push(data),
                Err(Error::AlreadyExists { .. }) => {}
                Err(other) => panic!("racing create-only put: {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        assert_eq!(store.get(&k).await.unwrap(), winners[0]);
    }
}

/// Keys and prefixes that would escape a root or confuse a backend are refused, the same way
/// everywhere.
pub async fn invalid_keys_and_prefixes(store: SharedStore) {
    for bad in [
        "",
        "/abs",
        "../up",
        "a/../../up",
        "a/..",
        "./a",
        "a//b",
        "a/",
        "nul\0",
        "a\\b",
    ] {
        match ObjectKey::new(bad) {
            Err(Error::InvalidKey { .. }) => {}
            other => panic!("key {bad:?}: {other:?}"),
        }
    }
    for bad in ["/", "/abs", "../", "a/../", "a//", "nul\0"] {
        match store.list_page(bad, None).await {
            Err(Error::InvalidKey { .. }) => {}
            other => panic!("prefix {bad:?}: {other:?}"),
        }
    }
    assert!(store.list_page("", None).await.unwrap().objects.is_empty());
}

/// Residency: through a layer whose store region is not allowed, writes fail with
/// `ResidencyViolation` before the store sees a byte; in an allowed region they pass.
pub async fn residency(store: SharedStore) {
    let eu = Region::new("eu-central-1").unwrap();
    let us = Region::new("us-east-1").unwrap();
    let k = key("resident/data");

    let refused = ResidencyLayer::new(Arc::clone(&store), us, [eu.clone()]);
    match refused
        .put(&k, bytes(b"personal data"), &PutOptions::overwrite())
        .await
    {
        Err(Error::ResidencyViolation {
            store_region,
            allowed,
        }) => {
            assert_eq!(store_region, "us-east-1");
            assert_eq!(allowed, "eu-central-1");
        }
        other => panic!("put to a disallowed region: {other:?}"),
    }
    let polled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&polled);
    let stream = futures::stream::poll_fn(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        std::task::Poll::Ready(Some(Ok(bytes(b"personal data"))))
    })
    .take(1)
    .boxed();
    assert!(matches!(
        refused
            .put_stream(&k, stream, &PutOptions::overwrite())
            .await,
        Err(Error::ResidencyViolation { .. })
    ));
    assert_eq!(
        polled.load(Ordering::SeqCst),
        0,
        "the refused stream was read"
    );
    assert_not_found(store.head(&k).await, "object after refused writes");

    let nowhere = ResidencyLayer::new(Arc::clone(&store), eu.clone(), []);
    assert!(matches!(
        nowhere.put(&k, bytes(b"x"), &PutOptions::overwrite()).await,
        Err(Error::ResidencyViolation { .. })
    ));

    let allowed = ResidencyLayer::new(Arc::clone(&store), eu.clone(), [eu]);
    allowed
        .put(&k, bytes(b"personal data"), &PutOptions::overwrite())
        .await
        .unwrap();
    assert_eq!(store.get(&k).await.unwrap(), bytes(b"personal data"));
    // Reads and deletes are not writes: they pass even where writes are refused.
    assert_eq!(refused.get(&k).await.unwrap(), bytes(b"personal data"));
    refused.delete(&k).await.unwrap();
    assert_not_found(
        store.head(&k).await,
        "object after delete through the layer",
    );
}

/// Instantiates every test of the [conformance suite](crate::conformance) for a store
/// factory: an `async fn() -> Fixture` that returns a fresh, empty store.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@tests $factory;
            put_get_head, missing_keys, overwrite, create_only, ranges, list_prefix_and_order,
            list_pagination, delete, large_streaming_object, failed_stream_writes_nothing,
            versions, object_lock, concurrent_create_only, invalid_keys_and_prefixes, residency
        );
    };
    (@tests $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture: $crate::conformance::Fixture = $factory().await;
                $crate::conformance::$name(::std::sync::Arc::clone(&fixture.store)).await;
                drop(fixture);
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pattern_streams_agree_with_slices_whatever_the_chunking() {
        let whole: Vec<Bytes> = PatternSource::stream(9, 1000, 1000)
            .try_collect()
            .await
            .unwrap();
        let odd: Vec<Bytes> = PatternSource::stream(9, 1000, 13)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(whole.concat(), odd.concat());
        assert_eq!(PatternSource::slice(9, 123, 77), whole.concat()[123..200]);
        assert_ne!(
            PatternSource::slice(8, 0, 64),
            PatternSource::slice(9, 0, 64)
        );
    }
}
