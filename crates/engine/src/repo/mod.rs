//! The repository format (`docs/format/repository.md`): the codecs of its stored structures.
//!
//! What exists so far is the format layer, pure and synchronous: [`index`] segments,
//! [`pack`] plaintext, [`record`] canonicalisation and digests, and the [`manifest`] documents.
//! Backup, point-in-time reads and verification on top of them come with the rest of issue 11.

pub mod index;
pub mod manifest;
pub mod pack;
pub mod record;
