//! The envelope format every byte Coffer stores passes through: a versioned, streaming, key-committing AEAD container (AES-256-GCM or ChaCha20-Poly1305).
//!
//! Status: not implemented yet; this crate holds only its statement of purpose until
//! its issue (issue 4) lands. See `../shared/design/ARCHITECTURE.md` for where it sits.
