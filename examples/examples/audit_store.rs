//! The audit trail kept in an object store: the checkpoint-signing key sealed under the org's
//! key ring, checkpoints as create-only objects, personal data sealed per event; one person's
//! data erased, and everything verified as a third party would.
//!
//! Run with `cargo run -p coffer-examples --example audit_store [DIR]`. The store is a `LocalFs`
//! under DIR (a temporary directory without it), so afterwards
//! `coffer audit verify --log DIR/log --checkpoints DIR/store/objects/audit/checkpoints
//! --public-key DIR/store/objects/audit/key/signing-key.vkey` checks the same files.

use std::sync::Arc;

use coffer_audit::verify::Options;
use coffer_audit::{AuditLog, EventDraft, FileSink, FileSinkOptions, Outcome, Target};
use coffer_engine::audit_trail::{
    CHECKPOINT_PREFIX, PAYLOAD_PREFIX, SIGNING_KEY_PREFIX, SealedPayloads, SigningKeyVault,
    StoreCheckpoints, verify_trail,
};
use coffer_keys::{KeyManager, LocalKms, OrgId, RingOptions};
use coffer_store::{LocalFs, ObjectStore};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir: std::path::PathBuf = match std::env::args_os().nth(1) {
        Some(kept) => kept.into(),
        None => temp.path().to_owned(),
    };
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFs::new(dir.join("store"))?);
    // A real deployment loads the root key with LocalKms::from_default_env() or uses AwsKms.
    let keys = KeyManager::new(store.clone(), Arc::new(LocalKms::generate()?));
    let org = OrgId::new("00D5g000004SAMPLE")?;
    keys.create_ring(&org, RingOptions::new()).await?;

    let vault = SigningKeyVault::new(store.clone(), keys.clone(), org.clone(), SIGNING_KEY_PREFIX)?;
    let signer = vault.load_or_create("audit.example/acme").await?;
    let verifier = vault.published_verifier().await?;
    println!("log public key: {}", verifier.to_vkey());

    let checkpoints = Arc::new(StoreCheckpoints::new(store.clone(), CHECKPOINT_PREFIX)?);
    let payloads = Arc::new(SealedPayloads::new(
        store.clone(),
        keys.clone(),
        org.clone(),
        PAYLOAD_PREFIX,
    )?);
    let log = AuditLog::builder(
        signer,
        Arc::new(FileSink::open(dir.join("log"), FileSinkOptions::default()).await?),
        checkpoints.clone(),
        payloads.clone(),
    )
    .open()
    .await?;

    let target = Target {
        org: Some(org.to_string()),
        ..Target::default()
    };
    let mut alice = None;
    for (user, ip) in [
        ("alice@example.com", "203.0.113.7"),
        ("bob@example.com", "198.51.100.2"),
    ] {
        let receipt = log
            .record(
                EventDraft::new("backup.start", Outcome::Success)
                    .user("oidc:https://idp.example", user)
                    .source_ip(ip.parse()?)
                    .target(target.clone()),
            )
            .await?;
        alice.get_or_insert(receipt.seq);
    }
    // Alice asks to be forgotten: an erasure event is recorded, her sealed opening deleted.
    let alice = alice.ok_or("no event recorded")?;
    log.erase_payload(
        alice,
        EventDraft::new("gdpr.request", Outcome::Success).user("local", "dpo@example.com"),
    )
    .await?;
    log.shutdown().await?;

    let bytes = coffer_audit::read_log_dir(&dir.join("log"))?;
    let report = verify_trail(
        &bytes,
        checkpoints.as_ref(),
        &verifier,
        Some(payloads.as_ref()),
        Options::default(),
    )
    .await?;
    print!("{report}");
    if !report.is_verified() || report.payloads.erased != [alice] {
        return Err("the trail did not verify as expected".into());
    }
    Ok(())
}
