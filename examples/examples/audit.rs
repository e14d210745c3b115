//! coffer-audit on its own: record events (with personal data kept apart), erase one
//! person's data, export, and verify everything as a third party would.
//!
//! Run with `cargo run -p coffer-examples --example audit [DIR]`. With a DIR the files stay
//! there, to try `coffer audit verify --log DIR/log --checkpoints DIR/checkpoints
//! --payloads DIR/payloads --public-key '<printed key>'` on them.

use std::sync::Arc;

use coffer_audit::verify::{Options, verify_log};
use coffer_audit::{
    AuditLog, CheckpointSigner, DirCheckpointStore, DirPayloadStore, EventDraft, ExportFormat,
    ExportRequest, FileSink, FileSinkOptions, Outcome, Target, export, verify_export,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let dir: std::path::PathBuf = match std::env::args_os().nth(1) {
        Some(kept) => kept.into(),
        None => temp.path().to_owned(),
    };
    // A real deployment unwraps this seed with coffer-keys; the example makes a fresh one.
    let signer = CheckpointSigner::new("audit.example/acme", &CheckpointSigner::generate_seed()?)?;
    let verifier = signer.verifier();
    println!("log public key: {}", verifier.to_vkey());

    let log = AuditLog::builder(
        signer,
        Arc::new(FileSink::open(dir.join("log"), FileSinkOptions::default()).await?),
        Arc::new(DirCheckpointStore::open(dir.join("checkpoints")).await?),
        Arc::new(DirPayloadStore::open(dir.join("payloads")).await?),
    )
    .open()
    .await?;

    let org = Target {
        org: Some("00D5e000000abcdEAA".into()),
        ..Target::default()
    };
    let login = log
        .record(
            EventDraft::new("login", Outcome::Success)
                .user("local", "alice@example.com")
                .source_ip("203.0.113.7".parse()?),
        )
        .await?;
    log.record(
        EventDraft::new("backup.start", Outcome::Success)
            .user("local", "alice@example.com")
            .target(org.clone()),
    )
    .await?;
    log.record(EventDraft::new("backup.finish", Outcome::Success).target(org))
        .await?;

    // Alice asks to be forgotten: her login's personal data goes, the proofs stay.
    log.erase_payload(
        login.seq,
        EventDraft::new("erase", Outcome::Success).user("local", "dpo"),
    )
    .await?;

    let jsonl = export(
        &log,
        &ExportRequest::all(ExportFormat::JsonLines),
        EventDraft::new("export", Outcome::Success).user("local", "auditor"),
    )
    .await?;
    let exported = verify_export(&jsonl, &verifier).map_err(|f| f.to_string())?;
    println!(
        "export of {} events verified against the checkpoint of size {}",
        exported.indices.len(),
        exported.checkpoint.size
    );
    log.shutdown().await?;

    // A third party needs only the files and the public key.
    let bytes = coffer_audit::offline::read_log(&dir.join("log"))?;
    let notes = coffer_audit::offline::read_checkpoint_dir(&dir.join("checkpoints"))?;
    let payloads = coffer_audit::offline::read_payload_dir(&dir.join("payloads"))?;
    let report = verify_log(
        &bytes,
        &notes,
        &verifier,
        Some(&payloads),
        Options::default(),
    );
    print!("{report}");
    if !report.is_verified() {
        return Err("the log did not verify".into());
    }
    Ok(())
}
