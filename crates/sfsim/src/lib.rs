//! A Salesforce API simulator served over HTTP(S) on loopback, with a seeded realistic org, so the connector, engine, demo and benchmarks run without reaching Salesforce.
//!
//! Status: not implemented yet; this crate holds only its statement of purpose until
//! its issue (issue 8) lands. See `../shared/design/ARCHITECTURE.md` for where it sits.
