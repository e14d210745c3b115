//! Key lifecycle for connected Salesforce orgs: the `Kms` seam (local master key, AWS KMS), per-org key rings of versioned KEKs, data-key wrapping with an encryption context, rotation, retirement, rewrap and crypto-shredding.
//!
//! Status: not implemented yet; this crate holds only its statement of purpose until
//! its issue (issue 5) lands. See `../shared/design/ARCHITECTURE.md` for where it sits.
