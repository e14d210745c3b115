//! Progress bars of `coffer backup` and `coffer demo`: the engine's [`Progress`] calls drawn
//! with `indicatif`, one bar per object while it is read and one line per finished object.
//!
//! Bars go to stderr and only when stderr is a terminal: stdout keeps the table or the
//! `--json` summary that scripts read, and a pipe, a log file or CI never sees an escape code.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use coffer_engine::backup::{ObjectSummary, Progress, ProgressSink};
use indicatif::{
    HumanBytes, HumanCount, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle,
};

/// A full read of an object whose record count the org reported: a bar that fills up.
const COUNTED: &str =
    "{prefix:<24} {msg} [{bar:30}] {human_pos}/{human_len} records ({per_sec:0}), {elapsed}";
/// Any other read (no count, or an incremental read of some of the object): a spinner.
const UNCOUNTED: &str = "{prefix:<24} {msg} {spinner} {human_pos} records ({per_sec:0}), {elapsed}";
/// How often a bar redraws by itself, so the spinner and the elapsed time move while a slow
/// page is read.
const TICK: Duration = Duration::from_millis(120);

/// The [`Progress`] of a backup as bars, one per object being read. The engine reads several
/// objects at once, each on its own task, so calls for different objects come from different
/// threads: bars are keyed by object behind a lock.
pub(crate) struct Bars {
    multi: MultiProgress,
    active: Mutex<HashMap<String, ObjectBar>>,
}

/// The bar of an object being read.
struct ObjectBar {
    bar: ProgressBar,
    /// `bulk` or `rest`, shown in the bar's message.
    method: &'static str,
}

impl Bars {
    /// Bars on stderr when `wanted` (not `--no-progress`) and stderr is a terminal; `None`
    /// otherwise, so the engine is told nothing and nothing is drawn.
    pub(crate) fn on_stderr(wanted: bool) -> Option<ProgressSink> {
        // `ProgressDrawTarget::stderr` hides itself off a terminal too; checking here as well
        // keeps that guarantee ours rather than a library default's.
        if !wanted || !std::io::stderr().is_terminal() {
            return None;
        }
        Some(ProgressSink(Arc::new(Self::new(
            ProgressDrawTarget::stderr(),
        ))))
    }

    fn new(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            active: Mutex::new(HashMap::new()),
        }
    }

    fn active(&self) -> MutexGuard<'_, HashMap<String, ObjectBar>> {
        // A panic while the map was held leaves it consistent (each operation is one insert or
        // remove), so a poisoned lock is still usable: progress never fails a backup.
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A constant template as a style; the tests parse every template, so the default style is
/// only a guard against a template `indicatif` stops accepting.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The bar's message: how the object is read and the plaintext bytes stored so far.
fn message(method: &str, logical_bytes: u64) -> String {
    // `HumanBytes` ignores width, so it is padded as a string: the bar does not jump about.
    format!(
        "{method:<4} {:>11} stored",
        HumanBytes(logical_bytes).to_string()
    )
}

/// The line left behind when an object is done.
fn finished_line(object: &str, summary: &ObjectSummary) -> String {
    format!(
        "{object:<24} {:<4} {:<11} {} seen, {} new, {} stored, {:.1} s",
        summary.method,
        summary.read,
        HumanCount(summary.records_seen),
        HumanCount(summary.new_records),
        HumanBytes(summary.logical_bytes),
        summary.duration_ms as f64 / 1000.0
    )
}

impl Progress for Bars {
    fn started(
        &self,
        object: &str,
        expected: Option<u64>,
        read: &'static str,
        method: &'static str,
    ) {
        // The count is the whole object's; only a full read returns about that many rows. An
        // incremental (or resumed) read returns the changes, so a bar against the object's
        // count would stop far short of its end: a spinner tells the truth instead.
        let expected = expected.filter(|_| read == "full");
        let bar = match expected {
            Some(len) => ProgressBar::new(len).with_style(style(COUNTED)),
            None => ProgressBar::no_length().with_style(style(UNCOUNTED)),
        }
        .with_prefix(object.to_owned())
        .with_message(message(method, 0));
        let bar = self.multi.add(bar);
        bar.enable_steady_tick(TICK);
        if let Some(previous) = self
            .active()
            .insert(object.to_owned(), ObjectBar { bar, method })
        {
            // The same object started again: its earlier bar is stale.
            previous.bar.finish_and_clear();
            self.multi.remove(&previous.bar);
        }
    }

    fn advanced(&self, object: &str, records_seen: u64, logical_bytes: u64) {
        let active = self.active();
        let Some(ObjectBar { bar, method }) = active.get(object) else {
            return;
        };
        // The org's count is an estimate; a bar never shows more records than its length.
        if bar.length().is_some_and(|len| records_seen > len) {
            bar.set_length(records_seen);
        }
        bar.set_position(records_seen);
        bar.set_message(message(method, logical_bytes));
    }

    fn finished(&self, object: &str, summary: &ObjectSummary) {
        if let Some(ObjectBar { bar, .. }) = self.active().remove(object) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        // Printed above the active bars, and nowhere when the target is hidden. A terminal
        // that cannot be written to loses a progress line, not the backup.
        let _ = self.multi.println(finished_line(object, summary));
    }
}

