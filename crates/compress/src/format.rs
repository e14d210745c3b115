//! The stored block format, version 1 (documented in `docs/format/compression.md`).
//!
//! ```text
//! block = marker(1) payload
//!   0x00 stored          payload = the original bytes
//!   0x01 zstd            payload = exactly one zstd frame
//!   0x02 zstd+dictionary payload = dictionary id (32) || exactly one zstd frame
//! ```
//!
//! Every zstd frame must be a standard frame (magic `28 B5 2F FD`), declare its content size,
//! carry a content checksum, and end exactly at the end of the block. Dictionary frames carry the
//! zstd dictionary id of the dictionary named by the 32-byte id, and decoding checks both.

use std::num::NonZeroU32;

use crate::dict::DictionaryId;
use crate::error::{Error, Result};

/// Marker of a block holding its input unchanged.
pub(crate) const MARKER_STORED: u8 = 0x00;
/// Marker of a block holding one zstd frame.
pub(crate) const MARKER_ZSTD: u8 = 0x01;
/// Marker of a block holding a dictionary id and one zstd frame made with that dictionary.
pub(crate) const MARKER_ZSTD_DICTIONARY: u8 = 0x02;

/// Magic number of a standard zstd frame, as stored (little-endian `0xFD2FB528`).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Content-checksum flag in the frame header descriptor (byte 4 of the frame).
const CHECKSUM_FLAG: u8 = 0x04;

/// How a block stores its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// The input unchanged (incompressible or already-compressed content).
    Stored,
    /// A zstd frame without dictionary.
    Zstd,
    /// A zstd frame made with a trained dictionary.
    ZstdDictionary,
}

/// What a block header says, read without decompressing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// How the data is stored.
    pub method: Method,
    /// The dictionary the block needs, for [`Method::ZstdDictionary`].
    pub dictionary: Option<DictionaryId>,
    /// Size of the data once decompressed, as declared by the block.
    pub decompressed_size: u64,
}

/// A checked zstd frame: standard magic, declared size, checksum, nothing after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) content_size: u64,
    pub(crate) dictionary_id: Option<NonZeroU32>,
}

/// A block split into its parts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parsed<'a> {
    Stored(&'a [u8]),
    Zstd(Frame<'a>),
    ZstdDictionary(DictionaryId, Frame<'a>),
}

impl Parsed<'_> {
    pub(crate) fn info(&self) -> BlockInfo {
        match self {
            Parsed::Stored(data) => BlockInfo {
                method: Method::Stored,
                dictionary: None,
                decompressed_size: data.len() as u64,
            },
            Parsed::Zstd(frame) => BlockInfo {
                method: Method::Zstd,
                dictionary: None,
                decompressed_size: frame.content_size,
            },
            Parsed::ZstdDictionary(id, frame) => BlockInfo {
                method: Method::ZstdDictionary,
                dictionary: Some(*id),
                decompressed_size: frame.content_size,
            },
        }
    }
}

/// Splits and checks a block's structure (no decompression).
pub(crate) fn parse(block: &[u8]) -> Result<Parsed<'_>> {
    let (&marker, payload) = block.split_first().ok_or(Error::Malformed("empty block"))?;
    match marker {
        MARKER_STORED => Ok(Parsed::Stored(payload)),
        MARKER_ZSTD => Ok(Parsed::Zstd(parse_frame(payload)?)),
        MARKER_ZSTD_DICTIONARY => {
            let (id, frame) = payload
                .split_first_chunk::<{ DictionaryId::LEN }>()
                .ok_or(Error::Malformed("truncated dictionary id"))?;
            Ok(Parsed::ZstdDictionary(
                DictionaryId::from_bytes(*id),
                parse_frame(frame)?,
            ))
        }
        other => Err(Error::UnknownMarker(other)),
    }
}

/// Checks a zstd frame header and its extent, so limits can be enforced before decoding.
pub(crate) fn parse_frame(bytes: &[u8]) -> Result<Frame<'_>> {
    let header = frame_header(bytes)?;
    let content_size = header.ok_or(Error::Malformed("frame does not declare its size"))?;
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(bytes)
        .map_err(|_| Error::Malformed("truncated or invalid frame"))?;
    if frame_len != bytes.len() {
        return Err(Error::Malformed("trailing bytes after the frame"));
    }
    Ok(Frame {
        bytes,
        content_size,
        dictionary_id: zstd::zstd_safe::get_dict_id_from_frame(bytes),
    })
}

/// Checks the start of a zstd frame (magic, checksum flag, header) and returns its declared
/// content size, `None` when the frame does not declare one. Needs only the frame header
/// (at most 18 bytes), so streams can call it on a prefix.
pub(crate) fn frame_header(prefix: &[u8]) -> Result<Option<u64>> {
    if !prefix.starts_with(&ZSTD_MAGIC) {
        return Err(Error::Malformed("payload is not a standard zstd frame"));
    }
    let descriptor = *prefix
        .get(4)
        .ok_or(Error::Malformed("truncated frame header"))?;
    if descriptor & CHECKSUM_FLAG == 0 {
        return Err(Error::Malformed("frame has no content checksum"));
    }
    zstd::zstd_safe::get_frame_content_size(prefix)
        .map_err(|_| Error::Malformed("truncated or invalid frame header"))
}

/// Longest zstd frame header: magic 4 + descriptor 1 + window 1 + dictionary id 4 + size 8.
pub(crate) const FRAME_HEADER_MAX: usize = 18;

/// Reads a block's header: method, needed dictionary, declared size. Checks the structure
/// (markers, frame header, frame extent) but decompresses nothing.
///
/// # Errors
/// [`Error::UnknownMarker`] or [`Error::Malformed`] when the block is not a valid block.
pub fn inspect(block: &[u8]) -> Result<BlockInfo> {
    parse(block).map(|parsed| parsed.info())
}
