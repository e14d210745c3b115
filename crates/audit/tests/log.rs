//! The log writer and the verifier together: round trips, resumption, erasure, fail-closed
//! behaviour and the verifier's findings on tampered logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use coffer_audit::sink::LogBatch;
use coffer_audit::verify::{FailureKind, Options, verify_log};
use coffer_audit::{
    AuditLog, AuditSink, Error, Event, EventDraft, MemoryCheckpointStore, MemoryPayloadStore,
    Outcome, PayloadStore,
};
use common::*;

fn verify(bytes: &[u8], notes: &[Vec<u8>]) -> coffer_audit::Report {
    verify_log(bytes, notes, &verifier(), None, Options::default())
}

#[tokio::test]
async fn a_clean_log_verifies_with_checkpoints_every_n_and_at_shutdown() {
    let f = fixture(25, 10).await;
    f.log.shutdown().await.unwrap();
    let notes = f.notes().await;
    // Batches of 3: checkpoints once 10 are uncovered (after 12, 24), then at shutdown (25).
    let sizes: Vec<u64> = notes
        .iter()
        .map(|n| verifier().open(n).unwrap().size)
        .collect();
    assert_eq!(sizes, vec![12, 24, 25]);
    let report = verify(&f.log_bytes(), &notes);
    assert!(report.is_verified(), "{report}");
    assert_eq!(report.entries, 25);
    assert_eq!(report.checkpoints_verified, 3);
    assert_eq!(report.unanchored, 0);
    // Segments of 16 entries: the log spans two files.
    assert_eq!(std::fs::read_dir(f.log_dir()).unwrap().count(), 2);
    let payloads = f.payload_map().await;
    let with_payloads = verify_log(
        &f.log_bytes(),
        &notes,
        &verifier(),
        Some(&payloads),
        Options::default(),
    );
    assert!(with_payloads.is_verified(), "{with_payloads}");
    assert_eq!(with_payloads.payloads.verified, payloads.len() as u64);
    assert!(matches!(f.log.record(draft(99)).await, Err(Error::Closed)));
}

#[tokio::test]
async fn personal_data_never_reaches_the_log() {
    let f = fixture(8, 100).await;
    f.log.shutdown().await.unwrap();
    let text = String::from_utf8(f.log_bytes()).unwrap();
    assert!(!text.contains("example.com"));
    assert!(!text.contains("198.51.100"));
    assert!(text.contains("\"org\":\"00D000000000001\""));
}

#[tokio::test]
async fn reopening_resumes_and_signs_a_crashed_tail() {
    let f = fixture(7, 100).await;
    // No shutdown: simulate a crash by dropping the writer with 7 unsigned entries.
    let Fixture { dir, log, payloads } = f;
    drop(log);
    let reopened = open_log(dir.path(), payloads.clone(), 100).await.unwrap();
    assert_eq!(reopened.size().await, 7);
    let r = reopened.record(draft(7)).await.unwrap();
    assert_eq!(r.seq, 7);
    reopened.shutdown().await.unwrap();
    let f = Fixture {
        dir,
        log: reopened,
        payloads,
    };
    let notes = f.notes().await;
    let sizes: Vec<u64> = notes
        .iter()
        .map(|n| verifier().open(n).unwrap().size)
        .collect();
    assert_eq!(sizes, vec![7, 8]);
    let report = verify(&f.log_bytes(), &notes);
    assert!(report.is_verified(), "{report}");
}

#[tokio::test]
async fn an_unanchored_tail_is_reported_and_optionally_allowed() {
    let f = fixture(5, 100).await;
    let notes = f.notes().await;
    let strict = verify(&f.log_bytes(), &notes);
    assert_eq!(
        strict.failure.as_ref().unwrap().kind,
        FailureKind::UnanchoredTail
    );
    assert_eq!(strict.failure.as_ref().unwrap().first_bad_entry, Some(0));
    let lenient = verify_log(
        &f.log_bytes(),
        &notes,
        &verifier(),
        None,
        Options {
            allow_unanchored_tail: true,
        },
    );
    assert!(lenient.is_verified());
    assert_eq!(lenient.unanchored, 5);
}

