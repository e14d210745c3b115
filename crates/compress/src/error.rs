//! The one error type of this crate.

use crate::dict::DictionaryId;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why compressing or decompressing failed.
///
/// Decoding never panics and never returns garbage: every way a stored block can be wrong maps
/// to one of these variants. Decompression-limit variants are raised *before* the output is
/// allocated (blocks) or as soon as the limit is crossed (streams).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The compression level is outside the supported range.
    #[error("compression level {0} is outside 1..=22")]
    InvalidLevel(i32),

    /// The block starts with a marker byte this version does not know (a newer format, or not
    /// a coffer-compress block at all).
    #[error("unknown block marker 0x{0:02x}")]
    UnknownMarker(u8),

    /// The block's structure is wrong: empty, truncated, trailing bytes after the frame, a
    /// frame that is not a standard zstd frame, or a frame without the required checksum or
    /// declared size.
    #[error("malformed block: {0}")]
    Malformed(&'static str),

    /// The zstd frame is well formed but does not decode: corrupted data or a checksum
    /// mismatch.
    #[error("corrupt compressed data: {0}")]
    Corrupt(&'static str),

    /// The block declares (or a stream produced) more output than the caller allows.
    #[error("decompressed size {size} exceeds the limit of {limit} bytes")]
    OutputTooLarge {
        /// Declared (block) or produced-so-far (stream) output size.
        size: u64,
        /// The caller's limit.
        limit: u64,
    },

    /// Output size divided by stored size is above the caller's limit.
    #[error("expansion ratio {output}/{input} exceeds the limit of {limit}:1")]
    RatioExceeded {
        /// Output bytes (declared or produced so far).
        output: u64,
        /// Stored bytes (the whole block, or the stream bytes consumed so far).
        input: u64,
        /// The caller's ratio limit.
        limit: u32,
    },

    /// The output buffer for a block's declared size could not be allocated.
    #[error("cannot allocate {size} bytes for the decompressed block")]
    Allocation {
        /// The declared size.
        size: u64,
    },

    /// The block needs a dictionary that is not in the set given to the decompressor.
    #[error("block needs dictionary {0}, which is not available")]
    DictionaryMissing(DictionaryId),

    /// The dictionary the block names does not match the frame (its zstd dictionary id differs):
    /// the block was tampered with or written with different dictionary bytes.
    #[error("block frame does not match dictionary {0}")]
    DictionaryMismatch(DictionaryId),

    /// Bytes given as a serialized dictionary are not one.
    #[error("invalid dictionary: {0}")]
    InvalidDictionary(&'static str),

    /// zstd could not train a dictionary from the samples (too few, too small or too uniform).
    #[error("dictionary training failed: {0}")]
    Training(String),

    /// zstd refused to compress (allocation failure or an invalid parameter).
    #[error("compression failed: {0}")]
    Compression(&'static str),

    /// Reading or writing a stream failed.
    #[error("stream I/O failed")]
    Io(#[from] std::io::Error),
}
