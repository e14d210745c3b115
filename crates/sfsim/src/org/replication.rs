//! `GET /sobjects/T/updated` and `/deleted`: the replication windows.
//!
//! As Salesforce documents them: seconds of `start` and `end` are ignored (both are cut to the
//! minute); `start` may not be more than 30 days back (`INVALID_REPLICATION_DATE`) nor after
//! `end`; more than 600,000 ids give `EXCEEDED_ID_LIMIT`; objects that are not replicateable
//! are refused; `/deleted` covers the Recycle Bin's 15 days at most and reports
//! `earliestDateAvailable`, which moves forward when the Recycle Bin is emptied.
//! `latestDateCovered` is the end of the window, or now when the window reaches into the
//! future.

use serde_json::{Value, json};

use super::ApiError;
use super::model::Store;
use crate::time::{self, DAY, MILLIS, datetime_millis};

/// The most ids one call may return.
pub(crate) const MAX_IDS: usize = 600_000;

/// How far back `start` may reach.
const MAX_AGE_MILLIS: i64 = 30 * DAY * MILLIS;

/// How long deleted records stay in the Recycle Bin (and in `/deleted`).
const RECYCLE_BIN_MILLIS: i64 = 15 * DAY * MILLIS;

const MINUTE: i64 = 60 * MILLIS;

struct Window {
    table: usize,
    start: i64,
    end: i64,
    latest_covered: i64,
}

fn window(store: &Store, object: &str, start: &str, end: &str) -> Result<Window, ApiError> {
    let table = store.table_or_404(object)?;
    let def = &store.tables[table].def;
    if !def.replicateable {
        return Err(ApiError::new(
            400,
            "INVALID_TYPE",
            format!("Replication is not supported for object {}", def.name),
        ));
    }
    let parse = |name: &str, value: &str| {
        time::parse_datetime(value.trim()).ok_or_else(|| {
            ApiError::new(
                400,
                "INVALID_REPLICATION_DATE",
                format!("{name} date is invalid: {value}"),
            )
        })
    };
    // Seconds are ignored: both ends are cut to the minute.
    let start = parse("start", start)?.div_euclid(MINUTE) * MINUTE;
    let end = parse("end", end)?.div_euclid(MINUTE) * MINUTE;
    let now = store.now_millis();
    if start > end {
        return Err(ApiError::new(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate by more than one minute",
        ));
    }
    if now - start > MAX_AGE_MILLIS {
        return Err(ApiError::new(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate cannot be more than 30 days ago",
        ));
    }
    Ok(Window {
        table,
        start,
        end,
        latest_covered: end.min(now.div_euclid(MINUTE) * MINUTE),
    })
}

fn too_many() -> ApiError {
    ApiError::new(
        400,
        "EXCEEDED_ID_LIMIT",
        format!("The result exceeds the limit of {MAX_IDS} ids; use a smaller window"),
    )
}

/// Records (live or deleted) whose SystemModstamp is in `[start, end)`, in Id order.
pub(crate) fn updated(
    store: &Store,
    object: &str,
    start: &str,
    end: &str,
) -> Result<Value, ApiError> {
    let w = window(store, object, start, end)?;
    let table = &store.tables[w.table];
    let mut ids = Vec::new();
    for (r, row) in table.rows.iter().enumerate() {
        if row.deleted_at.is_some() {
            continue;
        }
        if table
            .modstamp(r)
            .is_some_and(|ms| ms >= w.start && ms < w.end)
        {
            if ids.len() == MAX_IDS {
                return Err(too_many());
            }
            ids.push(Value::from(row.id.as_str()));
        }
    }
    Ok(json!({"ids": ids, "latestDateCovered": datetime_millis(w.latest_covered)}))
}

/// Records deleted in `[start, end)` and still in the Recycle Bin.
pub(crate) fn deleted(
    store: &Store,
    object: &str,
    start: &str,
    end: &str,
) -> Result<Value, ApiError> {
    let w = window(store, object, start, end)?;
    let table = &store.tables[w.table];
    let now = store.now_millis();
    let horizon = (now - RECYCLE_BIN_MILLIS).div_euclid(MINUTE) * MINUTE;
    let earliest = store
        .recycle_emptied_at
        .map_or(horizon, |emptied| emptied.div_euclid(MINUTE) * MINUTE)
        .max(horizon);
    let mut records = Vec::new();
    for row in &table.rows {
        let Some(at) = row.deleted_at else { continue };
        if at >= w.start.max(earliest) && at < w.end {
            if records.len() == MAX_IDS {
                return Err(too_many());
            }
            records.push(json!({"id": row.id.as_str(), "deletedDate": datetime_millis(at)}));
        }
    }
    Ok(json!({
        "deletedRecords": records,
        "earliestDateAvailable": datetime_millis(earliest),
        "latestDateCovered": datetime_millis(w.latest_covered),
    }))
}
