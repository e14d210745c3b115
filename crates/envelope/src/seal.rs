//! Sealing: the configuration, the whole-buffer sealer and the streaming [`Sealer`].

use std::fmt;
use std::io::{self, Write};

use zeroize::Zeroizing;

use crate::header::{DEFAULT_SEGMENT_SIZE, Header, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, SALT_LEN};
use crate::kdf;
use crate::segment::nonce;
use crate::suite::{SegmentCipher, Suite, TAG_LEN};
use crate::{DataKey, Error};

/// How new envelopes are sealed: the AEAD suite and the segment size. Opening needs no
/// configuration; the header says both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    suite: Suite,
    segment_size: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// AES-256-GCM in 64 KiB segments.
    pub const fn new() -> Config {
        Config {
            suite: Suite::Aes256Gcm,
            segment_size: DEFAULT_SEGMENT_SIZE,
        }
    }

    /// Uses `suite` for new envelopes.
    #[must_use]
    pub const fn with_suite(self, suite: Suite) -> Config {
        Config { suite, ..self }
    }

    /// Uses `segment_size` plaintext bytes per segment for new envelopes.
    ///
    /// Larger segments cost less (one 16-byte tag and one AEAD call each) but make a reader
    /// buffer more and make random access read more around the bytes it wants.
    ///
    /// # Errors
    /// [`Error::InvalidSegmentSize`] outside
    /// [`MIN_SEGMENT_SIZE`](crate::MIN_SEGMENT_SIZE)..=[`MAX_SEGMENT_SIZE`](crate::MAX_SEGMENT_SIZE).
    pub const fn with_segment_size(self, segment_size: u32) -> Result<Config, Error> {
        if segment_size < MIN_SEGMENT_SIZE || segment_size > MAX_SEGMENT_SIZE {
            return Err(Error::InvalidSegmentSize(segment_size));
        }
        Ok(Config {
            segment_size,
            ..self
        })
    }

    /// The suite new envelopes are sealed with.
    pub const fn suite(&self) -> Suite {
        self.suite
    }

    /// Plaintext bytes per segment of new envelopes.
    pub const fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// Seals `plaintext` into a new envelope under `key`, recording `key_ref` in the header and
    /// binding `context` (which must be presented again to open it).
    ///
    /// # Errors
    /// [`Error::KeyRefTooLong`], [`Error::Random`], or [`Error::TooLarge`] if the sealed size
    /// does not fit in memory.
    pub fn seal(
        &self,
        key: &DataKey,
        key_ref: &[u8],
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        seal_with_salt(self, key, key_ref, context, random_salt()?, plaintext)
    }

    /// Starts a streaming seal into `sink`; the header is written at once. Write the plaintext
    /// with [`Write`], then call [`Sealer::finish`].
    ///
    /// # Errors
    /// [`Error::KeyRefTooLong`], [`Error::Random`], or [`Error::Io`] if writing the header fails.
    pub fn sealer<W: Write>(
        &self,
        key: &DataKey,
        key_ref: &[u8],
        context: &[u8],
        sink: W,
    ) -> Result<Sealer<W>, Error> {
        Sealer::with_salt(self, key, key_ref, context, random_salt()?, sink)
    }
}

