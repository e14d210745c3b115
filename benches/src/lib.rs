//! Criterion benchmarks for the Coffer crates live in `benches/benches/`; peer comparisons
//! (restic, borg) live in `benches/peers/`. This library is empty: the package exists so the
//! benchmarks have one home and one dependency list.
