//! A tamper-evident audit trail: an RFC 6962-style Merkle log of events, signed checkpoints, PII minimisation, exports, and an offline verifier.
//!
//! Status: not implemented yet; this crate holds only its statement of purpose until
//! its issue (issue 10) lands. See `../shared/design/ARCHITECTURE.md` for where it sits.
