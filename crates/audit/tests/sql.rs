//! SQL sinks: SQLite in a temporary file, PostgreSQL on the real server that `scripts/test`
//! starts (a missing `COFFER_TEST_POSTGRES_URL` fails this test, it is never skipped).
#![cfg(all(feature = "sqlite", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::str::FromStr;
use std::sync::Arc;

use coffer_audit::sink::LogBatch;
use coffer_audit::verify::{Options, verify_log};
use coffer_audit::{
    AuditLog, AuditSink, Error, MemoryCheckpointStore, MemoryPayloadStore, SqlSink,
};
use common::*;

/// Writes a log through `sink`, then checks the stored rows verify and the sink's ordering
/// guarantees hold.
async fn exercise(sink: SqlSink) {
    sink.migrate().await.unwrap();
    sink.migrate().await.unwrap(); // idempotent
    let sink = Arc::new(sink);
    let checkpoints = Arc::new(MemoryCheckpointStore::new());
    let log = AuditLog::builder(
        signer(),
        sink.clone(),
        checkpoints.clone(),
        Arc::new(MemoryPayloadStore::new()),
    )
    .open()
    .await
    .unwrap();
    for chunk in (0..25u64).collect::<Vec<_>>().chunks(4) {
        log.record_batch(chunk.iter().map(|&i| draft(i)).collect())
            .await
            .unwrap();
    }
    log.shutdown().await.unwrap();

    let bytes = sink.read_log().await.unwrap();
    let notes: Vec<Vec<u8>> = coffer_audit::checkpoint_store::load_all(checkpoints.as_ref())
        .await
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let report = verify_log(&bytes, &notes, &verifier(), None, Options::default());
    assert!(report.is_verified(), "{report}");
    assert_eq!(report.entries, 25);

    // A batch that does not continue the table is refused, and nothing of it is stored.
    let mut gap = LogBatch::new(30);
    gap.push(b"{}".to_vec());
    assert!(matches!(
        sink.append(&gap).await,
        Err(Error::OutOfSequence {
            expected: 25,
            got: 30
        })
    ));
    let mut replay = LogBatch::new(24);
    replay.push(b"{}".to_vec());
    assert!(sink.append(&replay).await.is_err());
    assert_eq!(sink.read_log().await.unwrap(), bytes);

    // Reopening over the same table resumes where it stopped.
    let reopened = AuditLog::builder(
        signer(),
        sink.clone(),
        checkpoints,
        Arc::new(MemoryPayloadStore::new()),
    )
    .open()
    .await
    .unwrap();
    assert_eq!(reopened.record(draft(25)).await.unwrap().seq, 25);
}

#[tokio::test]
async fn sqlite_sink_stores_a_verifiable_log() {
    let dir = tempfile::tempdir().unwrap();
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("audit.db"))
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    exercise(SqlSink::sqlite(pool)).await;
}

#[tokio::test]
async fn postgres_sink_stores_a_verifiable_log() {
    let url = coffer_testkit::postgres_url().unwrap_or_else(|e| panic!("{e}"));
    // A schema of its own keeps parallel and repeated runs apart.
    let schema = coffer_testkit::unique_name("audit").replace('-', "_");
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let options = sqlx::postgres::PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    exercise(SqlSink::postgres(pool.clone())).await;
    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}