impl Drop for Bars {
    /// A run that failed leaves bars that never finished: clear them before the error is
    /// printed.
    fn drop(&mut self) {
        for (_, ObjectBar { bar, .. }) in self.active().drain() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;

    /// A terminal that keeps what is written to it.
    #[derive(Debug, Clone, Default)]
    struct Capture(Arc<Mutex<String>>);

    impl Capture {
        fn text(&self) -> String {
            self.0.lock().unwrap().clone()
        }
    }

    impl TermLike for Capture {
        fn width(&self) -> u16 {
            160
        }
        fn height(&self) -> u16 {
            40
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            let mut text = self.0.lock().unwrap();
            text.push_str(s);
            text.push('\n');
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn bar(bars: &Bars, object: &str) -> ProgressBar {
        bars.active()[object].bar.clone()
    }

    fn summary(
        read: &'static str,
        method: &'static str,
        records: u64,
        bytes: u64,
    ) -> ObjectSummary {
        ObjectSummary {
            read,
            method,
            records_seen: records,
            new_records: records - 2,
            logical_bytes: bytes,
            duration_ms: 1_500,
            ..ObjectSummary::default()
        }
    }

    #[test]
    fn every_template_parses() {
        for template in [COUNTED, UNCOUNTED] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn two_interleaved_objects_each_have_their_own_bar() {
        let capture = Capture::default();
        let bars = Bars::new(ProgressDrawTarget::term_like(Box::new(capture.clone())));

        bars.started("Account", Some(1_000), "full", "bulk");
        bars.started("Task", None, "incremental", "rest");
        bars.advanced("Account", 400, 3 * 1024);
        bars.advanced("Task", 7, 100);
        bars.advanced("Account", 900, 2 * 1024 * 1024);

        let (account, task) = (bar(&bars, "Account"), bar(&bars, "Task"));
        assert_eq!((account.position(), account.length()), (900, Some(1_000)));
        assert_eq!(account.prefix(), "Account");
        assert_eq!(account.message(), "bulk    2.00 MiB stored");
        assert_eq!((task.position(), task.length()), (7, None));
        assert_eq!(task.message(), "rest       100 B stored");

        // More rows than the org's estimate stretch the bar instead of overflowing it.
        bars.advanced("Account", 1_200, 3 * 1024 * 1024);
        assert_eq!((account.position(), account.length()), (1_200, Some(1_200)));

        bars.finished("Account", &summary("full", "bulk", 1_200, 3 * 1024 * 1024));
        assert!(account.is_finished());
        assert!(!task.is_finished());
        assert_eq!(bars.active().keys().collect::<Vec<_>>(), ["Task"]);
        // Calls for a finished object change nothing.
        bars.advanced("Account", 5_000, 0);
        assert_eq!(account.position(), 1_200);

        bars.advanced("Task", 9, 200);
        assert_eq!(task.position(), 9);
        bars.finished("Task", &summary("incremental", "rest", 9, 200));
        assert!(task.is_finished());
        assert!(bars.active().is_empty());

        let text = capture.text();
        let account_line = format!(
            "{:<24} bulk full        1,200 seen, 1,198 new, 3.00 MiB stored, 1.5 s",
            "Account"
        );
        assert!(text.contains(&account_line), "{text}");
        assert!(
            text.contains(&format!(
                "{:<24} rest incremental 9 seen, 7 new, 200 B stored, 1.5 s",
                "Task"
            )),
            "{text}"
        );
        // The Account line came out before the Task line: finished lines are printed in the
        // order objects finish.
        assert!(text.find("Account ").unwrap() < text.rfind("Task ").unwrap());
    }

    #[test]
    fn a_bar_draws_object_counts_and_rate() {
        let capture = Capture::default();
        let bars = Bars::new(ProgressDrawTarget::term_like(Box::new(capture.clone())));
        bars.started("Contact", Some(2_000), "full", "bulk");
        bars.advanced("Contact", 1_500, 4096);
        bar(&bars, "Contact").force_draw();
        let text = capture.text();
        assert!(text.contains("Contact"), "{text}");
        assert!(text.contains("bulk    4.00 KiB stored [="), "{text}");
        assert!(text.contains("] 1,500/2,000 records ("), "{text}");
        assert!(text.contains("/s), "), "{text}");

        bars.started("Task", None, "incremental", "rest");
        bars.advanced("Task", 15, 40_000);
        bar(&bars, "Task").force_draw();
        let text = capture.text();
        assert!(text.contains("rest   39.06 KiB stored "), "{text}");
        assert!(text.contains(" 15 records ("), "{text}");
        // A spinner, not a bar, for the object without a count (the rate can end in "15/s").
        assert!(!text.contains("] 15/"), "{text}");
    }

    #[test]
    fn bars_left_by_a_failed_run_are_cleared_on_drop() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        bars.started("Account", Some(10), "full", "bulk");
        let account = bar(&bars, "Account");
        drop(bars);
        assert!(account.is_finished());
    }

    #[test]
    fn an_incremental_read_spins_instead_of_filling_a_bar() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        bars.started("Account", Some(5_000), "incremental", "bulk");
        bars.started("Contact", Some(5_000), "resumed", "bulk");
        bars.started("Case", Some(5_000), "full", "bulk");
        assert_eq!(bar(&bars, "Account").length(), None);
        assert_eq!(bar(&bars, "Contact").length(), None);
        assert_eq!(bar(&bars, "Case").length(), Some(5_000));
    }

    #[test]
    fn starting_an_object_again_replaces_its_bar() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        bars.started("Account", Some(10), "full", "bulk");
        let first = bar(&bars, "Account");
        bars.started("Account", None, "incremental", "rest");
        assert!(first.is_finished());
        let second = bar(&bars, "Account");
        assert_eq!(second.length(), None);
        assert!(second.message().starts_with("rest"));
    }
}
