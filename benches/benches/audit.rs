//! coffer-audit throughput: appending to the file sink with a checkpoint every 1,000 events
//! (one core: a current-thread runtime), and verifying a 1,000,000-event log.
//!
//! In criterion's test mode (`cargo bench -- --test`) the verified log has 10,000 events: that
//! run only proves the bench still works.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use coffer_audit::checkpoint::Checkpoint;
use coffer_audit::event::{Actor, Commitment, Event, Outcome, Target};
use coffer_audit::merkle::{Frontier, leaf_hash};
use coffer_audit::verify::{Options, verify_log};
use coffer_audit::{
    AuditConfig, AuditLog, CheckpointSigner, EventDraft, FileSink, FileSinkOptions,
    MemoryCheckpointStore, MemoryPayloadStore, Timestamp,
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use secrecy::SecretBox;

const ORIGIN: &str = "bench.example/audit";

fn signer() -> CheckpointSigner {
    CheckpointSigner::new(ORIGIN, &SecretBox::new(Box::new([5u8; 32]))).unwrap()
}

/// A realistic event: a user with an IP (two commitments, one stored opening) acting on a
/// record of an org.
fn draft(i: u64) -> EventDraft {
    EventDraft::new("record.restore", Outcome::Success)
        .user(
            "oidc:https://idp.example.com",
            format!("user{}@example.com", i % 97),
        )
        .source_ip(format!("198.51.100.{}", i % 250).parse().unwrap())
        .target(Target {
            org: Some("00D5e000000abcdEAA".into()),
            object: Some("Account".into()),
            record: Some(format!("001{i:015}")),
            ..Target::default()
        })
        .request_id(format!("req-{i:016x}"))
}

fn append(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = rt.block_on(async {
        AuditLog::builder(
            signer(),
            Arc::new(
                FileSink::open(dir.path(), FileSinkOptions::default())
                    .await
                    .unwrap(),
            ),
            Arc::new(MemoryCheckpointStore::new()),
            Arc::new(MemoryPayloadStore::new()),
        )
        .config(AuditConfig {
            checkpoint_every_entries: 1_000,
            checkpoint_interval: Duration::from_secs(3600),
        })
        .open()
        .await
        .unwrap()
    });
    let mut group = c.benchmark_group("audit_append_file_sink");
    for batch in [100u64, 1_000] {
        group.throughput(Throughput::Elements(batch));
        let mut next = 0u64;
        group.bench_function(format!("batch_{batch}_checkpoint_every_1000"), |b| {
            b.iter_batched(
                || {
                    let drafts: Vec<EventDraft> = (next..next + batch).map(draft).collect();
                    next += batch;
                    drafts
                },
                |drafts| rt.block_on(log.record_batch(drafts)).unwrap(),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// Events in the verified log: 1,000,000, or 10,000 in test mode.
fn log_events() -> u64 {
    if coffer_benches::smoke() {
        10_000
    } else {
        1_000_000
    }
}

/// Builds a `log_events()`-event log with a signed checkpoint every 1,000 events, directly (the
/// writer's own speed is measured above).
fn million_event_log() -> (Vec<u8>, Vec<Vec<u8>>) {
    let signer = signer();
    let mut log = Vec::with_capacity(400 * log_events() as usize);
    let mut notes = Vec::new();
    let mut frontier = Frontier::new();
    for seq in 0..log_events() {
        let event = Event {
            seq,
            ts: Timestamp::from_unix_micros(1_700_000_000_000_000 + seq * 1_000).unwrap(),
            actor: Actor {
                idp: "oidc:https://idp.example.com".into(),
                user: Some(Commitment(leaf_hash(&seq.to_le_bytes()))),
            },
            action: "record.restore".into(),
            target: Target {
                org: Some("00D5e000000abcdEAA".into()),
                object: Some("Account".into()),
                record: Some(format!("001{seq:015}")),
                ..Target::default()
            },
            ip: Some(Commitment(leaf_hash(&(!seq).to_le_bytes()))),
            outcome: Outcome::Success,
            request_id: Some(format!("req-{seq:016x}")),
            detail: None,
        };
        let start = log.len();
        event.write_canonical(&mut log);
        frontier.push(leaf_hash(&log[start..]));
        log.push(b'\n');
        if frontier.size().is_multiple_of(1_000) {
            let cp = Checkpoint {
                origin: ORIGIN.into(),
                size: frontier.size(),
                root: frontier.root(),
            };
            notes.push(signer.sign(&cp).unwrap().into_bytes());
        }
    }
    (log, notes)
}

fn verify(c: &mut Criterion) {
    let (log, notes) = million_event_log();
    let verifier = signer().verifier();
    let mut group = c.benchmark_group("audit_verify");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(log_events()));
    group.bench_function("log_1m_events_1000_checkpoints", |b| {
        b.iter(|| {
            let report = verify_log(&log, &notes, &verifier, None, Options::default());
            assert!(report.is_verified(), "{report}");
            report
        });
    });
    group.finish();
}

criterion_group!(benches, append, verify);
criterion_main!(benches);
