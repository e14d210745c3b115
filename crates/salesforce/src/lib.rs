//! The Salesforce client a backup product needs: OAuth 2.0 flows, discovery, REST and Bulk API 2.0 extraction, incremental windows, deletes, blob downloads and collection writes for restore.
//!
//! Status: not implemented yet; this crate holds only its statement of purpose until
//! its issue (issue 9) lands. See `../shared/design/ARCHITECTURE.md` for where it sits.
