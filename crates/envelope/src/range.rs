//! Random access: open a plaintext byte range by reading only the segments that cover it.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;

use zeroize::Zeroizing;

use crate::header::Header;
use crate::kdf;
use crate::segment::open_segment;
use crate::suite::SegmentCipher;
use crate::{DataKey, Error};

/// Which ciphertext bytes cover a plaintext range, and how to open them.
///
/// Made by [`Header::plan_range`] from the header and the envelope's total length. The total
/// length decides the segment count, so the plan knows whether its last segment is the
/// envelope's final one and opens it with the final flag. A range that reaches the end of the
/// plaintext (even an empty one) always includes the final segment, so it detects truncation
/// and extension. Other segments outside the range are neither read nor checked; use
/// [`open`](crate::open) or [`Opener`](crate::Opener) to verify a whole object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangePlan {
    header: Header,
    /// Plaintext range requested.
    range: Range<u64>,
    /// Segments `first..first + count` cover the range (`count` is 0 for an empty range).
    first: u64,
    count: u64,
    /// Index of the envelope's final segment.
    last_index: u64,
    /// Absolute byte offsets of the covering segments within the envelope.
    ciphertext: Range<u64>,
}

impl RangePlan {
    pub(crate) fn new(
        header: Header,
        envelope_len: u64,
        range: Range<u64>,
    ) -> Result<RangePlan, Error> {
        let plaintext_len = header.plaintext_len(envelope_len)?;
        if range.start > range.end || range.end > plaintext_len {
            return Err(Error::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                plaintext_len,
            });
        }
        let geometry = header.geometry();
        let segment = geometry.segment_len();
        let sealed = geometry.sealed_segment_len();
        let payload_start = header.encoded_len() as u64;
        let last_index = geometry.segment_count(plaintext_len) - 1;
        let (first, count) = if range.end == plaintext_len {
            // A range that reaches the end always includes the final segment, even when it is
            // empty, so it is the final flag that vouches for where the plaintext ends.
            let first = (range.start / segment).min(last_index);
            (first, last_index - first + 1)
        } else if range.is_empty() {
            (range.start / segment, 0)
        } else {
            let first = range.start / segment;
            (first, (range.end - 1) / segment - first + 1)
        };
        // Offsets stay below `envelope_len`, so none of this can overflow.
        let start = (payload_start + first * sealed).min(envelope_len);
        let end = (payload_start + (first + count) * sealed).min(envelope_len);
        Ok(RangePlan {
            header,
            range,
            first,
            count,
            last_index,
            ciphertext: start..end.max(start),
        })
    }

    /// The envelope bytes to fetch: pass exactly these to [`RangePlan::open`].
    pub fn ciphertext_range(&self) -> Range<u64> {
        self.ciphertext.clone()
    }

    /// The plaintext range this plan opens.
    pub fn plaintext_range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// Authenticates and decrypts the covering segments in `ciphertext` (the envelope bytes at
    /// [`RangePlan::ciphertext_range`]) and returns the requested plaintext. The key commitment
    /// is checked even for an empty range.
    ///
    /// # Errors
    /// [`Error::RangeCiphertextLength`] if `ciphertext` is not the planned span;
    /// [`Error::Authentication`] for a wrong key or context or any modified covering segment.
    pub fn open(&self, key: &DataKey, context: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
        let expected = self.ciphertext.end - self.ciphertext.start;
        if ciphertext.len() as u64 != expected {
            return Err(Error::RangeCiphertextLength {
                expected,
                actual: ciphertext.len() as u64,
            });
        }
        let cipher = kdf::unlock(key, &self.header, context)?;
        let sealed_len = self.sealed_len()?;
        let mut segments = ciphertext.chunks(sealed_len);
        self.open_each(&cipher, |buffer| {
            let sealed = segments.next().ok_or(Error::Authentication)?;
            buffer.extend_from_slice(sealed);
            Ok(())
        })
    }

    /// Opens the covering segments one by one; `fetch` appends the next sealed segment to the
    /// buffer it is given. Only the requested bytes of each opened segment are kept.
    fn open_each(
        &self,
        cipher: &SegmentCipher,
        mut fetch: impl FnMut(&mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<Vec<u8>, Error> {
        let segment = self.header.geometry().segment_len();
        let wanted =
            usize::try_from(self.range.end - self.range.start).map_err(|_| Error::TooLarge)?;
        let mut out = Zeroizing::new(Vec::with_capacity(wanted));
        for index in self.first..self.first + self.count {
            let start = out.len();
            fetch(&mut out)?;
            let opened = open_segment(cipher, index, index == self.last_index, &mut out[start..])?;
            // Keep the part of this segment's plaintext that lies inside the range.
            let segment_start = index * segment;
            let keep_from = self.range.start.saturating_sub(segment_start);
            let keep_to = (self.range.end - segment_start).min(opened as u64);
            let (keep_from, keep_to) = (to_usize(keep_from)?, to_usize(keep_to)?);
            out.copy_within(start + keep_from..start + keep_to, start);
            out.truncate(start + keep_to - keep_from);
        }
        Ok(std::mem::take(&mut *out))
    }

    fn sealed_len(&self) -> Result<usize, Error> {
        to_usize(self.header.geometry().sealed_segment_len())
    }
}

fn to_usize(value: u64) -> Result<usize, Error> {
    usize::try_from(value).map_err(|_| Error::TooLarge)
}

/// Opens plaintext bytes `range` of the envelope in `source`, reading only its header and the
/// segments that cover the range (one at a time, so memory is the range plus one segment).
///
/// The source's length (found by seeking to its end) determines the segment count, so a range
/// that reaches the end also detects truncation and extension; see [`RangePlan`].
///
/// # Errors
/// Header errors as in [`Header::parse`]; [`Error::RangeOutOfBounds`];
/// [`Error::Authentication`] for a wrong key or context, an impossible length, or a modified
/// covering segment; [`Error::Io`] if reading or seeking fails.
pub fn open_range<S: Read + Seek>(
    key: &DataKey,
    context: &[u8],
    mut source: S,
    range: Range<u64>,
) -> Result<Vec<u8>, Error> {
    let envelope_len = source.seek(SeekFrom::End(0)).map_err(Error::Io)?;
    source.seek(SeekFrom::Start(0)).map_err(Error::Io)?;
    let header = Header::read_from(&mut source)?;
    let plan = header.plan_range(envelope_len, range)?;
    let cipher = kdf::unlock(key, &plan.header, context)?;
    source
        .seek(SeekFrom::Start(plan.ciphertext.start))
        .map_err(Error::Io)?;
    let sealed_len = plan.sealed_len()? as u64;
    let mut position = plan.ciphertext.start;
    plan.open_each(&cipher, |buffer| {
        let take = sealed_len.min(plan.ciphertext.end - position);
        position += take;
        let start = buffer.len();
        buffer.resize(start + to_usize(take)?, 0);
        source.read_exact(&mut buffer[start..]).map_err(Error::Io)
    })
}
