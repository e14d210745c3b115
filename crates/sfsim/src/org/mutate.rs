//! Seeded changes for incremental-backup tests and benchmarks: per object, a percentage of the
//! live records is updated, deleted (soft, with master-detail cascade) and created (copies of
//! random live records with new Ids). Records are stamped in groups that share one
//! SystemModstamp, as bulk jobs and triggers do in real orgs; stamps start after the org's
//! "now" and only move forward.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::model::{Cell, FieldType, Row, Store};
use super::{Mutation, MutationSummary, ObjectMutation};
use crate::time::MILLIS;

/// How far back of the wall clock a mutation's stamps may start: changes land in the last five
/// minutes, as writes that committed while a backup was running do in a real org (which is what
/// an incremental reader's lookback, 600 s by default, is for), and never in the future.
const BACKDATE_MILLIS: i64 = 300 * MILLIS;

/// Hands out stamps: groups of 1 to 8 records share one, then the clock moves 0 to 2 seconds,
/// but never past `cap` (the wall clock when the mutation started): a real org does not stamp
/// records in the future.
struct Stamper {
    next: i64,
    cap: i64,
    left_in_group: u32,
}

impl Stamper {
    fn stamp(&mut self, rng: &mut ChaCha8Rng) -> i64 {
        if self.left_in_group == 0 {
            self.next =
                (self.next + MILLIS * rng.random_range(1..=3i64)).min(self.cap.max(self.next));
            self.left_in_group = rng.random_range(1..=8u32);
        }
        self.left_in_group -= 1;
        self.next
    }
}

/// How many of `live` records `pct` percent is (rounded, never more than `live`).
fn share(live: usize, pct: f64) -> usize {
    if !pct.is_finite() || pct <= 0.0 {
        return 0;
    }
    let n = (live as f64 * pct.min(100.0) / 100.0).round();
    // In 0..=live by the clamp above.
    (n as usize).min(live)
}

/// The first `n` entries of a seeded shuffle of `items`.
fn choose(rng: &mut ChaCha8Rng, items: &mut [usize], n: usize) {
    for i in 0..n.min(items.len()) {
        let j = rng.random_range(i..items.len());
        items.swap(i, j);
    }
}

pub(crate) fn mutate(store: &mut Store, m: &Mutation) -> MutationSummary {
    let mut rng = ChaCha8Rng::seed_from_u64(m.seed);
    let wall = super::model::wall_clock_millis().div_euclid(MILLIS) * MILLIS;
    // After the last stamp given out (stamps only move forward), otherwise a little in the past.
    let start = store.now_millis().div_euclid(MILLIS) * MILLIS;
    let start = if start > wall {
        start
    } else {
        (wall - BACKDATE_MILLIS).max(store.last_stamp)
    };
    let mut stamper = Stamper {
        next: start,
        cap: wall,
        left_in_group: 0,
    };
    let mut summary = MutationSummary::default();
    let mut per_table = vec![ObjectMutation::default(); store.tables.len()];
    for t in 0..store.tables.len() {
        // ContentDocument follows its ContentVersion in Salesforce; it is not changed alone.
        if store.tables[t].def.name == "ContentDocument" {
            continue;
        }
        let mut live: Vec<usize> = (0..store.tables[t].rows.len())
            .filter(|&r| store.tables[t].rows.row(r).deleted_at.is_none())
            .collect();
        let updates = share(live.len(), m.update_pct);
        let deletes = if store.tables[t].def.deletable {
            share(live.len(), m.delete_pct).min(live.len() - updates)
        } else {
            0
        };
        let creates = if store.tables[t].def.createable && store.tables[t].def.key_prefix.is_some()
        {
            share(live.len(), m.create_pct)
        } else {
            0
        };
        choose(&mut rng, &mut live, updates + deletes);
        for &r in &live[..updates] {
            let stamp = stamper.stamp(&mut rng);
            update_row(store, t, r, stamp, &mut rng);
            per_table[t].updated += 1;
        }
        for &r in &live[updates..updates + deletes] {
            if store.tables[t].rows.row(r).deleted_at.is_some() {
                continue;
            }
            let stamp = stamper.stamp(&mut rng);
            let mut counts = Vec::new();
            if store.delete_at(t, r, stamp, &mut None, &mut counts).is_ok() {
                for (table, n) in counts {
                    per_table[table].deleted += n;
                }
            }
        }
        let sources: Vec<usize> = (0..store.tables[t].rows.len())
            .filter(|&r| store.tables[t].rows.row(r).deleted_at.is_none())
            .collect();
        for n in 0..creates {
            if sources.is_empty() {
                break;
            }
            let source = sources[rng.random_range(0..sources.len())];
            let stamp = stamper.stamp(&mut rng);
            if copy_row(store, t, source, stamp, m.seed, n) {
                per_table[t].created += 1;
            }
        }
    }
    store.advance_clock(stamper.next);
    for (t, counts) in per_table.into_iter().enumerate() {
        if counts != ObjectMutation::default() {
            summary.updated += counts.updated;
            summary.deleted += counts.deleted;
            summary.created += counts.created;
            summary
                .objects
                .insert(store.tables[t].def.name.clone(), counts);
        }
    }
    summary
}

