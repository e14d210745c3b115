//! The key manager's lifecycle, against LocalKms and against AwsKms on moto (one suite,
//! instantiated per KMS), with an in-memory object store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use coffer_keys::{
    CacheConfig, DataKey, DekRecord, EncryptionContext, Error, KeyEventKind, KeyManager, KeyOrigin,
    KeyState, ManualClock, MemoryDekCatalog, OrgId, RewrapCursor, RingOptions, WrappedDek,
};
use coffer_store::{Memory, ObjectStore};
use common::{BarrierKms, ControlledKms, Mode, Provider};
use futures::StreamExt;

const TTL: Duration = Duration::from_secs(300);

fn org_id(n: u32) -> OrgId {
    OrgId::new(format!("00D{n:012}")).unwrap()
}

fn manager(
    store: &Arc<Memory>,
    kms: Arc<dyn coffer_keys::Kms>,
    clock: &Arc<ManualClock>,
) -> KeyManager {
    KeyManager::builder(store.clone(), kms)
        .clock(clock.clone())
        .cache(CacheConfig::new().with_ttl(TTL).with_capacity(1_000))
        .build()
}

/// An object sealed with the envelope under its data key; the wrapped key kept beside it.
struct Object {
    path: String,
    context: EncryptionContext,
    wrapped: WrappedDek,
    sealed: Vec<u8>,
    plaintext: Vec<u8>,
}

async fn write_object(keys: &KeyManager, org: &OrgId, path: &str) -> Object {
    let context = EncryptionContext::object(org, path, "pack");
    let new = keys.generate_data_key(org, &context).await.unwrap();
    let plaintext = format!("records of {path}").into_bytes();
    let sealed = coffer_envelope::seal(
        &new.key,
        path.as_bytes(),
        &context.canonical_bytes(),
        &plaintext,
    )
    .unwrap();
    Object {
        path: path.to_owned(),
        context,
        wrapped: new.wrapped,
        sealed,
        plaintext,
    }
}

async fn read_object(
    keys: &KeyManager,
    org: &OrgId,
    object: &Object,
) -> coffer_keys::Result<Vec<u8>> {
    let key = keys
        .unwrap_data_key(org, &object.wrapped, &object.context)
        .await?;
    Ok(coffer_envelope::open(&key, &object.context.canonical_bytes(), &object.sealed).unwrap())
}

async fn ring_objects(store: &Memory, org: &OrgId) -> Vec<String> {
    let prefix = format!("keyrings/{org}/");
    let listing: Vec<_> = store.list(&prefix).collect().await;
    listing
        .into_iter()
        .map(|m| m.unwrap().key.into_string())
        .collect()
}

/// Every generation but the newest holds only the superseded marker, in its only version (on a
/// versioned store): no older copy of the ring, and so of any erased key, survives. Returns the
/// newest generation's name.
async fn assert_history_erased(store: &Memory, org: &OrgId) -> String {
    let mut names = ring_objects(store, org).await;
    let latest = names.pop().unwrap();
    for name in names.iter().chain([&latest]) {
        let key = coffer_store::ObjectKey::new(name.clone()).unwrap();
        if store.capabilities().versions {
            assert_eq!(store.list_versions(&key).await.unwrap().len(), 1, "{name}");
        }
        let body = store.get(&key).await.unwrap();
        let is_marker = body.as_ref() == coffer_keys::persist::SUPERSEDED_MARKER;
        assert_eq!(is_marker, name != &latest, "{name}");
    }
    latest
}

