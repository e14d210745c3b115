//! Streams: compress a reader into a writer in the same stored format as blocks, and decompress
//! one back under [`Limits`] without holding the whole input or output in memory.
//!
//! A stream is a block whose zstd frame may omit its content size (when the input length was not
//! known up front). Inputs that fit in the first read chunk are compressed exactly like blocks.
//! Dictionary blocks are not streamed: they are small record blocks, decoded with
//! [`crate::Decompressor`].

use std::io::{self, Read, Write};

use zstd::zstd_safe::{DCtx, DParameter, InBuffer, OutBuffer};

use crate::block::{Compressor, Level, zstd_error};
use crate::error::{Error, Result};
use crate::format::{
    FRAME_HEADER_MAX, MARKER_STORED, MARKER_ZSTD, MARKER_ZSTD_DICTIONARY, Method, frame_header,
};
use crate::limits::Limits;
use crate::sniff;

/// How much input is read before deciding whether to compress.
const FIRST_CHUNK: usize = 128 * 1024;

/// Smallest window a stream decoder accepts: zstd's level 1–9 encoders use up to 2^21 bytes
/// when the input size is unknown, so a smaller cap would refuse ordinary streams.
const MIN_WINDOW_LOG: u32 = 21;
/// Largest window a stream decoder accepts (zstd's own default cap, 128 MiB).
const MAX_WINDOW_LOG: u32 = 27;

/// What [`compress_stream`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    /// How the data was stored.
    pub method: Method,
    /// Bytes read.
    pub input_bytes: u64,
    /// Bytes written (marker included).
    pub output_bytes: u64,
}

/// Compresses everything `reader` yields into `writer`. `size_hint`, when given, must be the
/// exact input length: it is written into the frame so decoders can check it against their
/// limits before decoding.
///
/// # Errors
/// [`Error::Io`] on read or write failure; [`Error::Compression`] when zstd fails, including
/// when the input length differs from `size_hint`.
pub fn compress_stream<R: Read, W: Write>(
    mut reader: R,
    writer: W,
    level: Level,
    size_hint: Option<u64>,
) -> Result<StreamSummary> {
    let mut writer = CountingWriter {
        inner: writer,
        count: 0,
    };
    let mut first = Vec::with_capacity(FIRST_CHUNK);
    (&mut reader)
        .take(FIRST_CHUNK as u64)
        .read_to_end(&mut first)?;
    if first.len() < FIRST_CHUNK {
        if size_hint.is_some_and(|hint| hint != first.len() as u64) {
            return Err(Error::Compression(
                "input length differs from the size hint",
            ));
        }
        // The whole input is here: exactly the block format, with its size and fallback.
        let block = Compressor::new(level)?.compress(&first)?;
        writer.write_all(&block)?;
        return Ok(StreamSummary {
            method: crate::format::inspect(&block)?.method,
            input_bytes: first.len() as u64,
            output_bytes: writer.count,
        });
    }
    if sniff::sniff(&first).store {
        writer.write_all(&[MARKER_STORED])?;
        writer.write_all(&first)?;
        let rest = io::copy(&mut reader, &mut writer)?;
        return Ok(StreamSummary {
            method: Method::Stored,
            input_bytes: first.len() as u64 + rest,
            output_bytes: writer.count,
        });
    }
    writer.write_all(&[MARKER_ZSTD])?;
    let mut encoder = zstd::stream::write::Encoder::new(&mut writer, level.get())?;
    encoder.include_checksum(true)?;
    encoder.include_contentsize(true)?;
    encoder.set_pledged_src_size(size_hint)?;
    encoder.write_all(&first)?;
    let rest = io::copy(&mut reader, &mut encoder)?;
    encoder
        .finish()
        .map_err(|_| Error::Compression("zstd could not finish the frame (wrong size hint?)"))?;
    Ok(StreamSummary {
        method: Method::Zstd,
        input_bytes: first.len() as u64 + rest,
        output_bytes: writer.count,
    })
}