/// Changes one editable text or number field of row `r` (if it has one) and stamps it.
fn update_row(store: &mut Store, t: usize, r: usize, stamp: i64, rng: &mut ChaCha8Rng) {
    let def = &store.tables[t].def;
    let editable: Vec<usize> = def
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.updateable
                && !f.unique
                && matches!(
                    f.ty,
                    FieldType::String
                        | FieldType::Textarea
                        | FieldType::Double
                        | FieldType::Currency
                )
                && !f.name.ends_with("Street")
        })
        .map(|(i, _)| i)
        .collect();
    let mut row = store.tables[t].rows.row(r).to_row();
    if !editable.is_empty() {
        let f = editable[rng.random_range(0..editable.len())];
        let field = &def.fields[f];
        let revision = rng.random_range(1..1_000_000u32);
        row.cells[f] = match (&row.cells[f], field.ty) {
            (Cell::Num(n), _) => {
                let value =
                    n.as_f64().unwrap_or(0.0) * f64::from(rng.random_range(90..=110u32)) / 100.0;
                serde_json::Number::from_f64(value.round()).map_or(Cell::Null, Cell::Num)
            }
            (_, FieldType::Double | FieldType::Currency) => {
                serde_json::Number::from_f64(f64::from(revision)).map_or(Cell::Null, Cell::Num)
            }
            (old, _) => {
                let base = old.as_str().unwrap_or("");
                let mut text = format!("{base} (rev {revision})").trim().to_owned();
                let max = field.length.max(16) as usize;
                if text.chars().count() > max {
                    text = format!("rev {revision}");
                }
                Cell::Str(text.into())
            }
        };
    }
    store.stamp_modified(t, &mut row, stamp);
    store.replace_row(t, r, row, &mut None);
}

/// Appends a copy of row `source` with a new Id, created at `stamp`; false when no Id is left.
fn copy_row(store: &mut Store, t: usize, source: usize, stamp: i64, seed: u64, n: usize) -> bool {
    let Ok(id) = store.allocate_id(t) else {
        return false;
    };
    let source_id = store.tables[t].rows.row(source).id;
    let def = &store.tables[t].def;
    let audit = store.tables[t].audit;
    let mut row = Row {
        id,
        cells: store.tables[t].rows.row(source).cells.to_vec(),
        deleted_at: None,
    };
    let mut blob_field = None;
    for (f, field) in def.fields.iter().enumerate() {
        if field.name == "Id" {
            row.cells[f] = Cell::Str(id.as_str().into());
        } else if field.unique {
            // Unique values (external ids, usernames) must stay unique.
            if let Some(old) = row.cells[f].as_str() {
                row.cells[f] = Cell::Str(format!("{old}-m{seed}-{n}").into());
            }
        } else if field.ty == FieldType::Base64 && !row.cells[f].is_null() {
            row.cells[f] = Cell::Str(
                format!(
                    "/services/data/{}/sobjects/{}/{id}/{}",
                    crate::API_VERSION,
                    def.name,
                    field.name
                )
                .into(),
            );
            blob_field = Some(field.name.clone());
        }
    }
    if let Some(c) = audit.is_deleted {
        row.cells[c] = Cell::Bool(false);
    }
    if let Some(c) = audit.created_date {
        row.cells[c] = Cell::DateTime(stamp);
    }
    if let (Some(c), Some(user)) = (audit.created_by, store.run_as) {
        row.cells[c] = Cell::Str(user.as_str().into());
    }
    store.stamp_modified(t, &mut row, stamp);
    let name = def.name.clone();
    store.insert_row(t, row, &mut None);
    if let Some(Ok((body, _))) =
        blob_field.map(|field| store.blob(&name, source_id.as_str(), &field))
    {
        store.written_blobs.insert(id, body);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_round_and_clamp() {
        assert_eq!(share(1000, 2.5), 25);
        assert_eq!(share(10, 150.0), 10);
        assert_eq!(share(10, -1.0), 0);
        assert_eq!(share(10, f64::NAN), 0);
        assert_eq!(share(3, 50.0), 2);
    }

    #[test]
    fn stamps_come_in_groups_and_advance() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut stamper = Stamper {
            next: 0,
            cap: i64::MAX,
            left_in_group: 0,
        };
        let stamps: Vec<i64> = (0..200).map(|_| stamper.stamp(&mut rng)).collect();
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
        assert!(stamps.windows(2).any(|w| w[0] == w[1]));
        assert!(stamps.iter().all(|s| s % MILLIS == 0));
    }

    #[test]
    fn stamps_stop_at_the_cap() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut stamper = Stamper {
            next: 0,
            cap: 10 * MILLIS,
            left_in_group: 0,
        };
        let stamps: Vec<i64> = (0..500).map(|_| stamper.stamp(&mut rng)).collect();
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(stamps.last(), Some(&(10 * MILLIS)));
    }
}