async fn full_lifecycle_round_trip(provider: Provider) {
    let setup = provider.setup().await;
    let store = Arc::new(Memory::new());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let keys = manager(&store, setup.kms.clone(), &clock);
    let org = org_id(1);

    let created = keys.create_ring(&org, RingOptions::new()).await.unwrap();
    assert_eq!(created.generation, 1);
    assert!(matches!(
        created.kind,
        KeyEventKind::RingCreated {
            version: 1,
            origin: KeyOrigin::Generated,
            ..
        }
    ));
    assert!(matches!(
        keys.create_ring(&org, RingOptions::new()).await,
        Err(Error::RingExists { .. })
    ));

    let first = write_object(&keys, &org, "packs/0001").await;
    assert_eq!(first.wrapped.kek_version(), 1);

    clock.advance(Duration::from_secs(60));
    let rotated = keys.rotate(&org).await.unwrap();
    assert_eq!(rotated.generation, 2);
    assert!(matches!(
        rotated.kind,
        KeyEventKind::Rotated {
            version: 2,
            previous: Some(1),
            automatic: false,
            ..
        }
    ));
    let second = write_object(&keys, &org, "packs/0002").await;
    assert_eq!(
        second.wrapped.kek_version(),
        2,
        "new writes use the new primary"
    );

    let ring = keys.ring(&org).await.unwrap();
    let states: Vec<_> = ring
        .versions()
        .iter()
        .map(|v| (v.version(), v.state()))
        .collect();
    assert_eq!(states, [(1, KeyState::DecryptOnly), (2, KeyState::Active)]);
    assert_eq!(ring.primary(), Some(2));
    assert_eq!(ring.min_decryption_version(), 1);
    assert_eq!(ring.root_key_id(), setup.kms.default_key_id());

    // A new process with only the bucket and the root key reads everything.
    let fresh = manager(&store, setup.kms.clone(), &clock);
    for object in [&first, &second] {
        assert_eq!(
            read_object(&fresh, &org, object).await.unwrap(),
            object.plaintext,
            "{}",
            object.path
        );
    }
    assert_eq!(fresh.orgs().await.unwrap(), std::slice::from_ref(&org));

    // Retiring the primary freezes writes, not reads; the next rotation unfreezes.
    let retired = keys.retire(&org, 2).await.unwrap();
    assert!(matches!(retired.kind, KeyEventKind::Retired { version: 2 }));
    assert!(matches!(
        keys.generate_data_key(&org, &first.context).await,
        Err(Error::NoActiveVersion { .. })
    ));
    assert_eq!(
        read_object(&keys, &org, &second).await.unwrap(),
        second.plaintext
    );
    keys.rotate(&org).await.unwrap();
    assert_eq!(
        write_object(&keys, &org, "packs/0003")
            .await
            .wrapped
            .kek_version(),
        3
    );

    // Only the newest generation keeps a ring; the names of older ones stay taken.
    assert_eq!(ring_objects(&store, &org).await.len(), 4);
    assert_eq!(
        assert_history_erased(&store, &org).await,
        format!("keyrings/{org}/{:020}", 4)
    );
}

