//! Per-envelope key derivation and the key commitment.
//!
//! ```text
//! prk          = HKDF-Extract(salt = header.salt, IKM = data key)
//! T_payload    = SHA-256(header[0..11] || context)          magic, version, suite, segment size
//! T_commitment = SHA-256(header_prefix || context)          every header byte before the commitment
//! payload key  = HKDF-Expand(prk, "coffer-envelope v1 payload key" || T_payload, 32)
//! commitment   = HKDF-Expand(prk, "coffer-envelope v1 key commitment" || T_commitment, 32)
//! ```
//!
//! Both hashed inputs are unambiguous: `header[0..11]` is fixed-length and `header_prefix` is
//! self-delimiting, so the context is whatever follows.
//!
//! The commitment is an HMAC-SHA-256 output keyed (through `prk`) by the data key, so it
//! authenticates every header byte and the context, and finding two data keys (or two contexts)
//! that give one commitment means finding an HMAC-SHA-256 collision: the envelope commits to its
//! key. It is checked in constant time before any segment is touched. The payload key leaves
//! out the key reference on purpose, so a data-key holder can re-wrap the key (new key
//! reference, new commitment) without re-encrypting the payload; see
//! [`Header::replace_key_ref`].

use hkdf::Hkdf;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::header::{COMMITMENT_LEN, Header, PARAMS_LEN};
use crate::suite::{KEY_LEN, SegmentCipher};
use crate::{DataKey, Error};

/// HKDF info label of the payload key.
pub(crate) const PAYLOAD_KEY_LABEL: &[u8] = b"coffer-envelope v1 payload key";
/// HKDF info label of the key commitment.
pub(crate) const COMMITMENT_LABEL: &[u8] = b"coffer-envelope v1 key commitment";

/// What a data key, a header and a context derive to.
pub(crate) struct Derived {
    pub(crate) cipher: SegmentCipher,
    pub(crate) commitment: [u8; COMMITMENT_LEN],
    #[cfg(test)]
    pub(crate) payload_key: Zeroizing<[u8; KEY_LEN]>,
}

/// Derives the payload cipher and the commitment; `header.commitment` itself is not read.
pub(crate) fn derive(key: &DataKey, header: &Header, context: &[u8]) -> Result<Derived, Error> {
    let mut prefix = Vec::with_capacity(header.encoded_len());
    header.encode_prefix(&mut prefix);

    let payload_transcript = transcript(&prefix[..PARAMS_LEN], context);
    let commitment_transcript = transcript(&prefix, context);

    let hkdf = Hkdf::<Sha256>::new(Some(&header.salt), key.expose_secret());
    let mut payload_key = Zeroizing::new([0_u8; KEY_LEN]);
    let mut commitment = [0_u8; COMMITMENT_LEN];
    // HKDF-Expand fails only for outputs longer than 255 hash blocks; these are one block each.
    hkdf.expand_multi_info(
        &[PAYLOAD_KEY_LABEL, &payload_transcript],
        payload_key.as_mut_slice(),
    )
    .map_err(|_| Error::TooLarge)?;
    hkdf.expand_multi_info(&[COMMITMENT_LABEL, &commitment_transcript], &mut commitment)
        .map_err(|_| Error::TooLarge)?;

    Ok(Derived {
        cipher: SegmentCipher::new(header.suite, &payload_key),
        commitment,
        #[cfg(test)]
        payload_key,
    })
}

/// Derives the payload cipher after checking the header's commitment in constant time.
///
/// # Errors
/// [`Error::Authentication`] if the commitment does not match: wrong key, wrong context, or a
/// header changed by anyone who does not hold the key.
pub(crate) fn unlock(
    key: &DataKey,
    header: &Header,
    context: &[u8],
) -> Result<SegmentCipher, Error> {
    let derived = derive(key, header, context)?;
    if bool::from(derived.commitment.ct_eq(&header.commitment)) {
        Ok(derived.cipher)
    } else {
        Err(Error::Authentication)
    }
}

fn transcript(header_bytes: &[u8], context: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(header_bytes);
    hash.update(context);
    hash.finalize().into()
}
