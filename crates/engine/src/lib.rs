//! The encrypted backup repository: full and incremental backups of an org, point-in-time reads, verify, compare, retention, erasure and archive.
//!
//! Status: not implemented yet; this crate holds only its statement of purpose until
//! its issue (issue 11) lands. See `../shared/design/ARCHITECTURE.md` for where it sits.
