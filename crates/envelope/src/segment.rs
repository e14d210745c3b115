//! Segment layout and the STREAM nonce.
//!
//! The payload is a sequence of segments. Segment `i` is the AEAD sealing of plaintext bytes
//! `[i * S, min((i + 1) * S, len))` under the nonce `i` (11 bytes, big-endian) `|| final`
//! (one byte, 1 for the last segment and 0 otherwise), with empty associated data. Every
//! segment but the last holds exactly `S` plaintext bytes; the last holds 1..=S, or 0 only when
//! the whole plaintext is empty. This canonical layout makes the segment count, and so which
//! segment is final, a function of the ciphertext length alone.

use crate::Error;
use crate::suite::{NONCE_LEN, SegmentCipher, TAG_LEN};

/// Builds the nonce of segment `index`. The counter field is 88 bits wide; a `u64` index fills
/// its low 64 bits, so it cannot wrap before the object is far beyond any real size.
pub(crate) fn nonce(index: u64, last: bool) -> [u8; NONCE_LEN] {
    let mut nonce = [0_u8; NONCE_LEN];
    nonce[3..11].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

/// The segment layout implied by one segment size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Plaintext bytes per full segment.
    segment: u64,
}

impl Geometry {
    pub(crate) fn new(segment_size: u32) -> Geometry {
        Geometry {
            segment: u64::from(segment_size),
        }
    }

    /// Plaintext bytes per full segment.
    pub(crate) fn segment_len(self) -> u64 {
        self.segment
    }

    /// Sealed bytes per full segment.
    pub(crate) fn sealed_segment_len(self) -> u64 {
        self.segment + TAG_LEN as u64
    }

    /// Number of segments a plaintext of `plaintext_len` bytes is sealed into (at least one).
    pub(crate) fn segment_count(self, plaintext_len: u64) -> u64 {
        plaintext_len.div_ceil(self.segment).max(1)
    }

    /// Sealed payload length for a plaintext of `plaintext_len` bytes, if it fits in a `u64`.
    pub(crate) fn payload_len(self, plaintext_len: u64) -> Option<u64> {
        let tags = self
            .segment_count(plaintext_len)
            .checked_mul(TAG_LEN as u64)?;
        plaintext_len.checked_add(tags)
    }

    /// Plaintext length of a canonical payload of `payload_len` bytes.
    ///
    /// # Errors
    /// [`Error::Authentication`] if no canonical payload has this length, which means the
    /// envelope was truncated or extended.
    pub(crate) fn plaintext_len(self, payload_len: u64) -> Result<u64, Error> {
        let sealed = self.sealed_segment_len();
        let full = payload_len / sealed;
        let rest = payload_len % sealed;
        let tag = TAG_LEN as u64;
        match (full, rest) {
            // No segment at all: the final segment is missing.
            (0, 0) => Err(Error::Authentication),
            // The last segment is full.
            (_, 0) => Ok(full * self.segment),
            // An empty final segment is canonical only as the sole segment.
            (0, r) if r == tag => Ok(0),
            (_, r) if r > tag => Ok(full * self.segment + (r - tag)),
            // Shorter than a tag, or an empty final segment after full ones.
            _ => Err(Error::Authentication),
        }
    }
}

/// Opens one sealed segment (`body || tag`) in place and returns the plaintext length; the
/// plaintext is then `sealed[..len]`.
///
/// # Errors
/// [`Error::Authentication`] if the segment is shorter than a tag, is an empty final segment
/// anywhere but first, or fails the AEAD check for this index and final flag.
pub(crate) fn open_segment(
    cipher: &SegmentCipher,
    index: u64,
    last: bool,
    sealed: &mut [u8],
) -> Result<usize, Error> {
    let body_len = sealed
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(Error::Authentication)?;
    if last && body_len == 0 && index != 0 {
        return Err(Error::Authentication);
    }
    let (body, tag) = sealed.split_at_mut(body_len);
    let mut tag_bytes = [0_u8; TAG_LEN];
    tag_bytes.copy_from_slice(tag);
    cipher.open_in_place(&nonce(index, last), &[], body, &tag_bytes)?;
    Ok(body_len)
}