async fn rotate_rewrap_then_destroy(provider: Provider) {
    let setup = provider.setup().await;
    let store = Arc::new(Memory::versioned());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let keys = manager(&store, setup.kms.clone(), &clock);
    let org = org_id(2);
    keys.create_ring(&org, RingOptions::new()).await.unwrap();

    let catalog = MemoryDekCatalog::new();
    let mut objects = Vec::new();
    for i in 0..10 {
        if i == 5 {
            keys.rotate(&org).await.unwrap();
        }
        let object = write_object(&keys, &org, &format!("packs/{i:04}")).await;
        catalog.insert(
            &org,
            DekRecord {
                id: object.path.clone(),
                wrapped: object.wrapped,
                context: object.context.clone(),
            },
        );
        objects.push(object);
    }
    keys.rotate(&org).await.unwrap(); // primary is now 3; 1 and 2 are decrypt-only

    // Rewrap in batches of 3; stop after the first batch as if the process died, then resume
    // from the persisted cursor in a new process.
    let mut cursor = keys.start_rewrap(&org).await.unwrap();
    assert_eq!(cursor.target_version(), 3);
    assert!(!keys.rewrap_batch(&mut cursor, &catalog, 3).await.unwrap());
    assert_eq!(cursor.progress().scanned, 3);
    assert_eq!(cursor.position(), Some("packs/0002"));
    let saved = serde_json::to_string(&cursor).unwrap();

    let resumed_keys = manager(&store, setup.kms.clone(), &clock);
    let mut resumed: RewrapCursor = serde_json::from_str(&saved).unwrap();
    let mut reports = Vec::new();
    let done = resumed_keys
        .rewrap_all(&mut resumed, &catalog, 3, |c| {
            reports.push(c.progress().scanned)
        })
        .await
        .unwrap();
    assert_eq!(reports.last(), Some(&10));
    assert!(resumed.is_done());
    assert!(matches!(
        done.kind,
        KeyEventKind::RewrapCompleted {
            target_version: 3,
            scanned: 10,
            rewrapped: 10
        }
    ));
    // The persisted cursor carried the first batch's counts into the resumed run.
    assert_eq!(cursor.progress().rewrapped, 3);
    assert_eq!(resumed.progress().already_current, 0);
    assert!(
        catalog
            .records(&org)
            .iter()
            .all(|r| r.wrapped.kek_version() == 3)
    );

    // Before destroy: every object readable through its rewrapped key and its old one, from a
    // process with cold caches.
    let cold = manager(&store, setup.kms.clone(), &clock);
    for object in &objects {
        assert_eq!(
            read_object(&cold, &org, object).await.unwrap(),
            object.plaintext
        );
        let record = catalog.get(&org, &object.path).unwrap();
        let key = cold
            .unwrap_data_key(&org, &record.wrapped, &record.context)
            .await
            .unwrap();
        let opened =
            coffer_envelope::open(&key, &object.context.canonical_bytes(), &object.sealed).unwrap();
        assert_eq!(opened, object.plaintext);
    }

    // Destroy waits one cache TTL after retirement (others may still use the version).
    assert!(matches!(
        keys.destroy(&org, 2).await,
        Err(Error::RetiredTooRecently { version: 2, .. })
    ));
    assert!(matches!(
        keys.destroy(&org, 3).await,
        Err(Error::InvalidTransition {
            state: KeyState::Active,
            ..
        })
    ));
    clock.advance(TTL);
    for version in [1, 2] {
        let event = keys.destroy(&org, version).await.unwrap();
        assert!(matches!(event.kind, KeyEventKind::Destroyed { version: v } if v == version));
    }

    // After destroy: the data is readable through the rewrapped keys, never through the old
    // ones, in this process (cache evicted) or in a new one.
    let after = manager(&store, setup.kms.clone(), &clock);
    for object in &objects {
        let record = catalog.get(&org, &object.path).unwrap();
        for keys in [&keys, &after] {
            let key = keys
                .unwrap_data_key(&org, &record.wrapped, &record.context)
                .await
                .unwrap();
            assert_eq!(
                coffer_envelope::open(&key, &object.context.canonical_bytes(), &object.sealed)
                    .unwrap(),
                object.plaintext
            );
            let old = read_object(keys, &org, object).await;
            assert!(
                matches!(old, Err(Error::VersionDestroyed { .. })),
                "{old:?}"
            );
        }
    }
    let ring = after.ring(&org).await.unwrap();
    for version in [1, 2] {
        let entry = ring.version(version).unwrap();
        assert_eq!(entry.state(), KeyState::Destroyed);
        assert!(entry.wrapped_kek().is_none());
    }
    // Every superseded generation is erased, every version of it.
    assert_history_erased(&store, &org).await;

    // Crypto-shredding the org: nothing is readable afterwards, by anyone.
    let shredded = keys.shred(&org).await.unwrap();
    assert!(matches!(shredded.kind, KeyEventKind::Shredded { ref versions } if versions == &[3]));
    let after_shred = manager(&store, setup.kms.clone(), &clock);
    for object in &objects {
        let record = catalog.get(&org, &object.path).unwrap();
        for keys in [&keys, &after_shred] {
            let result = keys
                .unwrap_data_key(&org, &record.wrapped, &record.context)
                .await;
            assert!(
                matches!(result, Err(Error::VersionDestroyed { version: 3, .. })),
                "{result:?}"
            );
        }
    }
    assert!(matches!(
        keys.generate_data_key(&org, &objects[0].context).await,
        Err(Error::NoActiveVersion { .. })
    ));
    assert_history_erased(&store, &org).await;
    let ring = after_shred.ring(&org).await.unwrap();
    assert!(
        ring.versions()
            .iter()
            .all(|v| v.state() == KeyState::Destroyed && v.wrapped_kek().is_none())
    );
}

