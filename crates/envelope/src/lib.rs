//! The envelope format every byte Coffer stores passes through: a versioned, streaming,
//! key-committing AEAD container (AES-256-GCM or ChaCha20-Poly1305) for data at rest.
//!
//! It does no I/O of its own beyond `std::io::{Read, Write, Seek}` adapters and is
//! synchronous. The engine seals packs, indexes and manifests with it, the key ring seals its
//! key material, the audit log seals its exports, and it can be embedded alone.
//!
//! # Getting started
//!
//! ```
//! use coffer_envelope::{DataKey, Header, open, seal};
//!
//! # fn main() -> Result<(), coffer_envelope::Error> {
//! let key = DataKey::generate()?;
//! // Stored in the clear in the header; tells the opener which key to fetch.
//! let key_ref = b"org-kek:v3:wrapped-dek-bytes";
//! // Not stored: the opener must present it again. Bind what the object *is*.
//! let context = b"org=00D000000000001;path=packs/0001;purpose=pack";
//!
//! let envelope = seal(&key, key_ref, context, b"records")?;
//!
//! // Opening side: the header names the key, the caller supplies key and context.
//! let header = Header::parse(&envelope)?;
//! assert_eq!(header.key_ref(), key_ref);
//! assert_eq!(open(&key, context, &envelope)?, b"records");
//! assert!(open(&key, b"org=00D000000000002;path=packs/0001;purpose=pack", &envelope).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! Streams go through [`Sealer`] (a `Write`) and [`Opener`] (a `Read` and `BufRead`), in
//! memory bounded by one segment; [`open_range`] and [`RangePlan`] decrypt a byte range by
//! reading only the segments that cover it:
//!
//! ```
//! use std::io::{Cursor, Read, Write};
//! use coffer_envelope::{Config, DataKey, Opener, open_range};
//!
//! # fn main() -> Result<(), coffer_envelope::Error> {
//! let key = DataKey::generate()?;
//! let config = Config::new().with_segment_size(4096)?;
//! let data: Vec<u8> = (0..100_000_u32).map(|i| (i % 251) as u8).collect();
//!
//! let mut sealer = config.sealer(&key, b"dek-7", b"ctx", Vec::new())?;
//! sealer.write_all(&data)?;
//! let envelope = sealer.finish()?; // consumes the sealer: nothing can follow the final segment
//!
//! let mut plaintext = Vec::new();
//! Opener::new(&key, b"ctx", envelope.as_slice())?.read_to_end(&mut plaintext)?;
//! assert_eq!(plaintext, data);
//!
//! let middle = open_range(&key, b"ctx", Cursor::new(&envelope), 50_000..50_100)?;
//! assert_eq!(middle, &data[50_000..50_100]);
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! The format is specified byte by byte, with test vectors, in `docs/format/envelope.md`. In
//! short:
//!
//! - **Header** — magic `CFENV`, version, suite id, segment size, the caller's opaque key
//!   reference, a random 32-byte salt, a 32-byte key commitment ([`Header`]).
//! - **Per-envelope keys** — HKDF-SHA-256 from the data key and the salt gives a payload key
//!   bound to the suite, segment size and encryption context, so one [`DataKey`] can seal any
//!   number of envelopes with no nonce-reuse budget to track.
//! - **Key commitment** — a second HKDF output over every header byte and the context, checked
//!   in constant time before any segment is opened: an envelope opens under one key and one
//!   context only (GCM and Poly1305 alone do not guarantee this), and nobody without the key can
//!   change a header byte.
//! - **Segments (STREAM)** — fixed-size segments, default 64 KiB, each sealed under the nonce
//!   `segment index (88 bits) || final flag (8 bits)`: truncation, reordering, duplication and
//!   extension all fail authentication.
//! - **Errors** — one opaque [`Error::Authentication`] for everything that fails to
//!   authenticate; typed errors for malformed headers, unsupported versions or suites, and bad
//!   arguments.
//!
//! Keys are [`DataKey`]s: heap-held, wiped on drop, never printed. The derived payload key is
//! wiped too (AES key schedule via `aes/zeroize`; ChaCha20 key always); the GHASH key inside
//! AES-GCM is not, because polyval 0.6's CPU-dispatch wrapper never drops its backend.

mod error;
mod header;
mod kdf;
mod key;
mod open;
mod range;
mod seal;
mod segment;
mod suite;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use header::{
    COMMITMENT_LEN, DEFAULT_SEGMENT_SIZE, Header, MAGIC, MAX_KEY_REF_LEN, MAX_SEGMENT_SIZE,
    MIN_SEGMENT_SIZE, SALT_LEN, VERSION,
};
pub use key::DataKey;
pub use open::{Opener, open};
pub use range::{RangePlan, open_range};
pub use seal::{Config, Sealer};
pub use suite::Suite;

/// Bytes each segment adds to the plaintext: its 16-byte AEAD tag.
pub const SEGMENT_OVERHEAD: usize = suite::TAG_LEN;

/// Seals `plaintext` with the default [`Config`] (AES-256-GCM, 64 KiB segments).
///
/// `key_ref` is stored in the header in the clear, for the opener to find the key; `context`
/// (who owns the object, where it lives, what it is for) is bound into every segment and must
/// be presented again to open.
///
/// # Errors
/// [`Error::KeyRefTooLong`] if `key_ref` exceeds [`MAX_KEY_REF_LEN`]; [`Error::Random`] if
/// the system random number generator fails.
pub fn seal(
    key: &DataKey,
    key_ref: &[u8],
    context: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    Config::new().seal(key, key_ref, context, plaintext)
}

/// Length of the envelope that sealing `plaintext_len` bytes produces, or `None` if it would
/// not fit in a `u64`.
pub fn sealed_len(config: &Config, key_ref_len: usize, plaintext_len: u64) -> Option<u64> {
    let header = header::HEADER_OVERHEAD.checked_add(key_ref_len)?;
    let header = u64::try_from(header).ok()?;
    segment::Geometry::new(config.segment_size())
        .payload_len(plaintext_len)?
        .checked_add(header)
}
