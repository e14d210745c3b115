//! SQL sinks (SQLite and PostgreSQL through sqlx): one row per entry, in one transaction per
//! batch.
//!
//! Table (created by [`SqlSink::migrate`]):
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS coffer_audit_log (
//!     seq  BIGINT PRIMARY KEY,   -- the event's sequence number
//!     line TEXT   NOT NULL       -- its canonical bytes, exactly as hashed
//! )
//! ```
//!
//! The primary key refuses a second row for a sequence number, and each batch checks inside
//! its transaction that it continues the table (`max(seq) + 1`), so concurrent writers
//! cannot interleave a gap or a fork. The database is a convenient mirror for queries; the
//! signed checkpoints, not the database's permissions, are what make it tamper-evident.

use async_trait::async_trait;

use crate::Error;
use crate::sink::{AuditSink, LogBatch};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS coffer_audit_log (\
    seq BIGINT PRIMARY KEY, line TEXT NOT NULL)";

#[derive(Debug, Clone)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// A sink writing to a SQL table.
#[derive(Debug, Clone)]
pub struct SqlSink {
    pool: Pool,
    name: String,
}

fn sql_err(e: sqlx::Error) -> Error {
    Error::Sql(e.to_string())
}

fn to_i64(seq: u64) -> Result<i64, Error> {
    i64::try_from(seq).map_err(|_| Error::Sql(format!("sequence number {seq} exceeds BIGINT")))
}

fn line_text(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|_| Error::Sql("entry is not UTF-8".into()))
}

fn check_next(max: Option<i64>, first: u64) -> Result<(), Error> {
    let expected = match max {
        Some(m) => {
            u64::try_from(m).map_err(|_| Error::Sql("negative sequence number in table".into()))?
                + 1
        }
        None => 0,
    };
    if expected != first {
        return Err(Error::OutOfSequence {
            expected,
            got: first,
        });
    }
    Ok(())
}

fn assemble(rows: Vec<(i64, String)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (_, line) in rows {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

impl SqlSink {
    /// A sink over a SQLite pool.
    #[cfg(feature = "sqlite")]
    pub fn sqlite(pool: sqlx::SqlitePool) -> Self {
        Self {
            pool: Pool::Sqlite(pool),
            name: "sqlite".into(),
        }
    }

    /// A sink over a PostgreSQL pool.
    #[cfg(feature = "postgres")]
    pub fn postgres(pool: sqlx::PgPool) -> Self {
        Self {
            pool: Pool::Postgres(pool),
            name: "postgres".into(),
        }
    }

    /// Creates the table if it does not exist.
    pub async fn migrate(&self) -> Result<(), Error> {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => sqlx::query(CREATE).execute(pool).await.map(|_| ()),
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => sqlx::query(CREATE).execute(pool).await.map(|_| ()),
        }
        .map_err(sql_err)
    }
}

#[async_trait]
impl AuditSink for SqlSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn append(&self, batch: &LogBatch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                // BEGIN IMMEDIATE takes the write lock up front, so the max(seq) check and
                // the inserts are one atomic step; dropping the transaction rolls it back.
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql_err)?;
                let max: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM coffer_audit_log")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(sql_err)?;
                check_next(max, batch.first_seq())?;
                for (seq, line) in batch.entries() {
                    sqlx::query("INSERT INTO coffer_audit_log (seq, line) VALUES (?, ?)")
                        .bind(to_i64(seq)?)
                        .bind(line_text(line)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(sql_err)?;
                }
                tx.commit().await.map_err(sql_err)
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(sql_err)?;
                // Serialise writers on the table for the duration of the batch.
                sqlx::query("LOCK TABLE coffer_audit_log IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .map_err(sql_err)?;
                let max: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM coffer_audit_log")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(sql_err)?;
                check_next(max, batch.first_seq())?;
                for (seq, line) in batch.entries() {
                    sqlx::query("INSERT INTO coffer_audit_log (seq, line) VALUES ($1, $2)")
                        .bind(to_i64(seq)?)
                        .bind(line_text(line)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(sql_err)?;
                }
                tx.commit().await.map_err(sql_err)
            }
        }
    }

    async fn read_log(&self) -> Result<Vec<u8>, Error> {
        const SELECT: &str = "SELECT seq, line FROM coffer_audit_log ORDER BY seq";
        let rows: Vec<(i64, String)> = match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => sqlx::query_as(SELECT).fetch_all(pool).await,
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => sqlx::query_as(SELECT).fetch_all(pool).await,
        }
        .map_err(sql_err)?;
        Ok(assemble(rows))
    }
}