async fn concurrent_rotations_lose_nothing(provider: Provider) {
    let setup = provider.setup().await;
    let store = Arc::new(Memory::new());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let org = org_id(3);
    manager(&store, setup.kms.clone(), &clock)
        .create_ring(&org, RingOptions::new())
        .await
        .unwrap();

    // Two processes both load generation 1 before either commits: exactly one wins.
    let gated: Arc<dyn coffer_keys::Kms> = BarrierKms::new(setup.kms.clone(), 2);
    let a = manager(&store, gated.clone(), &clock);
    let b = manager(&store, gated, &clock);
    let org_a = org.clone();
    let org_b = org.clone();
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a.rotate(&org_a).await }),
        tokio::spawn(async move { b.rotate(&org_b).await }),
    );
    let results = [ra.unwrap(), rb.unwrap()];
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Conflict { generation: 2, .. })))
        .count();
    assert_eq!((wins, conflicts), (1, 1), "{results:?}");

    // The loser reloads and retries; nothing is lost.
    let loser = manager(&store, setup.kms.clone(), &clock);
    loser.rotate(&org).await.unwrap();
    let ring = loser.ring(&org).await.unwrap();
    assert_eq!(
        (ring.generation(), ring.latest_version(), ring.primary()),
        (3, 3, Some(3))
    );

    // Many writers, retrying on conflict: every rotation lands exactly once.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let keys = manager(&store, setup.kms.clone(), &clock);
        let org = org.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                match keys.rotate(&org).await {
                    Ok(event) => return (event, conflicts),
                    Err(Error::Conflict { .. }) => conflicts += 1,
                    Err(other) => panic!("{other:?}"),
                }
            }
        }));
    }
    let mut versions = Vec::new();
    for task in tasks {
        let (event, _) = task.await.unwrap();
        match event.kind {
            KeyEventKind::Rotated { version, .. } => versions.push(version),
            other => panic!("{other:?}"),
        }
    }
    versions.sort_unstable();
    assert_eq!(versions, [4, 5, 6, 7, 8, 9]);
    let ring = loser.ring(&org).await.unwrap();
    assert_eq!((ring.generation(), ring.latest_version()), (9, 9));
    assert_eq!(
        ring.versions()
            .iter()
            .filter(|v| v.state() == KeyState::Active)
            .count(),
        1
    );
}

async fn cache_hits_never_call_the_kms(provider: Provider) {
    let setup = provider.setup().await;
    let store = Arc::new(Memory::new());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let counting = ControlledKms::new(setup.kms.clone());
    let org = org_id(4);
    manager(&store, setup.kms.clone(), &clock)
        .create_ring(&org, RingOptions::new())
        .await
        .unwrap();
    let writer = manager(&store, setup.kms.clone(), &clock);
    let object = write_object(&writer, &org, "packs/0001").await;

    let keys = KeyManager::builder(store.clone(), counting.clone())
        .clock(clock.clone())
        .cache(CacheConfig::new().with_ttl(TTL).with_capacity(2))
        .build();
    assert_eq!(
        read_object(&keys, &org, &object).await.unwrap(),
        object.plaintext
    );
    let cold_calls = counting.calls();
    assert_eq!(cold_calls, 2, "one ring document key and one KEK");

    counting.set(Mode::Unavailable); // a hit must not even try
    for _ in 0..100 {
        assert_eq!(
            read_object(&keys, &org, &object).await.unwrap(),
            object.plaintext
        );
    }
    assert_eq!(counting.calls(), cold_calls);
    assert_eq!(keys.cache_stats().data_keys.hits, 100);

    // After the TTL the key is gone from RAM: the KMS is needed again.
    let held = Arc::downgrade(
        &keys
            .unwrap_data_key(&org, &object.wrapped, &object.context)
            .await
            .unwrap(),
    );
    clock.advance(TTL);
    assert!(
        keys.cached_data_key(&org, &object.wrapped, &object.context)
            .is_none()
    );
    assert!(
        held.upgrade().is_none(),
        "expired keys are dropped (and wiped) at once"
    );
    assert!(matches!(
        read_object(&keys, &org, &object).await,
        Err(Error::KmsUnavailable { .. })
    ));
    counting.set(Mode::Pass);
    assert_eq!(
        read_object(&keys, &org, &object).await.unwrap(),
        object.plaintext
    );

    // The size bound: a third data key evicts the oldest.
    let two = write_object(&writer, &org, "packs/0002").await;
    let three = write_object(&writer, &org, "packs/0003").await;
    read_object(&keys, &org, &two).await.unwrap();
    read_object(&keys, &org, &three).await.unwrap();
    assert!(
        keys.cached_data_key(&org, &object.wrapped, &object.context)
            .is_none()
    );
    assert!(
        keys.cached_data_key(&org, &three.wrapped, &three.context)
            .is_some()
    );
    assert_eq!(keys.cache_stats().data_keys.evictions, 1);
    assert_eq!(keys.cache_stats().data_keys.entries, 2);
}

