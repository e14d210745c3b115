//! Opening: the whole-buffer opener and the streaming [`Opener`].

use std::fmt;
use std::io::{self, BufRead, Read};

use zeroize::Zeroizing;

use crate::header::{Header, read_up_to};
use crate::kdf;
use crate::segment::open_segment;
use crate::suite::{SegmentCipher, TAG_LEN};
use crate::{DataKey, Error};

/// Opens a whole envelope held in memory and returns its plaintext.
///
/// `key` must be the data key named by the header's key reference (see [`Header::parse`] to
/// read it first) and `context` the encryption context the envelope was sealed with. Every
/// segment is authenticated before anything is returned.
///
/// # Errors
/// [`Error::Authentication`] for a wrong key or context and for any modified, truncated,
/// reordered or extended envelope; header errors as in [`Header::parse`].
pub fn open(key: &DataKey, context: &[u8], envelope: &[u8]) -> Result<Vec<u8>, Error> {
    let header = Header::parse(envelope)?;
    let cipher = kdf::unlock(key, &header, context)?;
    let payload = envelope
        .get(header.encoded_len()..)
        .ok_or(Error::Authentication)?;
    let geometry = header.geometry();
    let plaintext_len = geometry.plaintext_len(payload.len() as u64)?;
    let count = geometry.segment_count(plaintext_len);
    let sealed_len = usize::try_from(geometry.sealed_segment_len()).map_err(|_| Error::TooLarge)?;

    // Each sealed segment is copied to the end of `out` and opened there; an AEAD failure
    // leaves ciphertext, never unauthenticated plaintext, and the buffer is wiped on drop.
    let mut out = Zeroizing::new(Vec::with_capacity(payload.len()));
    for (index, sealed) in (0..count).zip(payload.chunks(sealed_len)) {
        let start = out.len();
        out.extend_from_slice(sealed);
        let opened = open_segment(&cipher, index, index + 1 == count, &mut out[start..])?;
        out.truncate(start + opened);
    }
    Ok(std::mem::take(&mut *out))
}

/// A [`Read`] (and [`BufRead`]) adapter that opens an envelope streamed from `R`.
///
/// It holds one segment (plus one byte of look-ahead, which is how it knows a segment is the
/// final one) and releases a segment's plaintext only after that segment has authenticated.
/// Reading returns `Ok(0)` only after the final segment has authenticated, so a consumer that
/// reads to the end has seen the whole, untruncated, unextended plaintext. Plaintext of the
/// segments before a failure has been returned by then: a consumer that needs all-or-nothing
/// must hold its output until the end (or use [`open`]).
///
/// Errors come out of [`Read`] as [`io::Error`]s; `Error::from(io_error)` recovers the envelope
/// error (for example [`Error::Authentication`]). After any error the opener stays failed:
/// later reads return [`Error::Poisoned`]. `R` must be a blocking reader.
pub struct Opener<R: Read> {
    source: R,
    cipher: SegmentCipher,
    header: Header,
    /// One sealed segment plus one look-ahead byte; plaintext after opening.
    buffer: Zeroizing<Vec<u8>>,
    segment_len: usize,
    /// Plaintext window of the current segment still to be returned.
    pos: usize,
    end: usize,
    /// Whether `buffer[segment_len + TAG_LEN]` holds the first byte of the next segment.
    carry: bool,
    next_index: u64,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Reading,
    Done,
    Failed,
}

impl<R: Read> Opener<R> {
    /// Reads the header from `source` and checks the key commitment under `key` and `context`.
    ///
    /// # Errors
    /// Header errors as in [`Header::parse`], [`Error::Authentication`] if the commitment does
    /// not verify, [`Error::Io`] if reading fails.
    pub fn new(key: &DataKey, context: &[u8], mut source: R) -> Result<Opener<R>, Error> {
        let header = Header::read_from(&mut source)?;
        Opener::with_header(header, key, context, source)
    }

    /// Continues after the caller read the header with [`Header::read_from`] (typically to look
    /// up the data key its key reference names); `source` must be positioned right after it.
    ///
    /// # Errors
    /// [`Error::Authentication`] if the commitment does not verify under `key` and `context`.
    pub fn with_header(
        header: Header,
        key: &DataKey,
        context: &[u8],
        source: R,
    ) -> Result<Opener<R>, Error> {
        let cipher = kdf::unlock(key, &header, context)?;
        // Allocated only now, after the header authenticated, so a forged header cannot make
        // an opener reserve MAX_SEGMENT_SIZE bytes.
        let segment_len = usize::try_from(header.segment_size).map_err(|_| Error::TooLarge)?;
        let buffer = Zeroizing::new(vec![0_u8; segment_len + TAG_LEN + 1]);
        Ok(Opener {
            source,
            cipher,
            header,
            buffer,
            segment_len,
            pos: 0,
            end: 0,
            carry: false,
            next_index: 0,
            state: State::Reading,
        })
    }

    /// The envelope's (authenticated) header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads, authenticates and decrypts the next segment into `buffer[..end]`.
    fn next_segment(&mut self) -> Result<(), Error> {
        let sealed_len = self.segment_len + TAG_LEN;
        let mut filled = 0;
        if self.carry {
            self.buffer[0] = self.buffer[sealed_len];
            filled = 1;
        }
        filled += read_up_to(&mut self.source, &mut self.buffer[filled..])?;
        // A byte beyond a full segment means another segment follows; otherwise the source
        // ended and this is the final segment.
        let last = filled <= sealed_len;
        self.carry = !last;
        let sealed = if last { filled } else { sealed_len };
        let index = self.next_index;
        let opened = open_segment(&self.cipher, index, last, &mut self.buffer[..sealed])?;
        self.pos = 0;
        self.end = opened;
        if last {
            self.state = State::Done;
        } else {
            self.next_index = index.checked_add(1).ok_or(Error::TooLarge)?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buffer.capacity()
    }
}

impl<R: Read> BufRead for Opener<R> {
    /// Returns authenticated plaintext of the current segment, opening the next one when the
    /// current one is used up; empty only at the authenticated end of the envelope.
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.end {
            match self.state {
                State::Done => return Ok(&[]),
                State::Failed => return Err(Error::Poisoned.into()),
                State::Reading => {
                    if let Err(error) = self.next_segment() {
                        self.state = State::Failed;
                        self.pos = 0;
                        self.end = 0;
                        return Err(error.into());
                    }
                }
            }
        }
        Ok(&self.buffer[self.pos..self.end])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = self.pos.saturating_add(amount).min(self.end);
    }
}

impl<R: Read> Read for Opener<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> fmt::Debug for Opener<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opener")
            .field("header", &self.header)
            .field("segments_opened", &self.next_index)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
