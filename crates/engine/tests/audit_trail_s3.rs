//! The audit trail's storage against S3 (moto, started by `scripts/test`), including a bucket
//! with object lock. Without `COFFER_TEST_S3_ENDPOINT` these tests fail with testkit's message
//! naming `scripts/test`; they are never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_audit::{CheckpointStore, EventDraft, Outcome, PayloadStore};
use coffer_engine::audit_trail::StoreCheckpoints;
use coffer_store::{ObjectStore, S3, S3Config};
use common::*;

/// A service from testkit, or a failure carrying testkit's message; never a skip.
fn need<T>(service: Result<T, coffer_testkit::Error>) -> T {
    service.unwrap_or_else(|e| panic!("{e}"))
}

/// A store on a fresh bucket (with object lock, and so versioning, if asked).
async fn bucket(object_lock: bool) -> S3 {
    let admin = need(coffer_testkit::s3_client().await);
    let name = coffer_testkit::unique_name("engine-audit");
    admin
        .create_bucket()
        .bucket(&name)
        .object_lock_enabled_for_bucket(object_lock)
        .send()
        .await
        .unwrap();
    let config = S3Config::new(name, coffer_testkit::TEST_REGION).with_object_lock(object_lock);
    S3::from_client(admin, config)
}

#[tokio::test]
async fn checkpoints_over_s3_conform() {
    let s3 = bucket(false).await;
    let store: Arc<dyn ObjectStore> = Arc::new(s3);
    let checkpoints = StoreCheckpoints::new(store.clone(), "audit/checkpoints").unwrap();
    checkpoint_conformance(store, &checkpoints).await;
}

#[tokio::test]
async fn checkpoints_on_an_object_lock_bucket_are_retained_in_compliance_mode() {
    let s3 = bucket(true).await;
    let store: Arc<dyn ObjectStore> = Arc::new(s3.clone());
    let checkpoints = StoreCheckpoints::new(store.clone(), "audit/checkpoints")
        .unwrap()
        .with_compliance_retention(Duration::from_secs(3600))
        .unwrap();
    let before = SystemTime::now();
    checkpoint_conformance(store.clone(), &checkpoints).await;

    let key = checkpoints.key(1000).unwrap();
    let head = s3
        .client()
        .head_object()
        .bucket(&s3.config().bucket)
        .key(key.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("COMPLIANCE")
    );
    let until = SystemTime::try_from(*head.object_lock_retain_until_date().unwrap()).unwrap();
    assert!(until >= before + Duration::from_secs(3590), "{until:?}");

    let versions = store.list_versions(&key).await.unwrap();
    assert_eq!(versions.len(), 1);
    let denied = store.delete_version(&key, &versions[0].version).await;
    assert!(
        matches!(denied, Err(coffer_store::Error::PermissionDenied { .. })),
        "{denied:?}"
    );
}

#[tokio::test]
async fn the_whole_trail_on_an_object_lock_bucket_verifies_and_erases() {
    let s3 = bucket(true).await;
    let store: Arc<dyn ObjectStore> = Arc::new(s3);
    let (keys, _) = keys(store.clone()).await;
    let checkpoints = StoreCheckpoints::new(store.clone(), "audit/checkpoints")
        .unwrap()
        .with_compliance_retention(Duration::from_secs(3600))
        .unwrap();
    let trail = Trail::open(store.clone(), keys, checkpoints, 3).await;
    for i in 0..6 {
        trail.log.record(draft(i)).await.unwrap();
    }
    trail
        .log
        .erase_payload(2, EventDraft::new("gdpr.request", Outcome::Success))
        .await
        .unwrap();
    trail.log.shutdown().await.unwrap();

    let report = trail.verify().await;
    assert!(report.is_verified(), "{report}");
    assert_eq!(report.entries, 7);
    assert_eq!(report.payloads.erased, vec![2]);
    // Events 0, 3 and 4 keep their personal data (1 and 5 have none, 2 was erased).
    assert_eq!(report.payloads.verified, 3);
    // On a versioned bucket the erased payload leaves no version and no delete marker.
    let payload_key = trail.payloads.key(2).unwrap();
    assert!(store.list_versions(&payload_key).await.unwrap().is_empty());
    assert_eq!(trail.payloads.list().await.unwrap(), vec![0, 3, 4]);
    assert_eq!(trail.checkpoints.list().await.unwrap(), vec![3, 6, 7]);
}
