//! Shared helpers for the integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use coffer_audit::checkpoint_store::load_all;
use coffer_audit::{
    AuditConfig, AuditLog, CheckpointSigner, Clock, DirCheckpointStore, EventDraft, FileSink,
    FileSinkOptions, MemoryPayloadStore, NoteVerifier, Outcome, PayloadStore, Target, Timestamp,
};
use secrecy::SecretBox;

pub const ORIGIN: &str = "audit.test/acme";

/// A clock that advances one millisecond per reading.
pub struct StepClock(pub AtomicU64);

impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        let micros = self.0.fetch_add(1_000, Ordering::Relaxed);
        Timestamp::from_unix_micros(micros).unwrap()
    }
}

pub fn seed(byte: u8) -> SecretBox<[u8; 32]> {
    SecretBox::new(Box::new([byte; 32]))
}

pub fn signer() -> CheckpointSigner {
    CheckpointSigner::new(ORIGIN, &seed(42)).unwrap()
}

pub fn verifier() -> NoteVerifier {
    signer().verifier()
}

/// Event `i` of the standard test workload: a mix of user, system and IP-bearing events.
pub fn draft(i: u64) -> EventDraft {
    let mut d = EventDraft::new(
        ["backup.start", "record.restore", "key.rotate", "login"][(i % 4) as usize],
        [Outcome::Success, Outcome::Failure, Outcome::Denied][(i % 3) as usize],
    )
    .target(Target {
        org: Some(format!("00D00000000000{}", i % 3)),
        object: i.is_multiple_of(2).then(|| "Account".to_owned()),
        record: i.is_multiple_of(5).then(|| format!("001{i:015}")),
        ..Target::default()
    })
    .request_id(format!("req-{i}"));
    if i % 3 != 2 {
        d = d.user(
            "oidc:https://idp.test",
            format!("user{}@example.com", i % 7),
        );
    }
    if i % 2 == 1 {
        d = d.source_ip(format!("198.51.100.{}", i % 250).parse().unwrap());
    }
    d
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub log: AuditLog,
    pub payloads: Arc<MemoryPayloadStore>,
}

impl Fixture {
    pub fn log_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("log")
    }

    pub fn checkpoint_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("checkpoints")
    }

    pub fn log_bytes(&self) -> Vec<u8> {
        coffer_audit::read_log_dir(&self.log_dir()).unwrap()
    }

    pub async fn notes(&self) -> Vec<Vec<u8>> {
        let store = DirCheckpointStore::open(self.checkpoint_dir())
            .await
            .unwrap();
        load_all(&store)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }

    pub async fn payload_map(&self) -> BTreeMap<u64, Vec<u8>> {
        let mut map = BTreeMap::new();
        for seq in self.payloads.list().await.unwrap() {
            map.insert(seq, self.payloads.get(seq).await.unwrap().unwrap().to_vec());
        }
        map
    }
}

pub async fn open_log(
    dir: &std::path::Path,
    payloads: Arc<MemoryPayloadStore>,
    every: u64,
) -> Result<AuditLog, coffer_audit::Error> {
    AuditLog::builder(
        signer(),
        Arc::new(
            FileSink::open(
                dir.join("log"),
                FileSinkOptions {
                    entries_per_segment: 16,
                },
            )
            .await?,
        ),
        Arc::new(DirCheckpointStore::open(dir.join("checkpoints")).await?),
        payloads,
    )
    .config(AuditConfig {
        checkpoint_every_entries: every,
        checkpoint_interval: Duration::from_secs(3600),
    })
    .clock(Arc::new(StepClock(AtomicU64::new(1_700_000_000_000_000))))
    .open()
    .await
}

/// A log of `n` standard events with a checkpoint every `every`, in batches of 3.
pub async fn fixture(n: u64, every: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let payloads = Arc::new(MemoryPayloadStore::new());
    let log = open_log(dir.path(), payloads.clone(), every).await.unwrap();
    let mut i = 0;
    while i < n {
        let batch: Vec<EventDraft> = (i..(i + 3).min(n)).map(draft).collect();
        i += batch.len() as u64;
        log.record_batch(batch).await.unwrap();
    }
    Fixture { dir, log, payloads }
}
