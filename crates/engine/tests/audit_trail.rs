//! The audit trail's storage over the in-memory and local-disk stores: checkpoints, sealed
//! payloads, the sealed signing key, and the whole trail verified offline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coffer_audit::verify::FailureKind;
use coffer_audit::{CheckpointStore, EventDraft, Outcome, PayloadStore};
use coffer_engine::Error;
use coffer_engine::audit_trail::{SealedPayloads, SigningKeyVault, StoreCheckpoints};
use coffer_keys::KeyManager;
use coffer_store::{LocalFs, Memory, ObjectStore, PutOptions};
use common::*;

#[tokio::test]
async fn checkpoints_over_memory_conform() {
    let store: Arc<dyn ObjectStore> = Arc::new(Memory::new().with_page_size(2));
    let checkpoints = StoreCheckpoints::new(store.clone(), "audit/checkpoints/").unwrap();
    checkpoint_conformance(store, &checkpoints).await;
}

#[tokio::test]
async fn checkpoints_over_local_fs_conform_and_form_a_checkpoint_directory() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalFs::new(dir.path()).unwrap();
    let objects = local.objects_dir().to_owned();
    let store: Arc<dyn ObjectStore> = Arc::new(local);
    let checkpoints = StoreCheckpoints::new(store.clone(), "audit/checkpoints").unwrap();
    checkpoint_conformance(store, &checkpoints).await;
    // The same files, read the way `coffer audit verify --checkpoints DIR` reads them.
    let notes =
        coffer_audit::offline::read_checkpoint_dir(&objects.join("audit/checkpoints")).unwrap();
    assert_eq!(
        notes,
        vec![b"nine".to_vec(), b"ten".to_vec(), b"thousand".to_vec()]
    );
}

#[tokio::test]
async fn retention_is_refused_without_object_lock() {
    let dir = tempfile::tempdir().unwrap();
    let stores: [Arc<dyn ObjectStore>; 3] = [
        Arc::new(Memory::new()),
        Arc::new(LocalFs::new(dir.path()).unwrap()),
        Arc::new(Memory::versioned()),
    ];
    for store in &stores[..2] {
        let refused = StoreCheckpoints::new(store.clone(), "cp")
            .unwrap()
            .with_compliance_retention(Duration::from_secs(3600));
        assert!(
            matches!(refused, Err(Error::ObjectLockUnavailable { .. })),
            "{refused:?}"
        );
    }
    let zero = StoreCheckpoints::new(stores[2].clone(), "cp")
        .unwrap()
        .with_compliance_retention(Duration::ZERO);
    assert!(matches!(zero, Err(Error::InvalidArgument(_))), "{zero:?}");
}

#[tokio::test]
async fn retained_checkpoints_cannot_be_deleted() {
    let store: Arc<dyn ObjectStore> = Arc::new(Memory::versioned());
    let checkpoints = StoreCheckpoints::new(store.clone(), "audit/checkpoints")
        .unwrap()
        .with_compliance_retention(Duration::from_secs(3600))
        .unwrap();
    checkpoint_conformance(store.clone(), &checkpoints).await;
    let key = checkpoints.key(1000).unwrap();
    let versions = store.list_versions(&key).await.unwrap();
    assert_eq!(versions.len(), 1);
    let denied = store.delete_version(&key, &versions[0].version).await;
    // `Memory` names the retention mode in its refusal.
    let Err(coffer_store::Error::PermissionDenied { detail, .. }) = denied else {
        panic!("{denied:?}");
    };
    assert!(detail.contains("Compliance"), "{detail}");
    assert_eq!(checkpoints.get(1000).await.unwrap().unwrap(), b"thousand");
}

#[tokio::test]
async fn the_signing_key_survives_rotation_and_dies_with_the_org() {
    let store: Arc<dyn ObjectStore> = Arc::new(Memory::new());
    let (keys, kms) = keys(store.clone()).await;
    let vault = SigningKeyVault::new(store.clone(), keys.clone(), org(), "audit/key").unwrap();
    assert!(matches!(
        vault.load(ORIGIN).await,
        Err(Error::SigningKeyMissing { .. })
    ));
    let created = vault.create(ORIGIN).await.unwrap();
    let vkey = created.verifier().to_vkey();
    assert_eq!(vault.published_verifier().await.unwrap().to_vkey(), vkey);
    assert!(matches!(
        vault.create(ORIGIN).await,
        Err(Error::SigningKeyExists { .. })
    ));
    assert_eq!(
        vault.sealed_key().unwrap().as_str(),
        "audit/key/signing-key.sealed"
    );

    // Rotation: a fresh manager (empty caches) on the same store and root key still loads it.
    keys.rotate(&org()).await.unwrap();
    let fresh = KeyManager::new(store.clone(), kms.clone());
    let vault2 = SigningKeyVault::new(store.clone(), fresh.clone(), org(), "audit/key").unwrap();
    let loaded = vault2.load(ORIGIN).await.unwrap();
    assert_eq!(loaded.verifier().to_vkey(), vkey);
    // Same key: a note signed by the loaded signer verifies under the created one's verifier.
    let note = loaded.sign_note("hello\n").unwrap();
    assert_eq!(
        created.verifier().open_note(note.as_bytes()).unwrap(),
        "hello\n"
    );
    // The seal binds the log's name: the same object does not open for another origin.
    assert!(matches!(
        vault2.load("audit.test/other").await,
        Err(Error::Crypto(_))
    ));

    // Crypto-shredding the org: the key is gone, with a typed error, in every process.
    keys.shred(&org()).await.unwrap();
    assert!(matches!(
        vault.load(ORIGIN).await,
        Err(Error::KeyDestroyed { .. })
    ));
    let after = KeyManager::new(store.clone(), kms);
    let vault3 = SigningKeyVault::new(store, after, org(), "audit/key").unwrap();
    let err = vault3.load(ORIGIN).await.unwrap_err();
    assert!(matches!(err, Error::KeyDestroyed { .. }), "{err:?}");
}

