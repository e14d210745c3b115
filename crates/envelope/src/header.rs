//! The envelope header: layout, strict parsing and encoding.
//!
//! ```text
//! offset  size  field
//!      0     5  magic "CFENV"
//!      5     1  format version (1)
//!      6     1  suite id (1 = AES-256-GCM, 2 = ChaCha20-Poly1305)
//!      7     4  segment size, big-endian u32, MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE
//!     11     2  key reference length n, big-endian u16
//!     13     n  key reference (opaque, chosen by the caller)
//!   13+n    32  salt (random per envelope)
//!   45+n    32  key commitment
//! ```
//! Every field has exactly one valid encoding, so a parsed header re-encodes to the same bytes;
//! the key commitment authenticates all of them (see `kdf`).

use std::io::{self, Read};
use std::ops::Range;

use crate::segment::Geometry;
use crate::suite::Suite;
use crate::{Error, RangePlan};

/// The five bytes every envelope starts with.
pub const MAGIC: [u8; 5] = *b"CFENV";
/// The format version this build writes and reads.
pub const VERSION: u8 = 1;
/// Length of the per-envelope random salt.
pub const SALT_LEN: usize = 32;
/// Length of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Smallest segment size the format allows (tiny segments exist for tests, not production).
pub const MIN_SEGMENT_SIZE: u32 = 16;
/// Largest segment size the format allows; it bounds what an opener buffers (16 MiB).
pub const MAX_SEGMENT_SIZE: u32 = 1 << 24;
/// Segment size used unless configured otherwise (64 KiB).
pub const DEFAULT_SEGMENT_SIZE: u32 = 1 << 16;
/// Longest key reference the header's 16-bit length field can carry.
pub const MAX_KEY_REF_LEN: usize = u16::MAX as usize;

/// Bytes from the magic through the segment size: the parameters the payload key is bound to.
pub(crate) const PARAMS_LEN: usize = 11;
/// Bytes before the key reference.
const FIXED_LEN: usize = PARAMS_LEN + 2;
/// Bytes after the key reference.
const TRAILER_LEN: usize = SALT_LEN + COMMITMENT_LEN;
/// Header length apart from the key reference.
pub(crate) const HEADER_OVERHEAD: usize = FIXED_LEN + TRAILER_LEN;

const TRUNCATED: &str = "truncated header";

/// A parsed envelope header.
///
/// Nothing in a header is secret: the key reference tells the caller which data key to fetch
/// (typically a KEK id and version plus the wrapped DEK), and the rest tells the opener how the
/// payload is laid out. Nothing in it is trusted either until an opener has checked the key
/// commitment, which authenticates every header byte under the data key and the context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub(crate) suite: Suite,
    pub(crate) segment_size: u32,
    pub(crate) key_ref: Vec<u8>,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) commitment: [u8; COMMITMENT_LEN],
}

