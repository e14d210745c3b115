//! `coffer audit verify` with checkpoints in an object store: in S3 (moto, started by
//! `scripts/test`; without `COFFER_TEST_S3_ENDPOINT` the test fails, it is never skipped) and
//! in a `LocalFs` store's directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use coffer_audit::{AuditConfig, AuditLog, EventDraft, FileSink, FileSinkOptions, Outcome};
use coffer_engine::audit_trail::{
    CHECKPOINT_PREFIX, PAYLOAD_PREFIX, SIGNING_KEY_PREFIX, SealedPayloads, SigningKeyVault,
    StoreCheckpoints,
};
use coffer_keys::{KeyManager, LocalKms, OrgId, RingOptions};
use coffer_store::{LocalFs, ObjectStore, S3, S3Config};

const ORIGIN: &str = "audit.test/cli";

/// Writes a 5-event log (checkpoints every 2 entries and at shutdown) into `log_dir`, its
/// checkpoints, payloads and signing key into `store`; returns the verifier key text.
async fn write_trail(store: Arc<dyn ObjectStore>, log_dir: &Path) -> String {
    let org = OrgId::new("00D000000000001").unwrap();
    let keys = KeyManager::new(store.clone(), Arc::new(LocalKms::generate().unwrap()));
    keys.create_ring(&org, RingOptions::new()).await.unwrap();
    let vault =
        SigningKeyVault::new(store.clone(), keys.clone(), org.clone(), SIGNING_KEY_PREFIX).unwrap();
    let signer = vault.create(ORIGIN).await.unwrap();
    let vkey = signer.verifier().to_vkey();
    let log = AuditLog::builder(
        signer,
        Arc::new(
            FileSink::open(log_dir, FileSinkOptions::default())
                .await
                .unwrap(),
        ),
        Arc::new(StoreCheckpoints::new(store.clone(), CHECKPOINT_PREFIX).unwrap()),
        Arc::new(SealedPayloads::new(store, keys, org, PAYLOAD_PREFIX).unwrap()),
    )
    .config(AuditConfig {
        checkpoint_every_entries: 2,
        ..AuditConfig::default()
    })
    .open()
    .await
    .unwrap();
    for i in 0..5 {
        log.record(EventDraft::new("login", Outcome::Success).user("local", format!("u{i}")))
            .await
            .unwrap();
    }
    log.shutdown().await.unwrap();
    vkey
}

fn coffer(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), text)
}

/// The checkpoint `note` with its tree-size line changed: a forgery without the key.
fn forge(note: &[u8]) -> Vec<u8> {
    let mut forged = note.to_vec();
    let pos = forged.iter().position(|&b| b == b'\n').unwrap() + 1;
    forged[pos] = if forged[pos] == b'9' { b'7' } else { b'9' };
    forged
}

#[tokio::test]
async fn verifies_checkpoints_in_s3_and_detects_a_forged_one() {
    let endpoint =
        coffer_testkit::endpoint(coffer_testkit::Service::S3).unwrap_or_else(|e| panic!("{e}"));
    let admin = coffer_testkit::s3_client()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bucket = coffer_testkit::unique_name("cli-audit");
    admin.create_bucket().bucket(&bucket).send().await.unwrap();
    let s3 = S3::from_client(
        admin,
        S3Config::new(bucket.as_str(), coffer_testkit::TEST_REGION),
    );
    let store: Arc<dyn ObjectStore> = Arc::new(s3);
    let log_dir = tempfile::tempdir().unwrap();
    let vkey = write_trail(store.clone(), log_dir.path()).await;

    let location = format!("s3://{bucket}/{CHECKPOINT_PREFIX}");
    let log = log_dir.path().to_str().unwrap();
    let base = [
        "audit",
        "verify",
        "--log",
        log,
        "--public-key",
        &vkey,
        "--s3-endpoint",
        &endpoint,
        "--s3-region",
        coffer_testkit::TEST_REGION,
        "--checkpoints",
        &location,
    ];
    let (code, text) = coffer(&base);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("checkpoints verified: 3 (latest at size 5)"),
        "{text}"
    );

    // A forged checkpoint in the bucket: exit 1, naming the bad checkpoint.
    let checkpoints = StoreCheckpoints::new(store.clone(), CHECKPOINT_PREFIX).unwrap();
    let key = checkpoints.key(4).unwrap();
    let note = store.get(&key).await.unwrap();
    store
        .put(
            &key,
            forge(&note).into(),
            &coffer_store::PutOptions::overwrite(),
        )
        .await
        .unwrap();
    let (code, text) = coffer(&base);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAILED"), "{text}");

    // A bucket that does not exist: exit 2 (inputs unreadable), not "verified".
    let missing = format!(
        "s3://{}/{CHECKPOINT_PREFIX}",
        coffer_testkit::unique_name("absent")
    );
    let mut args = base.to_vec();
    *args.last_mut().unwrap() = &missing;
    let (code, text) = coffer(&args);
    assert_eq!(code, 2, "{text}");
}

#[tokio::test]
async fn a_local_fs_store_folder_is_a_checkpoint_directory() {
    let root = tempfile::tempdir().unwrap();
    let local = LocalFs::new(root.path()).unwrap();
    let dir = local.objects_dir().join(CHECKPOINT_PREFIX);
    let log_dir = tempfile::tempdir().unwrap();
    let vkey = write_trail(Arc::new(local), log_dir.path()).await;
    let (code, text) = coffer(&[
        "audit",
        "verify",
        "--log",
        log_dir.path().to_str().unwrap(),
        "--public-key",
        &vkey,
        "--checkpoints",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("checkpoints verified: 3"), "{text}");
}
