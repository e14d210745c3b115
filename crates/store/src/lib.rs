//! The `ObjectStore` seam: local disk, S3 and in-memory backends behind one async trait, plus retry, residency and replication layers.
//!
//! Status: not implemented yet; this crate holds only its statement of purpose until
//! its issue (issue 7) lands. See `../shared/design/ARCHITECTURE.md` for where it sits.