impl Header {
    /// Parses the header at the start of `bytes`; anything after it is ignored.
    /// [`Header::encoded_len`] says where the payload starts.
    ///
    /// # Errors
    /// [`Error::NotAnEnvelope`] if the magic is wrong, [`Error::UnsupportedVersion`] or
    /// [`Error::UnsupportedSuite`] for ids this build does not know, and
    /// [`Error::MalformedHeader`] if the header is cut short or a field is out of range.
    pub fn parse(bytes: &[u8]) -> Result<Header, Error> {
        let magic_seen = bytes.len().min(MAGIC.len());
        if bytes[..magic_seen] != MAGIC[..magic_seen] {
            return Err(Error::NotAnEnvelope);
        }
        let mut fields = Fields { bytes, pos: 0 };
        fields.take(MAGIC.len())?;
        // The version is checked before anything else is interpreted: a later version may
        // lay out the rest differently.
        let version = fields.u8()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        let suite_id = fields.u8()?;
        let suite = Suite::from_id(suite_id).ok_or(Error::UnsupportedSuite(suite_id))?;
        let segment_size = u32::from_be_bytes(fields.array()?);
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(Error::MalformedHeader("segment size out of range"));
        }
        let key_ref_len = usize::from(u16::from_be_bytes(fields.array()?));
        let key_ref = fields.take(key_ref_len)?.to_vec();
        let salt = fields.array()?;
        let commitment = fields.array()?;
        Ok(Header {
            suite,
            segment_size,
            key_ref,
            salt,
            commitment,
        })
    }

    /// Reads exactly one header from `reader`, leaving it positioned at the first segment.
    ///
    /// At most [`MAX_KEY_REF_LEN`] + 77 bytes are buffered, whatever the input claims.
    ///
    /// # Errors
    /// As [`Header::parse`]; [`Error::Io`] if reading fails.
    pub fn read_from<R: Read>(mut reader: R) -> Result<Header, Error> {
        let mut fixed = [0_u8; FIXED_LEN];
        let got = read_up_to(&mut reader, &mut fixed)?;
        if got < FIXED_LEN {
            // `parse` says what is wrong with the short prefix: magic, version, suite or length.
            let short = Header::parse(&fixed[..got]).err();
            return Err(short.unwrap_or(Error::MalformedHeader(TRUNCATED)));
        }
        // Validate the fixed fields before allocating for the variable part; on their own they
        // can only be "truncated".
        match Header::parse(&fixed) {
            Err(Error::MalformedHeader(TRUNCATED)) | Ok(_) => {}
            Err(other) => return Err(other),
        }
        let key_ref_len = usize::from(u16::from_be_bytes([fixed[11], fixed[12]]));
        let mut encoded = vec![0_u8; HEADER_OVERHEAD + key_ref_len];
        encoded[..FIXED_LEN].copy_from_slice(&fixed);
        let got = read_up_to(&mut reader, &mut encoded[FIXED_LEN..])?;
        if got < key_ref_len + TRAILER_LEN {
            return Err(Error::MalformedHeader(TRUNCATED));
        }
        Header::parse(&encoded)
    }

    /// The encoded header: exactly the bytes [`Header::parse`] read.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_prefix(&mut out);
        out.extend_from_slice(&self.commitment);
        out
    }

    /// Length of the encoded header; the first segment starts at this offset.
    pub fn encoded_len(&self) -> usize {
        HEADER_OVERHEAD + self.key_ref.len()
    }

    /// Format version (always [`VERSION`] for a header this build parsed).
    pub fn version(&self) -> u8 {
        VERSION
    }

    /// The AEAD suite the segments are sealed with.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Plaintext bytes per segment (the final segment may hold fewer).
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// The caller's key reference: which data key opens this envelope.
    pub fn key_ref(&self) -> &[u8] {
        &self.key_ref
    }

    /// The per-envelope salt.
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// The key commitment.
    pub fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// Plaintext length of an envelope of `envelope_len` bytes (header included) with this
    /// header. Only the length is checked here, not the segments.
    ///
    /// # Errors
    /// [`Error::Authentication`] if no envelope with this header can have that length (it was
    /// truncated or extended).
    pub fn plaintext_len(&self, envelope_len: u64) -> Result<u64, Error> {
        let payload_len = envelope_len
            .checked_sub(self.encoded_len() as u64)
            .ok_or(Error::Authentication)?;
        self.geometry().plaintext_len(payload_len)
    }

    /// Plans the decryption of plaintext bytes `range` of an envelope of `envelope_len` bytes
    /// (header included): which ciphertext bytes to fetch, and how to open them. This is the
    /// building block for random access over any storage; [`open_range`](crate::open_range)
    /// uses it over `Read + Seek`.
    ///
    /// # Errors
    /// [`Error::Authentication`] if `envelope_len` is impossible for this header;
    /// [`Error::RangeOutOfBounds`] if `range` is reversed or ends past the plaintext.
    pub fn plan_range(&self, envelope_len: u64, range: Range<u64>) -> Result<RangePlan, Error> {
        RangePlan::new(self.clone(), envelope_len, range)
    }

    /// Returns this header with its key reference replaced and its commitment recomputed, after
    /// checking that it authenticates under `key` and `context`.
    ///
    /// This is how a data key is re-wrapped under a new KEK version without re-encrypting the
    /// payload: the payload key does not depend on the key reference, so the new header followed
    /// by the old envelope's segments (`&envelope[old.encoded_len()..]`) is a valid envelope.
    /// Only a holder of the data key can do this; to anyone else the header stays immutable.
    ///
    /// # Errors
    /// [`Error::Authentication`] if this header does not verify under `key` and `context`;
    /// [`Error::KeyRefTooLong`] if `key_ref` does not fit the header.
    pub fn replace_key_ref(
        &self,
        key: &crate::DataKey,
        context: &[u8],
        key_ref: &[u8],
    ) -> Result<Header, Error> {
        crate::kdf::unlock(key, self, context)?;
        let mut replaced = Header::unsealed(self.suite, self.segment_size, key_ref, self.salt)?;
        replaced.commitment = crate::kdf::derive(key, &replaced, context)?.commitment;
        Ok(replaced)
    }

    /// A header for a new envelope whose commitment is still to be computed.
    pub(crate) fn unsealed(
        suite: Suite,
        segment_size: u32,
        key_ref: &[u8],
        salt: [u8; SALT_LEN],
    ) -> Result<Header, Error> {
        if key_ref.len() > MAX_KEY_REF_LEN {
            return Err(Error::KeyRefTooLong(key_ref.len()));
        }
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(Error::InvalidSegmentSize(segment_size));
        }
        Ok(Header {
            suite,
            segment_size,
            key_ref: key_ref.to_vec(),
            salt,
            commitment: [0; COMMITMENT_LEN],
        })
    }

    /// Appends every header byte before the commitment to `out`.
    pub(crate) fn encode_prefix(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(self.suite.id());
        out.extend_from_slice(&self.segment_size.to_be_bytes());
        // `unsealed` and `parse` both bound the key reference to u16::MAX bytes.
        let key_ref_len = u16::try_from(self.key_ref.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&key_ref_len.to_be_bytes());
        out.extend_from_slice(&self.key_ref);
        out.extend_from_slice(&self.salt);
    }

    pub(crate) fn geometry(&self) -> Geometry {
        Geometry::new(self.segment_size)
    }
}

/// A cursor over header bytes whose every shortfall is a truncated header.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(Error::MalformedHeader(TRUNCATED))?;
        let field = self
            .bytes
            .get(self.pos..end)
            .ok_or(Error::MalformedHeader(TRUNCATED))?;
        self.pos = end;
        Ok(field)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0_u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
}

/// Reads until `buf` is full or the reader is exhausted; returns how many bytes were read.
pub(crate) fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> Result<usize, Error> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from(e)),
        }
    }
    Ok(filled)
}
