//! The crate's one error type.

use std::io;

/// Everything that can go wrong while sealing, parsing or opening an envelope.
///
/// Authentication failures of every kind (wrong key, wrong context, a flipped bit, a truncated,
/// reordered or extended stream, a forged header) are deliberately one variant,
/// [`Error::Authentication`], that says nothing more: a caller must not be able to tell them
/// apart, so no oracle can be built on the difference. The other variants describe input that is
/// visibly not a well-formed envelope of a supported kind, or an argument the caller got wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The envelope did not authenticate under this key and encryption context.
    #[error("envelope authentication failed")]
    Authentication,

    /// The bytes do not start with the envelope magic `CFENV`.
    #[error("not a coffer envelope: the magic bytes are missing")]
    NotAnEnvelope,

    /// The header names a format version this build does not implement.
    #[error("unsupported envelope format version {0}")]
    UnsupportedVersion(u8),

    /// The header names an algorithm suite this build does not implement.
    #[error("unsupported envelope algorithm suite id {0}")]
    UnsupportedSuite(u8),

    /// The header is cut short or carries a value the format forbids.
    #[error("malformed envelope header: {0}")]
    MalformedHeader(&'static str),

    /// A configured segment size is outside the range the format allows.
    #[error(
        "segment size {0} is outside {min}..={max} bytes",
        min = crate::MIN_SEGMENT_SIZE,
        max = crate::MAX_SEGMENT_SIZE
    )]
    InvalidSegmentSize(u32),

    /// A key reference is longer than the header's 16-bit length field can describe.
    #[error("key reference is {0} bytes; at most {max} are allowed", max = crate::MAX_KEY_REF_LEN)]
    KeyRefTooLong(usize),

    /// Key material of the wrong length was supplied for a data key.
    #[error("a data key is {expected} bytes, not {0}", expected = crate::DataKey::LEN)]
    InvalidKeyLength(usize),

    /// A requested plaintext range is reversed or reaches past the end of the plaintext.
    #[error("range {start}..{end} is not within a plaintext of {plaintext_len} bytes")]
    RangeOutOfBounds {
        /// First byte requested.
        start: u64,
        /// One past the last byte requested.
        end: u64,
        /// Length of the envelope's plaintext, as its ciphertext length implies.
        plaintext_len: u64,
    },

    /// The ciphertext handed to [`RangePlan::open`](crate::RangePlan::open) is not the span the
    /// plan asked for.
    #[error("range plan expects {expected} ciphertext bytes, got {actual}")]
    RangeCiphertextLength {
        /// Length of [`RangePlan::ciphertext_range`](crate::RangePlan::ciphertext_range).
        expected: u64,
        /// Length that was supplied.
        actual: u64,
    },

    /// A length exceeds a limit of the format or of a primitive beneath it: more segments than
    /// the nonce counter numbers, an object larger than memory can hold, or input beyond the
    /// AEAD's or HKDF's length limits (which the segment-size bound keeps out of reach).
    #[error("object too large for the envelope format")]
    TooLarge,

    /// An earlier operation on this [`Sealer`](crate::Sealer) or [`Opener`](crate::Opener)
    /// failed, so it cannot continue: the stream it wrote or read is incomplete.
    #[error("the stream failed earlier and cannot continue")]
    Poisoned,

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random(#[source] getrandom::Error),

    /// Reading the source or writing the sink failed.
    #[error("envelope I/O failed")]
    Io(#[source] io::Error),
}

impl From<io::Error> for Error {
    /// Recovers the envelope error carried inside an [`io::Error`] produced by
    /// [`Opener`](crate::Opener) or [`Sealer`](crate::Sealer), so `?` on `std::io::copy` still
    /// yields [`Error::Authentication`]; any other I/O error becomes [`Error::Io`].
    fn from(error: io::Error) -> Self {
        if !error.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error::Io(error);
        }
        let kind = error.kind();
        match error.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(ours)) => *ours,
            Some(Err(other)) => Error::Io(io::Error::new(kind, other)),
            None => Error::Io(kind.into()),
        }
    }
}

impl From<Error> for io::Error {
    /// Wraps an envelope error for the `Read`/`Write` traits: unauthentic or malformed data maps
    /// to [`io::ErrorKind::InvalidData`]; an [`Error::Io`] is unwrapped back to the original.
    fn from(error: Error) -> Self {
        match error {
            Error::Io(inner) => inner,
            Error::Authentication
            | Error::NotAnEnvelope
            | Error::UnsupportedVersion(_)
            | Error::UnsupportedSuite(_)
            | Error::MalformedHeader(_) => io::Error::new(io::ErrorKind::InvalidData, error),
            other => io::Error::other(other),
        }
    }
}
