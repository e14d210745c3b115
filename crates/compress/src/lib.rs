//! Compression for everything Coffer stores: zstd with content sniffing so already-compressed data is stored as-is, per-object-type record dictionaries, and decompression-bomb limits.
//!
//! Status: not implemented yet; this crate holds only its statement of purpose until
//! its issue (issue 6) lands. See `../shared/design/ARCHITECTURE.md` for where it sits.
