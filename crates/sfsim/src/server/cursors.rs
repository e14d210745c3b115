//! Server-side REST query cursors: what `nextRecordsUrl` points at. A cursor is
//! `<cursorId>-<offset>`; it expires after a period of inactivity, and each user may hold at
//! most a fixed number (10 in Salesforce): opening one more kills the oldest, whose next page
//! then fails with `INVALID_QUERY_LOCATOR` (simple-salesforce#95).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::SfId;

/// An open query: the full result and where the client is in it.
#[derive(Debug)]
pub(crate) struct Cursor {
    records: Vec<Value>,
    total_size: usize,
    /// Batch size the query was opened with.
    pub(crate) batch: usize,
    opened: u64,
    last_used: Instant,
}

/// A page of an open cursor.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) total_size: usize,
    pub(crate) records: Vec<Value>,
    /// The next `<cursorId>-<offset>`, or `None` when this page is the last.
    pub(crate) next: Option<String>,
}

/// Why a cursor page cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidLocator;

/// All open cursors of the org (one simulated user).
#[derive(Debug)]
pub(crate) struct Cursors {
    open: HashMap<String, Cursor>,
    ttl: Duration,
    max_open: usize,
    serial: u64,
}

impl Cursors {
    pub(crate) fn new(ttl: Duration, max_open: usize) -> Self {
        Self {
            open: HashMap::new(),
            ttl,
            max_open: max_open.max(1),
            serial: 0,
        }
    }

    fn expire(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.open
            .retain(|_, cursor| now.duration_since(cursor.last_used) < ttl);
    }

    /// Serves the first page of a fresh result; opens a cursor when more pages remain.
    pub(crate) fn first_page(
        &mut self,
        total_size: usize,
        records: Vec<Value>,
        batch: usize,
        now: Instant,
    ) -> Page {
        if records.len() <= batch {
            return Page {
                total_size,
                records,
                next: None,
            };
        }
        self.expire(now);
        while self.open.len() >= self.max_open {
            let oldest = self
                .open
                .iter()
                .min_by_key(|(_, cursor)| cursor.opened)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => self.open.remove(&id),
                None => break,
            };
        }
        self.serial += 1;
        let id = cursor_id(self.serial);
        let first: Vec<Value> = records.iter().take(batch).cloned().collect();
        self.open.insert(
            id.clone(),
            Cursor {
                records,
                total_size,
                batch,
                opened: self.serial,
                last_used: now,
            },
        );
        Page {
            total_size,
            records: first,
            next: Some(format!("{id}-{batch}")),
        }
    }

    /// Serves the page at `locator` (`<cursorId>-<offset>`) with `batch` records at most
    /// (`None`: the batch size the query was opened with).
    pub(crate) fn page(
        &mut self,
        locator: &str,
        batch: Option<usize>,
        now: Instant,
    ) -> Result<Page, InvalidLocator> {
        self.expire(now);
        let (id, offset) = locator.rsplit_once('-').ok_or(InvalidLocator)?;
        let offset: usize = offset.parse().map_err(|_| InvalidLocator)?;
        let cursor = self.open.get_mut(id).ok_or(InvalidLocator)?;
        if offset == 0 || offset >= cursor.records.len() {
            return Err(InvalidLocator);
        }
        let batch = batch.unwrap_or(cursor.batch);
        let end = offset.saturating_add(batch).min(cursor.records.len());
        let records = cursor
            .records
            .get(offset..end)
            .map(<[Value]>::to_vec)
            .unwrap_or_default();
        cursor.last_used = now;
        let total_size = cursor.total_size;
        let next = if end < cursor.records.len() {
            Some(format!("{id}-{end}"))
        } else {
            // Salesforce closes a cursor once its last page is read.
            self.open.remove(id);
            None
        };
        Ok(Page {
            total_size,
            records,
            next,
        })
    }

    /// Drops a cursor (the `INVALID_QUERY_LOCATOR` fault).
    pub(crate) fn kill(&mut self, locator: &str) {
        if let Some((id, _)) = locator.rsplit_once('-') {
            self.open.remove(id);
        }
    }
}

/// A query locator Id: key prefix `01g` (QueryLocator) and a serial, with its checksum.
fn cursor_id(serial: u64) -> String {
    let id15 = format!("01g{:012}", serial % 1_000_000_000_000);
    SfId::from_15(&id15)
        .map(|id| id.as_str().to_owned())
        .unwrap_or(id15)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn records(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({ "n": i })).collect()
    }

    #[test]
    fn pages_walk_the_result_and_close_the_cursor() {
        let mut cursors = Cursors::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        let first = cursors.first_page(5, records(5), 2, now);
        assert_eq!(first.records.len(), 2);
        let next = first.next.unwrap();
        assert!(next.ends_with("-2") && next.starts_with("01g"), "{next}");
        let second = cursors.page(&next, None, now).unwrap();
        assert_eq!(second.records, vec![json!({"n":2}), json!({"n":3})]);
        let third = cursors.page(&second.next.unwrap(), Some(10), now).unwrap();
        assert_eq!(third.records, vec![json!({"n":4})]);
        assert!(third.next.is_none());
        // The cursor is closed after its last page.
        assert_eq!(cursors.page(&next, None, now).unwrap_err(), InvalidLocator);
    }

    #[test]
    fn the_eleventh_cursor_kills_the_first_and_idle_ones_expire() {
        let mut cursors = Cursors::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        let nexts: Vec<String> = (0..11)
            .map(|_| cursors.first_page(3, records(3), 1, now).next.unwrap())
            .collect();
        assert_eq!(
            cursors.page(&nexts[0], None, now).unwrap_err(),
            InvalidLocator
        );
        assert!(cursors.page(&nexts[1], None, now).is_ok());
        let later = now + Duration::from_secs(61);
        assert_eq!(
            cursors.page(&nexts[2], None, later).unwrap_err(),
            InvalidLocator
        );
        assert_eq!(
            cursors.page("garbage", None, now).unwrap_err(),
            InvalidLocator
        );
    }
}
