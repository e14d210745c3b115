//! The repository format (`docs/format/repository.md`): the codecs of its stored structures.
//!
//! The format layer is pure and synchronous: [`index`] segments, [`pack`] plaintext, [`record`]
//! canonicalisation, and the [`manifest`] documents. [`store`] puts them in an
//! object store ([`Repository`], [`OrgRepo`]: config, org descriptors, sealed content-named
//! objects, create-only snapshot commits), [`snapshot`] writes a run's versions and reads a
//! record as of a snapshot, [`blobs`] packs file bodies, and [`verify`] authenticates all of it.
//! The backup driver (Salesforce to snapshot) is `crate::backup`.

pub mod blobs;
mod columns;
mod entries;
pub mod index;
pub mod manifest;
pub mod pack;
pub mod record;
pub mod snapshot;
pub mod store;
pub mod verify;

pub use snapshot::{FinishedObject, ObjectWriter, SnapshotWriter, StoredVersion};
pub use store::{ContentKind, ContentName, OrgRepo, Repository};
pub use verify::VerifyReport;