#[tokio::test]
async fn a_replaced_verifier_key_or_sealed_key_is_refused() {
    let store: Arc<dyn ObjectStore> = Arc::new(Memory::new());
    let (keys, _) = keys(store.clone()).await;
    let vault = SigningKeyVault::new(store.clone(), keys.clone(), org(), "audit/key").unwrap();
    vault.create(ORIGIN).await.unwrap();
    let other = SigningKeyVault::new(store.clone(), keys, org(), "audit/other").unwrap();
    let other_signer = other.create(ORIGIN).await.unwrap();

    // Someone publishes another key as this log's verifier key.
    store
        .put(
            &vault.verifier_key().unwrap(),
            Bytes::from(format!("{}\n", other_signer.verifier().to_vkey())),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    assert!(matches!(
        vault.load(ORIGIN).await,
        Err(Error::VerifierKeyMismatch { .. })
    ));

    // Someone moves another vault's sealed key here: the path is in the context.
    let moved = store.get(&other.sealed_key().unwrap()).await.unwrap();
    store
        .put(
            &vault.sealed_key().unwrap(),
            moved,
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    assert!(matches!(vault.load(ORIGIN).await, Err(Error::Crypto(_))));

    // One flipped bit in a sealed key.
    let mut bytes = store
        .get(&other.sealed_key().unwrap())
        .await
        .unwrap()
        .to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    store
        .put(
            &other.sealed_key().unwrap(),
            Bytes::from(bytes),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    assert!(matches!(other.load(ORIGIN).await, Err(Error::Crypto(_))));
}

#[tokio::test]
async fn payloads_are_sealed_bound_to_their_event_and_erased_with_every_version() {
    let store: Arc<dyn ObjectStore> = Arc::new(Memory::versioned());
    let (keys, _) = keys(store.clone()).await;
    let payloads =
        SealedPayloads::new(store.clone(), keys.clone(), org(), "audit/payloads").unwrap();
    let secret = br#"{"user":"alice@example.com"}"#;
    payloads.put(1, secret).await.unwrap();
    payloads.put(2, b"two").await.unwrap();
    assert!(matches!(
        payloads.put(1, b"again").await,
        Err(coffer_audit::Error::AlreadyExists(_))
    ));
    assert_eq!(payloads.get(1).await.unwrap().unwrap().as_slice(), secret);
    assert_eq!(payloads.get(3).await.unwrap(), None);
    assert_eq!(payloads.list().await.unwrap(), vec![1, 2]);

    // Sealed at rest: the stored bytes do not contain the personal value.
    let key1 = payloads.key(1).unwrap();
    let stored = store.get(&key1).await.unwrap();
    assert!(!stored.windows(9).any(|w| w == b"alice@exa"));

    // Moved to another event's name, a payload does not open.
    let key2 = payloads.key(2).unwrap();
    store
        .put(&key2, stored.clone(), &PutOptions::overwrite())
        .await
        .unwrap();
    assert!(matches!(
        payloads.get(2).await,
        Err(coffer_audit::Error::MalformedPayload(_))
    ));
    assert_eq!(store.list_versions(&key2).await.unwrap().len(), 2);

    // Erasure removes every version, the overwritten one included.
    assert!(payloads.erase(2).await.unwrap());
    assert!(store.list_versions(&key2).await.unwrap().is_empty());
    assert!(!payloads.erase(2).await.unwrap());
    assert_eq!(payloads.get(2).await.unwrap(), None);
    assert_eq!(payloads.list().await.unwrap(), vec![1]);

    // Shredding the org leaves the remaining payload unreadable, with the cause attached.
    keys.shred(&org()).await.unwrap();
    let err = payloads.get(1).await.unwrap_err();
    let coffer_audit::Error::Io { source, .. } = &err else {
        panic!("{err:?}");
    };
    let cause = source.get_ref().unwrap().downcast_ref::<Error>().unwrap();
    assert!(matches!(cause, Error::KeyDestroyed { .. }), "{cause:?}");
}

#[tokio::test]
async fn payloads_over_local_fs_erase_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalFs::new(dir.path()).unwrap();
    let file = local
        .objects_dir()
        .join("audit/payloads/00000000000000000007.payload");
    let store: Arc<dyn ObjectStore> = Arc::new(local);
    let (keys, _) = keys(store.clone()).await;
    let payloads = SealedPayloads::new(store, keys, org(), "audit/payloads").unwrap();
    payloads.put(7, b"seven").await.unwrap();
    assert!(file.exists());
    assert_eq!(payloads.get(7).await.unwrap().unwrap().as_slice(), b"seven");
    assert!(payloads.erase(7).await.unwrap());
    assert!(!file.exists());
    assert!(!payloads.erase(7).await.unwrap());
}

#[tokio::test]
async fn the_whole_trail_verifies_reports_erasure_and_detects_a_tampered_checkpoint() {
    let store: Arc<dyn ObjectStore> = Arc::new(Memory::versioned());
    let (keys, _) = keys(store.clone()).await;
    let checkpoints = StoreCheckpoints::new(store.clone(), "audit/checkpoints")
        .unwrap()
        .with_compliance_retention(Duration::from_secs(3600))
        .unwrap();
    let trail = Trail::open(store.clone(), keys.clone(), checkpoints, 4).await;
    for i in 0..10 {
        trail.log.record(draft(i)).await.unwrap();
    }
    // Erase the personal data of event 4 (it had a user name).
    let erasure = trail
        .log
        .erase_payload(
            4,
            EventDraft::new("gdpr.request", Outcome::Success).user("local", "dpo@example.com"),
        )
        .await
        .unwrap();
    assert_eq!(erasure.seq, 10);
    trail.log.shutdown().await.unwrap();

    // Personal data reached neither the log nor the store in clear.
    let text = String::from_utf8(trail.log_bytes()).unwrap();
    assert!(!text.contains("example.com"));
    let report = trail.verify().await;
    assert!(report.is_verified(), "{report}");
    assert_eq!(report.entries, 11);
    assert_eq!(report.unanchored, 0);
    assert_eq!(report.payloads.erased, vec![4]);
    assert!(report.payloads.erasure_pending.is_empty());
    // Events 0,2,3,6,8,9 carry personal fields, and the erasure request (10) has a user.
    assert_eq!(report.payloads.verified, 7);
    assert!(
        report
            .to_string()
            .contains("1 verified with payload erased")
    );
    assert!(trail.payloads.get(4).await.unwrap().is_none());
    assert!(
        store
            .list_versions(&trail.payloads.key(4).unwrap())
            .await
            .unwrap()
            .is_empty()
    );

    // The checkpoints are retained: each one's only version refuses deletion.
    let sizes = trail.checkpoints.list().await.unwrap();
    assert_eq!(sizes, vec![4, 8, 11]);
    let cp_key = trail.checkpoints.key(8).unwrap();
    let versions = store.list_versions(&cp_key).await.unwrap();
    assert!(
        store
            .delete_version(&cp_key, &versions[0].version)
            .await
            .is_err()
    );

    // An attacker with write access still can put a new version over a checkpoint (object
    // lock keeps old versions, it does not forbid new ones): the verifier notices.
    let mut forged = store.get(&cp_key).await.unwrap().to_vec();
    let pos = forged.iter().position(|&b| b == b'\n').unwrap() + 1;
    forged[pos] = if forged[pos] == b'9' { b'7' } else { b'9' };
    store
        .put(&cp_key, Bytes::from(forged), &PutOptions::overwrite())
        .await
        .unwrap();
    let report = trail.verify().await;
    let failure = report.failure.expect("a tampered checkpoint is detected");
    assert_eq!(failure.kind, FailureKind::BadCheckpoint, "{failure}");
    // And the retained original is still there to prove what was signed.
    let versions = store.list_versions(&cp_key).await.unwrap();
    assert_eq!(versions.len(), 2);
    let original = store
        .get_version(&cp_key, &versions[1].version)
        .await
        .unwrap();
    assert!(trail.verifier.open(&original).is_ok());

    // Reopening the log over the tampered store refuses to resume.
    let checkpoints = StoreCheckpoints::new(store.clone(), "audit/checkpoints").unwrap();
    let reopened = coffer_audit::AuditLog::builder(
        SigningKeyVault::new(store.clone(), keys.clone(), org(), "audit/key")
            .unwrap()
            .load(ORIGIN)
            .await
            .unwrap(),
        Arc::new(
            coffer_audit::FileSink::open(trail.log_dir(), Default::default())
                .await
                .unwrap(),
        ),
        Arc::new(checkpoints),
        trail.payloads.clone(),
    )
    .open()
    .await;
    assert!(matches!(reopened, Err(coffer_audit::Error::Tampered(_))));
}
