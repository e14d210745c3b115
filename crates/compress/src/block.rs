//! Block compression and decompression with reusable zstd contexts.

use std::io::Cursor;
use std::sync::Arc;

use zstd::zstd_safe::{CCtx, CParameter, DCtx, DictAttachPref};

use crate::dict::{Dictionary, DictionarySet};
use crate::error::{Error, Result};
use crate::format::{self, MARKER_STORED, MARKER_ZSTD, MARKER_ZSTD_DICTIONARY, Method, Parsed};
use crate::limits::Limits;
use crate::sniff;

/// A zstd compression level, 1 (fastest) to 22 (smallest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level(i32);

impl Level {
    /// Level 3, zstd's default: fast, and within a few percent of level 9's ratio on records.
    pub const DEFAULT: Level = Level(3);

    /// A level in `1..=22`.
    ///
    /// # Errors
    /// [`Error::InvalidLevel`] outside that range.
    pub const fn new(level: i32) -> Result<Self> {
        if level >= 1 && level <= 22 {
            Ok(Self(level))
        } else {
            Err(Error::InvalidLevel(level))
        }
    }

    /// The numeric level.
    pub const fn get(self) -> i32 {
        self.0
    }
}

impl Default for Level {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Compresses blocks, reusing one zstd context (and, with a dictionary, its digested tables)
/// across calls. Create one per thread and per dictionary and keep it.
pub struct Compressor {
    context: CCtx<'static>,
    dictionary: Option<Arc<Dictionary>>,
}

impl Compressor {
    /// A compressor without dictionary.
    ///
    /// # Errors
    /// [`Error::Compression`] when zstd cannot allocate or configure its context.
    pub fn new(level: Level) -> Result<Self> {
        Self::build(level, None)
    }

    /// A compressor whose blocks use `dictionary` (the decompressor will need it).
    ///
    /// # Errors
    /// [`Error::Compression`] when zstd cannot allocate its context or load the dictionary.
    pub fn with_dictionary(level: Level, dictionary: Arc<Dictionary>) -> Result<Self> {
        Self::build(level, Some(dictionary))
    }

    fn build(level: Level, dictionary: Option<Arc<Dictionary>>) -> Result<Self> {
        let mut context =
            CCtx::try_create().ok_or(Error::Compression("cannot allocate a zstd context"))?;
        for parameter in [
            CParameter::CompressionLevel(level.get()),
            // The format requires both: the size lets decoders enforce limits before
            // allocating, the checksum catches corruption and wrong dictionaries.
            CParameter::ContentSizeFlag(true),
            CParameter::ChecksumFlag(true),
            CParameter::DictIdFlag(true),
        ] {
            context
                .set_parameter(parameter)
                .map_err(zstd_error(Error::Compression))?;
        }
        if let Some(dictionary) = &dictionary {
            // Attach, do not copy: by default zstd copies the digested dictionary tables
            // (several hundred KiB) into the context for every frame larger than 32 KiB, which
            // cost a fifth of the throughput on 64 KiB record blocks; attached, the tables are
            // searched in place. Same output size, measured on coffer-sfsim records.
            context
                .set_parameter(CParameter::ForceAttachDict(DictAttachPref::ForceAttach))
                .map_err(zstd_error(Error::Compression))?;
            // Loaded (copied) into the context once: zstd digests it on first use and keeps
            // the tables for every later frame.
            context
                .load_dictionary(dictionary.zstd_bytes())
                .map_err(zstd_error(Error::Compression))?;
        }
        Ok(Self {
            context,
            dictionary,
        })
    }

    /// The dictionary this compressor uses.
    pub fn dictionary(&self) -> Option<&Arc<Dictionary>> {
        self.dictionary.as_ref()
    }

    /// Compresses `data` into a new block.
    ///
    /// # Errors
    /// [`Error::Compression`] when zstd fails (allocation failure).
    pub fn compress(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let mut block = Vec::new();
        self.compress_into(data, &mut block)?;
        Ok(block)
    }