#[tokio::test]
async fn erasure_keeps_proofs_and_is_distinct_from_tampering() {
    let f = fixture(12, 5).await;
    // Event 0 has a user; event 1 has a user and an IP.
    f.log
        .erase_payload(
            1,
            EventDraft::new("ignored", Outcome::Success).user("local", "dpo@example.com"),
        )
        .await
        .unwrap();
    f.log.shutdown().await.unwrap();
    let notes = f.notes().await;
    let bytes = f.log_bytes();
    let erasure = Event::parse(bytes.split(|&c| c == b'\n').nth(12).unwrap()).unwrap();
    assert_eq!(erasure.action, "audit.erasure");
    assert_eq!(erasure.target.event, Some(1));

    let mut payloads = f.payload_map().await;
    let report = verify_log(
        &bytes,
        &notes,
        &verifier(),
        Some(&payloads),
        Options::default(),
    );
    assert!(report.is_verified(), "{report}");
    assert_eq!(report.payloads.erased, vec![1]);
    assert!(
        report
            .to_string()
            .contains("1 verified with payload erased")
    );

    // A payload that disappears without an erasure event is tampering.
    let removed = payloads.remove(&0).unwrap();
    let report = verify_log(
        &bytes,
        &notes,
        &verifier(),
        Some(&payloads),
        Options::default(),
    );
    let failure = report.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::PayloadMissing);
    assert_eq!(failure.first_bad_entry, Some(0));

    // A payload that says something else than what was committed is tampering too.
    let mut forged = coffer_audit::Opening::from_bytes(&removed).unwrap();
    forged.user = Some("someone-else@example.com".into());
    payloads.insert(0, forged.to_bytes().to_vec());
    let report = verify_log(
        &bytes,
        &notes,
        &verifier(),
        Some(&payloads),
        Options::default(),
    );
    assert_eq!(report.failure.unwrap().kind, FailureKind::PayloadMismatch);

    assert!(matches!(
        f.log
            .erase_payload(999, EventDraft::new("x", Outcome::Success))
            .await,
        Err(Error::UnknownEvent(999)) | Err(Error::Closed)
    ));
}

#[tokio::test]
async fn recomputing_an_event_is_caught_by_the_checkpoint() {
    let f = fixture(20, 8).await;
    f.log.shutdown().await.unwrap();
    let notes = f.notes().await;
    let bytes = f.log_bytes();
    let mut lines: Vec<Vec<u8>> = bytes
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    // A careful forger keeps the line canonical and valid.
    let mut event = Event::parse(&lines[10]).unwrap();
    event.outcome = Outcome::Success;
    event.action = "nothing.happened".into();
    lines[10] = event.to_canonical();
    let forged: Vec<u8> = lines
        .iter()
        .flat_map(|l| [l.as_slice(), b"\n"].concat())
        .collect();
    let report = verify(&forged, &notes);
    let failure = report.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::RootMismatch);
    // Checkpoints at 9 and 18 (batches of 3): the change lies after entry 9.
    assert_eq!(failure.first_bad_entry, Some(9));
    assert_eq!(report.checkpoints_verified, 1);
}

#[tokio::test]
async fn structural_faults_are_pinpointed() {
    let f = fixture(10, 100).await;
    f.log.shutdown().await.unwrap();
    let notes = f.notes().await;
    let bytes = f.log_bytes();
    let lines: Vec<&[u8]> = bytes
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let join = |ls: &[&[u8]]| -> Vec<u8> { ls.iter().flat_map(|l| [*l, b"\n"].concat()).collect() };

    let mut dropped = lines.clone();
    dropped.remove(4);
    let failure = verify(&join(&dropped), &notes).failure.unwrap();
    assert_eq!(
        (failure.kind, failure.first_bad_entry),
        (FailureKind::OutOfSequence, Some(4))
    );

    let mut swapped = lines.clone();
    swapped.swap(2, 6);
    let failure = verify(&join(&swapped), &notes).failure.unwrap();
    assert_eq!(
        (failure.kind, failure.first_bad_entry),
        (FailureKind::OutOfSequence, Some(2))
    );

    let cut = join(&lines[..8]);
    let failure = verify(&cut, &notes).failure.unwrap();
    assert_eq!(
        (failure.kind, failure.first_bad_entry),
        (FailureKind::Truncated, Some(8))
    );

    let torn = &bytes[..bytes.len() - 5];
    let failure = verify(torn, &notes).failure.unwrap();
    assert_eq!(
        (failure.kind, failure.first_bad_entry),
        (FailureKind::TruncatedLine, Some(9))
    );

    let mut garbled = bytes.clone();
    let at = lines[0].len() + 1 + 3;
    garbled[at] = b'X';
    let failure = verify(&garbled, &notes).failure.unwrap();
    assert_eq!(
        (failure.kind, failure.first_bad_entry),
        (FailureKind::MalformedEntry, Some(1))
    );

    // A checkpoint by another key is rejected outright.
    let stranger = coffer_audit::CheckpointSigner::new(ORIGIN, &seed(7)).unwrap();
    let foreign = stranger
        .sign(&coffer_audit::Checkpoint {
            origin: ORIGIN.into(),
            size: 10,
            root: [0; 32],
        })
        .unwrap();
    let failure = verify(&bytes, &[foreign.into_bytes()]).failure.unwrap();
    assert_eq!(failure.kind, FailureKind::BadCheckpoint);
}