async fn bad_input_is_typed_and_writes_nothing(provider: Provider) {
    let setup = provider.setup().await;
    let store = Arc::new(Memory::new());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let controlled = ControlledKms::new(setup.kms.clone());
    let keys = manager(&store, controlled.clone(), &clock);
    let org = org_id(5);

    let unknown = org_id(999);
    let ctx = EncryptionContext::object(&unknown, "p", "pack");
    assert!(matches!(
        keys.generate_data_key(&unknown, &ctx).await,
        Err(Error::UnknownOrg { .. })
    ));
    assert!(matches!(
        keys.rotate(&unknown).await,
        Err(Error::UnknownOrg { .. })
    ));
    assert!(matches!(
        keys.ring(&unknown).await,
        Err(Error::UnknownOrg { .. })
    ));

    keys.create_ring(&org, RingOptions::new()).await.unwrap();
    let object = write_object(&keys, &org, "packs/0001").await;
    assert!(matches!(
        keys.unwrap_data_key(&unknown, &object.wrapped, &object.context)
            .await,
        Err(Error::UnknownOrg { .. })
    ));

    // Wrong context; tampered bytes; a version that does not exist.
    let wrong = EncryptionContext::object(&org, "packs/0002", "pack");
    assert!(matches!(
        keys.unwrap_data_key(&org, &object.wrapped, &wrong).await,
        Err(Error::Unwrap)
    ));
    let mut bytes = object.wrapped.as_bytes().to_vec();
    bytes[40] ^= 1;
    let tampered = WrappedDek::from_bytes(&bytes).unwrap();
    assert!(matches!(
        keys.unwrap_data_key(&org, &tampered, &object.context).await,
        Err(Error::Unwrap)
    ));
    let mut bytes = object.wrapped.as_bytes().to_vec();
    bytes[5..9].copy_from_slice(&99_u32.to_be_bytes());
    let future = WrappedDek::from_bytes(&bytes).unwrap();
    assert!(matches!(
        keys.unwrap_data_key(&org, &future, &object.context).await,
        Err(Error::UnknownVersion { version: 99, .. })
    ));
    assert!(matches!(
        WrappedDek::from_bytes(&bytes[..20]),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        keys.destroy(&org, 7).await,
        Err(Error::UnknownVersion { version: 7, .. })
    ));

    // KMS unavailable, then denying: each typed, and the ring is exactly as before.
    let before = keys.ring(&org).await.unwrap();
    for (mode, expect_unavailable) in [(Mode::Unavailable, true), (Mode::Denied, false)] {
        controlled.set(mode);
        for result in [
            keys.rotate(&org).await,
            keys.retire(&org, 1).await,
            keys.set_rotation_period(&org, Some(Duration::from_secs(86_400)))
                .await,
        ] {
            match result {
                Err(Error::KmsUnavailable { .. }) if expect_unavailable => {}
                Err(Error::KmsDenied { .. }) if !expect_unavailable => {}
                other => panic!("{mode:?}: {other:?}"),
            }
        }
        let created = keys.create_ring(&org_id(6), RingOptions::new()).await;
        assert!(created.is_err());
        controlled.set(Mode::Pass);
        assert_eq!(
            keys.ring(&org).await.unwrap(),
            before,
            "nothing was written"
        );
        assert!(matches!(
            keys.ring(&org_id(6)).await,
            Err(Error::UnknownOrg { .. })
        ));
        assert_eq!(ring_objects(&store, &org).await.len(), 1);
    }

    // An unknown root key for a new org.
    let result = keys
        .create_ring(
            &org_id(7),
            RingOptions::new().with_root_key(unknown_key(provider)),
        )
        .await;
    assert!(
        matches!(result, Err(Error::KmsKeyNotFound { .. })),
        "{result:?}"
    );
    assert!(ring_objects(&store, &org_id(7)).await.is_empty());
}

fn unknown_key(provider: Provider) -> String {
    match provider {
        Provider::Local => "no-such-master-key".into(),
        Provider::Moto => "0c9a3e3e-8f34-4a7e-9a6a-2f6f5b0e0000".into(),
    }
}

