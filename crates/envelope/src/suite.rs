//! Algorithm suites and the per-segment AEAD layer beneath the envelope.
//!
//! Everything above this module sees one shape of AEAD: a 32-byte key, a 12-byte nonce, a
//! 16-byte detached tag, sealing and opening in place. The two suites differ only here.

use aead::generic_array::GenericArray;
use aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;
use chacha20poly1305::ChaCha20Poly1305;

use crate::Error;

/// AEAD key length of every suite.
pub(crate) const KEY_LEN: usize = 32;
/// AEAD nonce length of every suite.
pub(crate) const NONCE_LEN: usize = 12;
/// AEAD tag length of every suite; it trails each sealed segment.
pub(crate) const TAG_LEN: usize = 16;

/// The AEAD algorithm that seals an envelope's segments. Its id is written in the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// AES-256-GCM (suite id 1), the default: hardware-accelerated on current x86-64 and ARMv8.
    #[default]
    Aes256Gcm,
    /// ChaCha20-Poly1305 (suite id 2), for machines without AES instructions.
    ChaCha20Poly1305,
}

impl Suite {
    /// Every suite this build implements.
    pub const ALL: [Suite; 2] = [Suite::Aes256Gcm, Suite::ChaCha20Poly1305];

    /// The suite's id byte in the envelope header.
    pub const fn id(self) -> u8 {
        match self {
            Suite::Aes256Gcm => 1,
            Suite::ChaCha20Poly1305 => 2,
        }
    }

    /// The suite an id byte names, if this build implements it.
    pub const fn from_id(id: u8) -> Option<Suite> {
        match id {
            1 => Some(Suite::Aes256Gcm),
            2 => Some(Suite::ChaCha20Poly1305),
            _ => None,
        }
    }

    /// The algorithm's conventional name, e.g. `AES-256-GCM`.
    pub const fn name(self) -> &'static str {
        match self {
            Suite::Aes256Gcm => "AES-256-GCM",
            Suite::ChaCha20Poly1305 => "ChaCha20-Poly1305",
        }
    }
}

/// A keyed AEAD instance of one suite. Both ciphers wipe their key material on drop (AES key
/// schedule through the `aes/zeroize` feature; ChaCha20-Poly1305 always).
pub(crate) enum SegmentCipher {
    // Boxed: the AES-GCM state is several hundred bytes, ChaCha20-Poly1305 holds only its key.
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(ChaCha20Poly1305),
}

impl SegmentCipher {
    pub(crate) fn new(suite: Suite, key: &[u8; KEY_LEN]) -> Self {
        let key = GenericArray::from_slice(key);
        match suite {
            Suite::Aes256Gcm => SegmentCipher::Aes256Gcm(Box::new(Aes256Gcm::new(key))),
            Suite::ChaCha20Poly1305 => SegmentCipher::ChaCha20Poly1305(ChaCha20Poly1305::new(key)),
        }
    }

    /// Encrypts `buffer` in place and returns the tag that authenticates it and `aad`.
    ///
    /// Fails only for inputs beyond the AEAD's length limits (GCM: 2^36 - 32 bytes), which the
    /// envelope's segment-size bound keeps out of reach.
    pub(crate) fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buffer: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Error> {
        let nonce = GenericArray::from_slice(nonce);
        let tag = match self {
            SegmentCipher::Aes256Gcm(cipher) => {
                cipher.encrypt_in_place_detached(nonce, aad, buffer)
            }
            SegmentCipher::ChaCha20Poly1305(cipher) => {
                cipher.encrypt_in_place_detached(nonce, aad, buffer)
            }
        }
        .map_err(|_| Error::TooLarge)?;
        Ok(tag.into())
    }

    /// Verifies `tag` over `buffer` and `aad`, then decrypts `buffer` in place.
    ///
    /// Both backends compare the tag (in constant time) before they apply the keystream, so on
    /// failure `buffer` still holds ciphertext: no unauthenticated plaintext ever exists.
    pub(crate) fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buffer: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Error> {
        let nonce = GenericArray::from_slice(nonce);
        let tag = GenericArray::from_slice(tag);
        match self {
            SegmentCipher::Aes256Gcm(cipher) => {
                cipher.decrypt_in_place_detached(nonce, aad, buffer, tag)
            }
            SegmentCipher::ChaCha20Poly1305(cipher) => {
                cipher.decrypt_in_place_detached(nonce, aad, buffer, tag)
            }
        }
        .map_err(|_| Error::Authentication)
    }
}