#[tokio::test]
async fn a_tampered_log_is_not_resumed() {
    let f = fixture(6, 3).await;
    f.log.shutdown().await.unwrap();
    let Fixture { dir, payloads, .. } = f;
    let segment = dir
        .path()
        .join("log")
        .join(coffer_audit::sink::segment_file_name(0));
    let text = std::fs::read_to_string(&segment).unwrap();
    std::fs::write(&segment, text.replace("\"req-2\"", "\"req-X\"")).unwrap();
    match open_log(dir.path(), payloads, 3).await {
        Err(Error::Tampered(f)) => assert_eq!(f.kind, FailureKind::RootMismatch),
        other => panic!("expected Tampered, got {other:?}"),
    }
}

struct RefusingSink;

#[async_trait]
impl AuditSink for RefusingSink {
    fn name(&self) -> &str {
        "refusing"
    }
    async fn append(&self, _: &LogBatch) -> Result<(), Error> {
        Err(Error::SinkFailed {
            sink: "refusing".into(),
            reason: "read-only file system".into(),
        })
    }
    async fn read_log(&self) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn the_log_fails_closed_when_no_sink_can_write() {
    let payloads = Arc::new(MemoryPayloadStore::new());
    let log = AuditLog::builder(
        signer(),
        Arc::new(RefusingSink),
        Arc::new(MemoryCheckpointStore::new()),
        payloads.clone(),
    )
    .open()
    .await
    .unwrap();
    let err = log.record(draft(0)).await.unwrap_err();
    assert!(matches!(err, Error::SinkFailed { .. }), "{err}");
    assert_eq!(log.size().await, 0);
    // The opening stored ahead of the event was withdrawn.
    assert!(payloads.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn invalid_drafts_are_refused() {
    let f = fixture(0, 10).await;
    let bad_action = EventDraft::new("Not An Action", Outcome::Success);
    assert!(matches!(
        f.log.record(bad_action).await,
        Err(Error::InvalidEvent(_))
    ));
    let injected = EventDraft::new("login", Outcome::Success).detail("ok\nCEF:0|forged");
    assert!(matches!(
        f.log.record(injected).await,
        Err(Error::InvalidEvent(_))
    ));
    let long_user = EventDraft::new("login", Outcome::Success).user("local", "u".repeat(300));
    assert!(matches!(
        f.log.record(long_user).await,
        Err(Error::InvalidEvent(_))
    ));
    assert_eq!(f.log.size().await, 0);
}

#[tokio::test(start_paused = true)]
async fn checkpoints_follow_the_interval_through_tick() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryCheckpointStore::new());
    let log = AuditLog::builder(
        signer(),
        Arc::new(
            coffer_audit::FileSink::open(dir.path(), coffer_audit::FileSinkOptions::default())
                .await
                .unwrap(),
        ),
        store.clone(),
        Arc::new(MemoryPayloadStore::new()),
    )
    .config(coffer_audit::AuditConfig {
        checkpoint_every_entries: 1000,
        checkpoint_interval: std::time::Duration::from_secs(60),
    })
    .open()
    .await
    .unwrap();
    log.record(draft(0)).await.unwrap();
    assert_eq!(log.tick().await.unwrap(), None);
    tokio::time::advance(std::time::Duration::from_secs(61)).await;
    assert_eq!(log.tick().await.unwrap(), Some(1));
    assert_eq!(log.tick().await.unwrap(), None);
    use coffer_audit::CheckpointStore as _;
    assert_eq!(store.list().await.unwrap(), vec![1]);
}