async fn customer_keys(provider: Provider) {
    let setup = provider.setup().await;
    let store = Arc::new(Memory::versioned());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let keys = manager(&store, setup.kms.clone(), &clock);

    // Customer-managed key: the org's own KMS key is its ring's root.
    let cmk_org = org_id(8);
    keys.create_ring(
        &cmk_org,
        RingOptions::new().with_root_key(setup.second_key.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        keys.ring(&cmk_org).await.unwrap().root_key_id(),
        setup.second_key
    );
    let object = write_object(&keys, &cmk_org, "packs/0001").await;
    // Moving the ring back to the provider's key: KEKs rewrapped KMS-side, data untouched.
    let moved = keys
        .change_root_key(&cmk_org, setup.kms.default_key_id())
        .await
        .unwrap();
    assert!(matches!(moved.kind, KeyEventKind::RootKeyChanged { .. }));
    let fresh = manager(&store, setup.kms.clone(), &clock);
    assert_eq!(
        fresh.ring(&cmk_org).await.unwrap().root_key_id(),
        setup.kms.default_key_id()
    );
    assert_eq!(
        read_object(&fresh, &cmk_org, &object).await.unwrap(),
        object.plaintext
    );
    assert_history_erased(&store, &cmk_org).await;

    // Customer-provided key: the org's own 256-bit key, from the start and as a rotation.
    let byok_org = org_id(9);
    let material: Vec<u8> = (100..132).collect();
    let created = keys
        .create_ring(
            &byok_org,
            RingOptions::new().with_imported_key(DataKey::from_slice(&material).unwrap()),
        )
        .await
        .unwrap();
    assert!(matches!(
        created.kind,
        KeyEventKind::RingCreated {
            origin: KeyOrigin::Imported,
            ..
        }
    ));
    let under_first = write_object(&keys, &byok_org, "packs/a").await;
    let imported = keys
        .import_key(&byok_org, DataKey::generate().unwrap())
        .await
        .unwrap();
    assert!(matches!(
        imported.kind,
        KeyEventKind::Rotated {
            version: 2,
            origin: KeyOrigin::Imported,
            ..
        }
    ));
    let under_second = write_object(&keys, &byok_org, "packs/b").await;
    assert_eq!(under_second.wrapped.kek_version(), 2);
    let fresh = manager(&store, setup.kms.clone(), &clock);
    for object in [&under_first, &under_second] {
        assert_eq!(
            read_object(&fresh, &byok_org, object).await.unwrap(),
            object.plaintext
        );
    }
    assert_eq!(
        fresh
            .ring(&byok_org)
            .await
            .unwrap()
            .version(1)
            .unwrap()
            .origin(),
        KeyOrigin::Imported
    );
}

async fn policy_rotation_and_minimum(provider: Provider) {
    let setup = provider.setup().await;
    let store = Arc::new(Memory::new());
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let keys = manager(&store, setup.kms.clone(), &clock);
    let org = org_id(10);
    let day = Duration::from_secs(86_400);
    keys.create_ring(&org, RingOptions::new().with_rotation_period(day))
        .await
        .unwrap();
    let old = write_object(&keys, &org, "packs/old").await;

    assert!(keys.rotate_if_due(&org).await.unwrap().is_none());
    clock.advance(day - Duration::from_secs(1));
    assert!(keys.rotate_if_due(&org).await.unwrap().is_none());
    clock.advance(Duration::from_secs(1));
    let event = keys.rotate_if_due(&org).await.unwrap().unwrap();
    assert!(matches!(
        event.kind,
        KeyEventKind::Rotated {
            version: 2,
            automatic: true,
            ..
        }
    ));
    assert!(
        keys.rotate_if_due(&org).await.unwrap().is_none(),
        "the period restarts"
    );
    assert_eq!(
        keys.ring(&org).await.unwrap().next_rotation_at(),
        Some(1_700_000_000 + 2 * 86_400)
    );

    // min_decryption_version disables version 1 at once, even for a cached key, and reversibly.
    assert_eq!(read_object(&keys, &org, &old).await.unwrap(), old.plaintext);
    let event = keys.set_min_decryption_version(&org, 2).await.unwrap();
    assert!(matches!(
        event.kind,
        KeyEventKind::MinDecryptionVersionSet { from: 1, to: 2 }
    ));
    assert!(matches!(
        read_object(&keys, &org, &old).await,
        Err(Error::VersionDisabled {
            version: 1,
            minimum: 2,
            ..
        })
    ));
    assert!(matches!(
        keys.set_min_decryption_version(&org, 3).await,
        Err(Error::InvalidArgument(_))
    ));
    keys.set_min_decryption_version(&org, 1).await.unwrap();
    assert_eq!(read_object(&keys, &org, &old).await.unwrap(), old.plaintext);

    let cleared = keys.set_rotation_period(&org, None).await.unwrap();
    assert!(matches!(
        cleared.kind,
        KeyEventKind::RotationPeriodSet { seconds: None }
    ));
    clock.advance(day * 10);
    assert!(keys.rotate_if_due(&org).await.unwrap().is_none());
}

kms_matrix!(
    full_lifecycle_round_trip,
    rotate_rewrap_then_destroy,
    concurrent_rotations_lose_nothing,
    cache_hits_never_call_the_kms,
    bad_input_is_typed_and_writes_nothing,
    customer_keys,
    policy_rotation_and_minimum,
);
