//! Unit tests that need the crate's internals: the suite layer against published vectors, the
//! committed known-answer vectors (which need a fixed salt), the key-commitment attack, and
//! structural properties of the streaming adapters.

mod commitment;
mod internals;
mod kat;
mod suites;
