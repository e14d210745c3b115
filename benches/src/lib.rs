//! Criterion benchmarks for the Coffer crates live in `benches/benches/`; peer comparisons
//! (restic, borg) live in `benches/peers/`. This library holds the helpers the benches share.
//!
//! ```
//! // `cargo bench` passes `--bench`; `cargo bench -- --test` adds `--test`.
//! let records = if coffer_benches::smoke() { 200 } else { 50_000 };
//! assert!(records > 0);
//! ```

/// True when criterion runs in test mode (`--test` among the arguments, as `scripts/test` runs
/// every bench once so that benches cannot rot).
///
/// Benches then build small inputs: test mode proves that a bench compiles and runs end to end,
/// it measures nothing, and full-size inputs would only slow CI down. Measurements always come
/// from a plain `cargo bench`, which never passes `--test`.
#[must_use]
pub fn smoke() -> bool {
    std::env::args().any(|arg| arg == "--test")
}

/// This process's peak resident set size in KiB (`VmHWM` from `/proc/self/status`); `None`
/// where that is unavailable (not Linux). Peak RSS never goes down, so memory benches read it
/// after each run and compare.
#[must_use]
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
