//! Criterion benchmarks for the Coffer crates live in `benches/benches/`; peer comparisons
//! (restic, borg) live in `benches/peers/`. This library holds the one helper every bench shares.
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
