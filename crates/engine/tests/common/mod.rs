//! Shared helpers of the audit-trail tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use coffer_audit::checkpoint_store::load_all;
use coffer_audit::verify::{Options, Report};
use coffer_audit::{
    AuditConfig, AuditLog, CheckpointStore, EventDraft, FileSink, FileSinkOptions, NoteVerifier,
    Outcome, PayloadStore, Target,
};
use coffer_engine::audit_trail::{SealedPayloads, SigningKeyVault, StoreCheckpoints, verify_trail};
use coffer_keys::{KeyManager, LocalKms, OrgId, RingOptions};
use coffer_store::{ObjectKey, ObjectStore, PutOptions};

pub const ORIGIN: &str = "audit.test/acme";

pub fn org() -> OrgId {
    OrgId::new("00D000000000001").unwrap()
}

/// A key manager over `store` with a fresh local root key and a ring for [`org`].
pub async fn keys(store: Arc<dyn ObjectStore>) -> (KeyManager, Arc<LocalKms>) {
    let kms = Arc::new(LocalKms::generate().unwrap());
    let keys = KeyManager::new(store, kms.clone());
    keys.create_ring(&org(), RingOptions::new()).await.unwrap();
    (keys, kms)
}

/// Event `i`: every other one carries a user, every third a source IP.
pub fn draft(i: u64) -> EventDraft {
    let mut d = EventDraft::new(
        ["backup.start", "record.restore", "login"][(i % 3) as usize],
        Outcome::Success,
    )
    .target(Target {
        org: Some(org().to_string()),
        ..Target::default()
    });
    if i.is_multiple_of(2) {
        d = d.user("oidc:https://idp.test", format!("person{i}@example.com"));
    }
    if i.is_multiple_of(3) {
        d = d.source_ip(format!("198.51.100.{}", i % 250).parse().unwrap());
    }
    d
}

/// Everything an audit trail over one object store needs.
pub struct Trail {
    pub dir: tempfile::TempDir,
    pub log: AuditLog,
    pub verifier: NoteVerifier,
    pub checkpoints: Arc<StoreCheckpoints>,
    pub payloads: Arc<SealedPayloads>,
}

impl Trail {
    /// A log whose signing key, checkpoints and payloads all live in `store`; checkpoints
    /// every `every` entries, and retained if `checkpoints` says so.
    pub async fn open(
        store: Arc<dyn ObjectStore>,
        keys: KeyManager,
        checkpoints: StoreCheckpoints,
        every: u64,
    ) -> Self {
        let vault = SigningKeyVault::new(store.clone(), keys.clone(), org(), "audit/key").unwrap();
        let signer = vault.load_or_create(ORIGIN).await.unwrap();
        let verifier = vault.published_verifier().await.unwrap();
        let checkpoints = Arc::new(checkpoints);
        let payloads = Arc::new(SealedPayloads::new(store, keys, org(), "audit/payloads").unwrap());
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::builder(
            signer,
            Arc::new(
                FileSink::open(dir.path(), FileSinkOptions::default())
                    .await
                    .unwrap(),
            ),
            checkpoints.clone(),
            payloads.clone(),
        )
        .config(AuditConfig {
            checkpoint_every_entries: every,
            ..AuditConfig::default()
        })
        .open()
        .await
        .unwrap();
        Trail {
            dir,
            log,
            verifier,
            checkpoints,
            payloads,
        }
    }

    pub fn log_bytes(&self) -> Vec<u8> {
        coffer_audit::read_log_dir(self.dir.path()).unwrap()
    }

    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }

    pub async fn verify(&self) -> Report {
        verify_trail(
            &self.log_bytes(),
            self.checkpoints.as_ref() as &dyn CheckpointStore,
            &self.verifier,
            Some(self.payloads.as_ref() as &dyn PayloadStore),
            Options::default(),
        )
        .await
        .unwrap()
    }
}

pub fn key(name: &str) -> ObjectKey {
    ObjectKey::new(name).unwrap()
}

/// What every checkpoint store must do, over an object store.
pub async fn checkpoint_conformance(store: Arc<dyn ObjectStore>, checkpoints: &StoreCheckpoints) {
    // Objects that are not checkpoints of this folder are ignored.
    for foreign in [
        "audit/checkpoints/README",
        "audit/checkpoints/nested/00000000000000000005.checkpoint",
        "audit/other/00000000000000000006.checkpoint",
    ] {
        store
            .put(
                &key(foreign),
                Bytes::from_static(b"x"),
                &PutOptions::overwrite(),
            )
            .await
            .unwrap();
    }
    assert!(checkpoints.list().await.unwrap().is_empty());
    checkpoints.put(1000, b"thousand").await.unwrap();
    checkpoints.put(9, b"nine").await.unwrap();
    checkpoints.put(10, b"ten").await.unwrap();
    assert!(matches!(
        checkpoints.put(1000, b"forged").await,
        Err(coffer_audit::Error::AlreadyExists(_))
    ));
    assert_eq!(checkpoints.get(1000).await.unwrap().unwrap(), b"thousand");
    assert_eq!(checkpoints.get(11).await.unwrap(), None);
    assert_eq!(checkpoints.list().await.unwrap(), vec![9, 10, 1000]);
    assert_eq!(
        load_all(checkpoints).await.unwrap(),
        vec![
            (9, b"nine".to_vec()),
            (10, b"ten".to_vec()),
            (1000, b"thousand".to_vec())
        ]
    );
    assert_eq!(
        checkpoints.key(10).unwrap().as_str(),
        "audit/checkpoints/00000000000000000010.checkpoint"
    );
}