/// Decompresses a stream (or block) from `reader` into `writer` under `limits`, returning the
/// number of bytes written. Output stops at the limit: nothing past it is written. Decoder
/// memory is bounded by a window of at most max(2 MiB, `max_output`) rounded up to a power of
/// two, capped at 128 MiB.
///
/// # Errors
/// As for blocks ([`Error::Malformed`], [`Error::Corrupt`], [`Error::OutputTooLarge`],
/// [`Error::RatioExceeded`]), plus [`Error::Io`]. A dictionary block gives
/// [`Error::Malformed`]. On error, `writer` may hold a prefix of the output: callers write to
/// a temporary place and keep it only on success.
pub fn decompress_stream<R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    limits: &Limits,
) -> Result<u64> {
    let mut marker = [0u8; 1];
    if read_full(&mut reader, &mut marker)? == 0 {
        return Err(Error::Malformed("empty block"));
    }
    match marker[0] {
        MARKER_STORED => copy_stored(reader, writer, limits),
        MARKER_ZSTD => decode_frame(reader, &mut writer, limits),
        MARKER_ZSTD_DICTIONARY => Err(Error::Malformed(
            "dictionary blocks are decoded whole, not as streams",
        )),
        other => Err(Error::UnknownMarker(other)),
    }
}

fn copy_stored<R: Read, W: Write>(reader: R, mut writer: W, limits: &Limits) -> Result<u64> {
    let mut limited = reader.take(limits.max_output());
    let copied = io::copy(&mut limited, &mut writer)?;
    let mut probe = [0u8; 1];
    if read_full(limited.get_mut(), &mut probe)? > 0 {
        return Err(Error::OutputTooLarge {
            size: copied + 1,
            limit: limits.max_output(),
        });
    }
    Ok(copied)
}

fn decode_frame<R: Read, W: Write>(mut reader: R, writer: &mut W, limits: &Limits) -> Result<u64> {
    let mut input = vec![0u8; DCtx::in_size().max(FRAME_HEADER_MAX)];
    // The frame header first: magic and checksum flag are required, and a declared size is
    // checked against the limit before anything is decoded.
    let mut filled = read_full(&mut reader, &mut input[..FRAME_HEADER_MAX])?;
    if let Some(declared) = frame_header(&input[..filled])? {
        limits.check_output(declared)?;
    }
    let mut context =
        DCtx::try_create().ok_or(Error::Compression("cannot allocate a zstd context"))?;
    let window_log = ceil_log2(limits.max_output()).clamp(MIN_WINDOW_LOG, MAX_WINDOW_LOG);
    context
        .set_parameter(DParameter::WindowLogMax(window_log))
        .map_err(zstd_error(Error::Compression))?;

    let mut output = vec![0u8; DCtx::out_size()];
    let mut position = 0usize;
    let mut consumed = 1 + filled as u64;
    let mut produced = 0u64;
    let mut output_was_full = false;
    loop {
        if position == filled && !output_was_full {
            filled = read_some(&mut reader, &mut input)?;
            position = 0;
            consumed += filled as u64;
            if filled == 0 {
                return Err(Error::Malformed("truncated frame"));
            }
        }
        let mut in_buffer = InBuffer::around(&input[..filled]);
        in_buffer.set_pos(position);
        let mut out_buffer = OutBuffer::around(&mut output[..]);
        let remaining = context
            .decompress_stream(&mut out_buffer, &mut in_buffer)
            .map_err(zstd_error(Error::Corrupt))?;
        position = in_buffer.pos();
        let written = out_buffer.pos();
        output_was_full = written == output.len();
        produced += written as u64;
        limits.check(produced, consumed)?;
        writer.write_all(&output[..written])?;
        if remaining == 0 {
            break;
        }
    }
    let mut probe = [0u8; 1];
    if position < filled || read_full(&mut reader, &mut probe)? > 0 {
        return Err(Error::Malformed("trailing bytes after the frame"));
    }
    Ok(produced)
}

/// Reads until `buf` is full or the reader ends; returns the bytes read.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// One successful read (retrying interruptions).
fn read_some<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Smallest `k` with `2^k >= n` (0 for n <= 1).
fn ceil_log2(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_log2_values() {
        assert_eq!(ceil_log2(0), 0);
        assert_eq!(ceil_log2(1), 0);
        assert_eq!(ceil_log2(2), 1);
        assert_eq!(ceil_log2(3), 2);
        assert_eq!(ceil_log2(1 << 20), 20);
        assert_eq!(ceil_log2((1 << 20) + 1), 21);
        assert_eq!(ceil_log2(u64::MAX), 64);
    }
}