fn random_salt() -> Result<[u8; SALT_LEN], Error> {
    let mut salt = [0_u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(Error::Random)?;
    Ok(salt)
}

/// Builds a header and its payload cipher for a new envelope.
fn start(
    config: &Config,
    key: &DataKey,
    key_ref: &[u8],
    context: &[u8],
    salt: [u8; SALT_LEN],
) -> Result<(Header, SegmentCipher), Error> {
    let mut header = Header::unsealed(config.suite, config.segment_size, key_ref, salt)?;
    let derived = kdf::derive(key, &header, context)?;
    header.commitment = derived.commitment;
    Ok((header, derived.cipher))
}

/// Whole-buffer seal with a caller-chosen salt. Reusing a salt with the same key and context
/// reuses nonces, so only the public entry points (fresh random salt) and tests call this.
pub(crate) fn seal_with_salt(
    config: &Config,
    key: &DataKey,
    key_ref: &[u8],
    context: &[u8],
    salt: [u8; SALT_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let (header, cipher) = start(config, key, key_ref, context, salt)?;
    let geometry = header.geometry();
    let payload_len = geometry
        .payload_len(plaintext.len() as u64)
        .and_then(|len| usize::try_from(len).ok())
        .and_then(|len| len.checked_add(header.encoded_len()))
        .ok_or(Error::TooLarge)?;
    let mut out = Vec::with_capacity(payload_len);
    out.extend_from_slice(&header.to_bytes());

    let segment_len = usize::try_from(geometry.segment_len()).map_err(|_| Error::TooLarge)?;
    let count = geometry.segment_count(plaintext.len() as u64);
    let mut chunks = plaintext.chunks(segment_len);
    for index in 0..count {
        // `chunks` yields nothing for an empty plaintext, which is one empty final segment.
        let chunk = chunks.next().unwrap_or_default();
        let start = out.len();
        out.extend_from_slice(chunk);
        let tag =
            cipher.seal_in_place(&nonce(index, index + 1 == count), &[], &mut out[start..])?;
        out.extend_from_slice(&tag);
    }
    Ok(out)
}

/// A [`Write`] adapter that seals everything written to it into an envelope on `W`.
///
/// Memory is one segment buffer, whatever the object size. A full segment is sealed and
/// written only once more plaintext arrives, because until then it might be the final one;
/// [`Sealer::finish`] seals the last segment with the final flag and hands `W` back.
/// [`Write::flush`] flushes `W` but cannot emit a partial segment.
///
/// Dropping a sealer without calling `finish` leaves a stream with no final segment, which
/// every opener rejects as truncated. If writing to `W` fails, the sealer is poisoned: later
/// writes and `finish` return [`Error::Poisoned`].
pub struct Sealer<W: Write> {
    sink: W,
    cipher: SegmentCipher,
    /// Pending plaintext of the current segment; sealed in place, so capacity is segment + tag.
    buffer: Zeroizing<Vec<u8>>,
    segment_len: usize,
    next_index: u64,
    poisoned: bool,
}

impl<W: Write> Sealer<W> {
    pub(crate) fn with_salt(
        config: &Config,
        key: &DataKey,
        key_ref: &[u8],
        context: &[u8],
        salt: [u8; SALT_LEN],
        mut sink: W,
    ) -> Result<Sealer<W>, Error> {
        let (header, cipher) = start(config, key, key_ref, context, salt)?;
        let segment_len = usize::try_from(config.segment_size).map_err(|_| Error::TooLarge)?;
        sink.write_all(&header.to_bytes()).map_err(Error::Io)?;
        Ok(Sealer {
            sink,
            cipher,
            buffer: Zeroizing::new(Vec::with_capacity(segment_len + TAG_LEN)),
            segment_len,
            next_index: 0,
            poisoned: false,
        })
    }

    /// Seals the final segment, flushes the sink and returns it. Consuming the sealer makes
    /// writing after the end impossible.
    ///
    /// # Errors
    /// [`Error::Poisoned`] if an earlier write failed; [`Error::Io`] if this write fails.
    pub fn finish(mut self) -> Result<W, Error> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        self.seal_segment(true)?;
        self.sink.flush().map_err(Error::Io)?;
        let Sealer { sink, .. } = self;
        Ok(sink)
    }

    /// Seals the buffered segment and writes it out.
    fn seal_segment(&mut self, last: bool) -> Result<(), Error> {
        let index = self.next_index;
        // Only a non-final segment needs a successor index.
        let next = if last {
            index
        } else {
            index.checked_add(1).ok_or(Error::TooLarge)?
        };
        let tag = self
            .cipher
            .seal_in_place(&nonce(index, last), &[], &mut self.buffer)?;
        self.buffer.extend_from_slice(&tag);
        let written = self.sink.write_all(&self.buffer);
        self.buffer.clear();
        if let Err(error) = written {
            self.poisoned = true;
            return Err(Error::Io(error));
        }
        self.next_index = next;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buffer.capacity()
    }
}

impl<W: Write> Write for Sealer<W> {
    /// Absorbs up to one segment's worth of `data`, first sealing the buffered full segment if
    /// there is one.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.poisoned {
            return Err(Error::Poisoned.into());
        }
        if data.is_empty() {
            return Ok(0);
        }
        if self.buffer.len() == self.segment_len {
            self.seal_segment(false)?;
        }
        let take = data.len().min(self.segment_len - self.buffer.len());
        self.buffer.extend_from_slice(&data[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

impl<W: Write> fmt::Debug for Sealer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("segment_len", &self.segment_len)
            .field("segments_written", &self.next_index)
            .field("buffered", &self.buffer.len())
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}
