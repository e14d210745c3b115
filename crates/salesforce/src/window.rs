//! Incremental windows on `SystemModstamp` with a compound `(SystemModstamp, Id)` cursor.
//!
//! `SystemModstamp` is not unique (bulk updates share a stamp), so a cursor on the stamp alone
//! either skips or repeats rows. The compound cursor resumes exactly after the last row read:
//! `((SystemModstamp = X AND Id > 'Y') OR SystemModstamp > X) … ORDER BY SystemModstamp, Id`.
//!
//! A new run does not start at the previous run's end but `lookback` (default 600 s) before
//! it: records can commit with a stamp older than a cursor already saved (airbyte#27146).
//! Rows read twice in that overlap are the same `(Id, SystemModstamp)` version, which the
//! repository stores once. The next run's start is this run's `end`, never the newest stamp
//! seen, so clock skew between client and org loses nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Record;
use crate::time::Timestamp;

/// The default overlap re-read at the start of an incremental run.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(600);

/// The last row read: resume strictly after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Its `SystemModstamp`.
    pub system_modstamp: Timestamp,
    /// Its `Id`.
    pub id: String,
}

impl Cursor {
    /// The cursor of a record (REST or Bulk shape), if it has `Id` and `SystemModstamp`.
    pub fn of(record: &Record) -> Option<Self> {
        let id = record.get("Id")?.as_str()?;
        let ts = Timestamp::parse(record.get("SystemModstamp")?.as_str()?)?;
        Some(Cursor {
            system_modstamp: ts,
            id: id.to_owned(),
        })
    }
}

/// An inclusive `SystemModstamp` range `[start, end]`, optionally resumed after a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First stamp included.
    pub start: Timestamp,
    /// Last stamp included.
    pub end: Timestamp,
    /// Resume strictly after this row (it lies within the window).
    pub after: Option<Cursor>,
}

impl Window {
    /// Everything up to `end`.
    pub fn full(end: Timestamp) -> Self {
        Window {
            start: Timestamp::SALESFORCE_EPOCH,
            end,
            after: None,
        }
    }

    /// The next incremental window: from `previous_end - lookback` to `end`.
    pub fn incremental(previous_end: Timestamp, end: Timestamp, lookback: Duration) -> Self {
        let back = i64::try_from(lookback.as_millis()).unwrap_or(i64::MAX);
        Window {
            start: previous_end.plus_millis(back.saturating_neg()),
            end,
            after: None,
        }
    }

    /// The SOQL condition selecting this window's rows.
    pub fn condition(&self) -> String {
        let end = self.end.to_soql();
        match &self.after {
            Some(c) => {
                let x = c.system_modstamp.to_soql();
                format!(
                    "((SystemModstamp = {x} AND Id > {}) OR SystemModstamp > {x}) AND SystemModstamp <= {end}",
                    soql_string(&c.id)
                )
            }
            None => format!(
                "SystemModstamp >= {} AND SystemModstamp <= {end}",
                self.start.to_soql()
            ),
        }
    }

    /// Splits the unread part into two halves, or `None` when it spans less than `min`.
    pub fn split(&self, min: Duration) -> Option<(Window, Window)> {
        let from = self
            .after
            .as_ref()
            .map_or(self.start, |c| c.system_modstamp.max(self.start));
        let span = self.end.millis().saturating_sub(from.millis());
        let min = i64::try_from(min.as_millis()).unwrap_or(i64::MAX).max(2);
        if span < min {
            return None;
        }
        let mid = Timestamp(from.millis() + span / 2);
        Some((
            Window {
                start: self.start,
                end: mid,
                after: self.after.clone(),
            },
            Window {
                start: mid.plus_millis(1),
                end: self.end,
                after: None,
            },
        ))
    }

    /// The same window resumed after `cursor`.
    pub fn resumed(&self, cursor: Cursor) -> Self {
        Window {
            start: self.start,
            end: self.end,
            after: Some(cursor),
        }
    }
}

/// A SOQL string literal: quotes and backslashes escaped.
pub fn soql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compound_cursor_condition() {
        let end = Timestamp::parse("2024-01-02T00:00:00.000Z").unwrap();
        let x = Timestamp::parse("2024-01-01T10:00:00.000Z").unwrap();
        let w = Window::full(end).resumed(Cursor {
            system_modstamp: x,
            id: "001000000000001AAA".into(),
        });
        assert_eq!(
            w.condition(),
            "((SystemModstamp = 2024-01-01T10:00:00.000Z AND Id > '001000000000001AAA') OR SystemModstamp > 2024-01-01T10:00:00.000Z) AND SystemModstamp <= 2024-01-02T00:00:00.000Z"
        );
        assert_eq!(
            Window::full(end).condition(),
            "SystemModstamp >= 1999-01-01T00:00:00.000Z AND SystemModstamp <= 2024-01-02T00:00:00.000Z"
        );
    }

    #[test]
    fn incremental_overlaps_by_lookback() {
        let prev = Timestamp(1_000_000_000);
        let w = Window::incremental(prev, Timestamp(2_000_000_000), DEFAULT_LOOKBACK);
        assert_eq!(w.start, Timestamp(1_000_000_000 - 600_000));
    }

    #[test]
    fn split_covers_the_window_without_overlap() {
        let w = Window {
            start: Timestamp(0),
            end: Timestamp(10_000),
            after: None,
        };
        let (a, b) = w.split(Duration::from_millis(1)).unwrap();
        assert_eq!((a.start, a.end), (Timestamp(0), Timestamp(5000)));
        assert_eq!((b.start, b.end), (Timestamp(5001), Timestamp(10_000)));
        let tiny = Window {
            start: Timestamp(0),
            end: Timestamp(1),
            after: None,
        };
        assert!(tiny.split(Duration::from_millis(1)).is_none());
        // A resumed window splits what is left after its cursor, and keeps the cursor.
        let r = w.resumed(Cursor {
            system_modstamp: Timestamp(8000),
            id: "a".into(),
        });
        let (a, b) = r.split(Duration::from_millis(1)).unwrap();
        assert_eq!(a.end, Timestamp(9000));
        assert!(a.after.is_some() && b.after.is_none());
        assert_eq!(b.start, Timestamp(9001));
    }

    #[test]
    fn escapes_literals_and_reads_cursor() {
        assert_eq!(soql_string("a'b\\c"), "'a\\'b\\\\c'");
        let mut r = Record::new();
        r.insert("Id".into(), "001000000000001AAA".into());
        r.insert(
            "SystemModstamp".into(),
            "2020-10-22T21:03:23.000+0000".into(),
        );
        let c = Cursor::of(&r).unwrap();
        assert_eq!(c.system_modstamp.to_rest(), "2020-10-22T21:03:23.000+0000");
        r.remove("SystemModstamp");
        assert!(Cursor::of(&r).is_none());
    }
}