    /// Appends the block for `data` to `out` and says how it was stored. Content that sniffs
    /// as already compressed is stored without trying zstd; content zstd does not shrink is
    /// stored too, so a block is never more than one byte larger than its input.
    ///
    /// # Errors
    /// [`Error::Compression`] when zstd fails (allocation failure); `out` is then unchanged.
    pub fn compress_into(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<Method> {
        let start = out.len();
        if sniff::sniff(data).store {
            write_stored(data, out);
            return Ok(Method::Stored);
        }
        let (marker, method) = match &self.dictionary {
            Some(_) => (MARKER_ZSTD_DICTIONARY, Method::ZstdDictionary),
            None => (MARKER_ZSTD, Method::Zstd),
        };
        out.reserve(
            1 + crate::dict::DictionaryId::LEN + zstd::zstd_safe::compress_bound(data.len()),
        );
        out.push(marker);
        if let Some(dictionary) = &self.dictionary {
            out.extend_from_slice(dictionary.id().as_bytes());
        }
        let frame_start = out.len();
        let mut cursor = Cursor::new(&mut *out);
        cursor.set_position(frame_start as u64);
        if let Err(code) = self.context.compress2(&mut cursor, data) {
            out.truncate(start);
            return Err(zstd_error(Error::Compression)(code));
        }
        if out.len() - start > data.len() {
            // zstd did not help (small or high-entropy input the sniffer let through).
            out.truncate(start);
            write_stored(data, out);
            return Ok(Method::Stored);
        }
        Ok(method)
    }
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("dictionary", &self.dictionary)
            .finish_non_exhaustive()
    }
}

fn write_stored(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(1 + data.len());
    out.push(MARKER_STORED);
    out.extend_from_slice(data);
}

/// Decompresses blocks under [`Limits`], reusing one zstd context across calls.
pub struct Decompressor {
    context: DCtx<'static>,
    limits: Limits,
}

impl Decompressor {
    /// A decompressor enforcing `limits` on every block.
    ///
    /// # Errors
    /// [`Error::Compression`] when zstd cannot allocate its context.
    pub fn new(limits: Limits) -> Result<Self> {
        let context =
            DCtx::try_create().ok_or(Error::Compression("cannot allocate a zstd context"))?;
        Ok(Self { context, limits })
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Decompresses `block`, looking its dictionary (if any) up in `dictionaries`.
    ///
    /// # Errors
    /// See [`Decompressor::decompress_into`].
    pub fn decompress(&mut self, block: &[u8], dictionaries: &DictionarySet) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.decompress_into(block, dictionaries, &mut out)?;
        Ok(out)
    }

    /// Replaces the contents of `out` with the decompressed `block` (reusing its allocation).
    ///
    /// Limits are checked against the size the block declares before `out` grows.
    ///
    /// # Errors
    /// [`Error::UnknownMarker`] and [`Error::Malformed`] for structural problems;
    /// [`Error::OutputTooLarge`] and [`Error::RatioExceeded`] when the declared size breaks the
    /// limits; [`Error::DictionaryMissing`] when the named dictionary is not in `dictionaries`;
    /// [`Error::DictionaryMismatch`] when the frame was made with other dictionary bytes;
    /// [`Error::Corrupt`] when the frame does not decode or its checksum does not match.
    /// On error `out` is left empty.
    pub fn decompress_into(
        &mut self,
        block: &[u8],
        dictionaries: &DictionarySet,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        out.clear();
        let parsed = format::parse(block)?;
        let declared = parsed.info().decompressed_size;
        self.limits.check(declared, block.len() as u64)?;
        let declared = usize::try_from(declared).map_err(|_| Error::OutputTooLarge {
            size: declared,
            limit: usize::MAX as u64,
        })?;
        let result = match parsed {
            Parsed::Stored(data) => {
                out.extend_from_slice(data);
                Ok(data.len())
            }
            Parsed::Zstd(frame) => {
                if frame.dictionary_id.is_some() {
                    return Err(Error::Malformed(
                        "frame needs a dictionary the block does not name",
                    ));
                }
                reserve(out, declared)?;
                self.context.decompress(out, frame.bytes)
            }
            Parsed::ZstdDictionary(id, frame) => {
                let dictionary = dictionaries.get(&id).ok_or(Error::DictionaryMissing(id))?;
                if frame.dictionary_id != Some(dictionary.zstd_id()) {
                    return Err(Error::DictionaryMismatch(id));
                }
                reserve(out, declared)?;
                self.context
                    .decompress_using_ddict(out, frame.bytes, dictionary.decoder())
            }
        };
        match result {
            Ok(written) if written == declared => Ok(()),
            Ok(_) => {
                out.clear();
                Err(Error::Corrupt(
                    "decoded size differs from the declared size",
                ))
            }
            Err(code) => {
                out.clear();
                Err(zstd_error(Error::Corrupt)(code))
            }
        }
    }
}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decompressor")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Reserves exactly the declared output, failing softly when memory is short (a caller may set
/// a limit larger than the machine can hold).
fn reserve(out: &mut Vec<u8>, size: usize) -> Result<()> {
    out.try_reserve_exact(size)
        .map_err(|_| Error::Allocation { size: size as u64 })
}

/// Maps a zstd error code to `variant(zstd's static error name)`.
pub(crate) fn zstd_error(variant: fn(&'static str) -> Error) -> impl Fn(usize) -> Error {
    move |code| variant(zstd::zstd_safe::get_error_name(code))
}

/// Compresses `data` into one block at `level`, without dictionary. For many blocks, keep a
/// [`Compressor`] instead (it reuses its zstd context).
///
/// # Errors
/// [`Error::Compression`] when zstd fails (allocation failure).
pub fn compress(data: &[u8], level: Level) -> Result<Vec<u8>> {
    Compressor::new(level)?.compress(data)
}

/// Decompresses one block under `limits`. For many blocks, keep a [`Decompressor`].
///
/// # Errors
/// As [`Decompressor::decompress_into`].
pub fn decompress(block: &[u8], limits: &Limits, dictionaries: &DictionarySet) -> Result<Vec<u8>> {
    Decompressor::new(*limits)?.decompress(block, dictionaries)
}
