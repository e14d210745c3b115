//! Examples of embedding each Coffer crate on its own live in `examples/examples/`, one file per
//! crate, runnable with `cargo run -p coffer-examples --example NAME`. This library is empty.
