//! The public API's contracts: typed errors, header parsing, streaming adapters, and range
//! opening that reads only the segments it needs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::io::{self, BufRead, Cursor, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::rc::Rc;

use coffer_envelope::{
    Config, DataKey, Error, Header, MAX_KEY_REF_LEN, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, Opener,
    SEGMENT_OVERHEAD, Suite, open, open_range, seal,
};
use secrecy::ExposeSecret;

fn key(byte: u8) -> DataKey {
    DataKey::from_slice(&[byte; 32]).unwrap()
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
fn data_keys_never_print_and_reject_wrong_lengths() {
    let key = DataKey::from_slice(&[0xab; 32]).unwrap();
    let printed = format!("{key:?} {key:#?}");
    assert!(!printed.to_lowercase().contains("ab, ") && !printed.contains("171"));
    assert!(printed.contains("REDACTED"));
    assert_eq!(key.expose_secret(), &[0xab; 32]);
    assert!(matches!(
        DataKey::from_slice(&[0; 31]),
        Err(Error::InvalidKeyLength(31))
    ));
    assert!(matches!(
        DataKey::from_slice(&[0; 33]),
        Err(Error::InvalidKeyLength(33))
    ));
    let (a, b) = (DataKey::generate().unwrap(), DataKey::generate().unwrap());
    assert_ne!(a.expose_secret(), b.expose_secret());
}

#[test]
fn configuration_bounds_are_enforced() {
    assert_eq!(Config::default().segment_size(), 65536);
    assert_eq!(Config::default().suite(), Suite::Aes256Gcm);
    assert!(Config::new().with_segment_size(MIN_SEGMENT_SIZE).is_ok());
    assert!(Config::new().with_segment_size(MAX_SEGMENT_SIZE).is_ok());
    assert!(matches!(
        Config::new().with_segment_size(MIN_SEGMENT_SIZE - 1),
        Err(Error::InvalidSegmentSize(15))
    ));
    assert!(matches!(
        Config::new().with_segment_size(MAX_SEGMENT_SIZE + 1),
        Err(Error::InvalidSegmentSize(_))
    ));
}

#[test]
fn key_references_up_to_the_limit_are_carried() {
    let longest = vec![7_u8; MAX_KEY_REF_LEN];
    let envelope = seal(&key(1), &longest, b"c", b"x").unwrap();
    assert_eq!(
        Header::parse(&envelope).unwrap().key_ref(),
        longest.as_slice()
    );
    assert_eq!(open(&key(1), b"c", &envelope).unwrap(), b"x");
    let too_long = vec![7_u8; MAX_KEY_REF_LEN + 1];
    assert!(matches!(
        seal(&key(1), &too_long, b"c", b"x"),
        Err(Error::KeyRefTooLong(65536))
    ));
    let sink = Config::new().sealer(&key(1), &too_long, b"c", Vec::new());
    assert!(matches!(sink, Err(Error::KeyRefTooLong(_))));
}

#[test]
fn each_envelope_uses_a_fresh_salt() {
    let a = seal(&key(1), b"r", b"c", b"same").unwrap();
    let b = seal(&key(1), b"r", b"c", b"same").unwrap();
    assert_ne!(
        Header::parse(&a).unwrap().salt(),
        Header::parse(&b).unwrap().salt()
    );
    assert_ne!(a, b);
}

#[test]
fn header_errors_are_typed() {
    let envelope = seal(&key(1), b"ref", b"c", b"payload").unwrap();
    let with = |at: usize, value: u8| {
        let mut e = envelope.clone();
        e[at] = value;
        e
    };
    assert!(matches!(Header::parse(b""), Err(Error::MalformedHeader(_))));
    assert!(matches!(
        Header::parse(b"CF"),
        Err(Error::MalformedHeader(_))
    ));
    assert!(matches!(
        Header::parse(b"PK\x03\x04"),
        Err(Error::NotAnEnvelope)
    ));
    assert!(matches!(
        Header::parse(&with(0, b'X')),
        Err(Error::NotAnEnvelope)
    ));
    assert!(matches!(
        Header::parse(&with(5, 2)),
        Err(Error::UnsupportedVersion(2))
    ));
    assert!(matches!(
        Header::parse(&with(6, 0)),
        Err(Error::UnsupportedSuite(0))
    ));
    assert!(matches!(
        Header::parse(&with(6, 9)),
        Err(Error::UnsupportedSuite(9))
    ));
    assert!(matches!(
        Header::parse(&with(7, 0x02)),
        Err(Error::MalformedHeader(_))
    ));
    assert_eq!(Header::parse(&envelope[..80]).unwrap().encoded_len(), 80);
    assert!(matches!(
        Header::parse(&envelope[..79]),
        Err(Error::MalformedHeader(_))
    ));
    // The same errors come out of the openers.
    assert!(matches!(
        open(&key(1), b"c", &with(5, 2)),
        Err(Error::UnsupportedVersion(2))
    ));
    assert!(matches!(
        Opener::new(&key(1), b"c", &with(6, 9)[..]),
        Err(Error::UnsupportedSuite(9))
    ));
    assert_eq!(
        Error::Authentication.to_string(),
        "envelope authentication failed"
    );
}

#[test]
fn header_reads_from_a_stream_exactly_as_it_parses() {
    let envelope = Config::new()
        .with_suite(Suite::ChaCha20Poly1305)
        .seal(&key(1), b"kek-v9", b"c", &data(1000))
        .unwrap();
    let parsed = Header::parse(&envelope).unwrap();
    assert_eq!(parsed.to_bytes(), envelope[..parsed.encoded_len()]);
    assert_eq!(parsed.version(), 1);
    assert_eq!(parsed.suite(), Suite::ChaCha20Poly1305);
    assert_eq!(parsed.segment_size(), 65536);

    let mut reader = Cursor::new(&envelope);
    let read = Header::read_from(&mut reader).unwrap();
    assert_eq!(read, parsed);
    assert_eq!(reader.position(), parsed.encoded_len() as u64);

    // Look up the key from the header, then continue on the same reader.
    assert_eq!(read.key_ref(), b"kek-v9");
    let mut opener = Opener::with_header(read, &key(1), b"c", reader).unwrap();
    let mut out = Vec::new();
    opener.read_to_end(&mut out).unwrap();
    assert_eq!(out, data(1000));

    for cut in 0..parsed.encoded_len() {
        let short = Header::read_from(&envelope[..cut]).unwrap_err();
        let parse = Header::parse(&envelope[..cut]).unwrap_err();
        assert_eq!(short.to_string(), parse.to_string(), "cut {cut}");
    }
}

#[test]
fn io_errors_carry_the_envelope_error() {
    let mut envelope = Config::new()
        .with_segment_size(64)
        .unwrap()
        .seal(&key(1), b"", b"c", &data(500))
        .unwrap();
    let last = envelope.len() - 1;
    envelope[last] ^= 0x80;
    let mut opener = Opener::new(&key(1), b"c", envelope.as_slice()).unwrap();
    let error = io::copy(&mut opener, &mut io::sink()).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    assert!(matches!(Error::from(error), Error::Authentication));
    // Plain I/O errors stay I/O errors.
    let plain = Error::from(io::Error::new(io::ErrorKind::BrokenPipe, "gone"));
    assert!(matches!(plain, Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe));
}

#[test]
fn buf_read_hands_out_whole_authenticated_segments() {
    let cfg = Config::new().with_segment_size(100).unwrap();
    let envelope = cfg.seal(&key(1), b"", b"c", &data(250)).unwrap();
    let mut opener = Opener::new(&key(1), b"c", envelope.as_slice()).unwrap();
    let mut sizes = Vec::new();
    loop {
        let n = opener.fill_buf().unwrap().len();
        if n == 0 {
            break;
        }
        sizes.push(n);
        opener.consume(n);
    }
    assert_eq!(sizes, [100, 100, 50]);
}

/// A sink that accepts `budget` bytes and then fails.
struct FailingSink {
    budget: usize,
}

impl Write for FailingSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "full"));
        }
        let n = data.len().min(self.budget);
        self.budget -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_sealer_whose_sink_failed_is_poisoned() {
    let cfg = Config::new().with_segment_size(16).unwrap();
    let header_len = 77 + 3;
    let mut sealer = cfg
        .sealer(
            &key(1),
            b"ref",
            b"c",
            FailingSink {
                budget: header_len + 10,
            },
        )
        .unwrap();
    let error = sealer.write_all(&data(100)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::StorageFull);
    let again = sealer.write(b"more").unwrap_err();
    assert!(matches!(Error::from(again), Error::Poisoned));
    assert!(matches!(sealer.finish(), Err(Error::Poisoned)));

    let header_fails = cfg.sealer(&key(1), b"ref", b"c", FailingSink { budget: 5 });
    assert!(matches!(header_fails, Err(Error::Io(_))));
}

/// A `Read + Seek` source that records which byte ranges were read.
struct Recording<'a> {
    inner: Cursor<&'a [u8]>,
    reads: Rc<RefCell<Vec<Range<u64>>>>,
}

impl Read for Recording<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let start = self.inner.position();
        let n = self.inner.read(out)?;
        if n > 0 {
            self.reads.borrow_mut().push(start..start + n as u64);
        }
        Ok(n)
    }
}

impl Seek for Recording<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

#[test]
fn range_open_reads_only_the_header_and_the_covering_segments() {
    let segment = 1000_usize;
    let sealed = (segment + SEGMENT_OVERHEAD) as u64;
    let cfg = Config::new().with_segment_size(segment as u32).unwrap();
    let pt = data(10 * segment + 123);
    let envelope = cfg.seal(&key(1), b"ref", b"c", &pt).unwrap();
    let header = Header::parse(&envelope).unwrap();
    let h = header.encoded_len() as u64;

    for (start, end, first, last) in [
        (0, 1, 0, 0),
        (999, 1001, 0, 1),
        (4500, 4600, 4, 4),
        (2000, 5000, 2, 4),
        (10_000, 10_123, 10, 10),
        (9_999, 10_123, 9, 10),
    ] {
        let reads = Rc::new(RefCell::new(Vec::new()));
        let source = Recording {
            inner: Cursor::new(&envelope),
            reads: Rc::clone(&reads),
        };
        let got = open_range(&key(1), b"c", source, start..end).unwrap();
        assert_eq!(got, pt[start as usize..end as usize]);

        let wanted = h + first * sealed..(h + (last + 1) * sealed).min(envelope.len() as u64);
        let plan = header
            .plan_range(envelope.len() as u64, start..end)
            .unwrap();
        assert_eq!(plan.ciphertext_range(), wanted);
        let mut read_bytes = 0;
        for read in reads.borrow().iter() {
            assert!(
                read.end <= h || (read.start >= wanted.start && read.end <= wanted.end),
                "read {read:?} outside the header and {wanted:?}"
            );
            read_bytes += read.end - read.start;
        }
        assert_eq!(read_bytes, h + (wanted.end - wanted.start));

        // The same plan over a fetched slice.
        let fetched = &envelope[wanted.start as usize..wanted.end as usize];
        assert_eq!(plan.open(&key(1), b"c", fetched).unwrap(), got);
    }
}

#[test]
fn range_plans_check_their_arguments_and_the_key() {
    let cfg = Config::new().with_segment_size(32).unwrap();
    let envelope = cfg.seal(&key(1), b"", b"c", &data(100)).unwrap();
    let header = Header::parse(&envelope).unwrap();
    let len = envelope.len() as u64;
    assert_eq!(header.plaintext_len(len).unwrap(), 100);
    // 164 payload bytes = 3 sealed segments of 48 + a final of 20; 15 left over is no segment.
    assert_eq!(header.plaintext_len(len - 1).unwrap(), 99);
    assert!(matches!(
        header.plaintext_len(len - 5),
        Err(Error::Authentication)
    ));
    assert!(matches!(
        header.plaintext_len(3),
        Err(Error::Authentication)
    ));
    assert!(matches!(
        header.plan_range(len, 50..101),
        Err(Error::RangeOutOfBounds {
            start: 50,
            end: 101,
            plaintext_len: 100
        })
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = header.plan_range(len, 60..50);
    assert!(matches!(reversed, Err(Error::RangeOutOfBounds { .. })));

    let plan = header.plan_range(len, 10..20).unwrap();
    assert!(matches!(
        plan.open(&key(1), b"c", &envelope[..5]),
        Err(Error::RangeCiphertextLength { actual: 5, .. })
    ));
    // An empty range reads nothing but still checks the key and context.
    let empty = header.plan_range(len, 40..40).unwrap();
    assert!(empty.ciphertext_range().is_empty());
    assert_eq!(empty.open(&key(1), b"c", &[]).unwrap(), b"");
    assert!(matches!(
        empty.open(&key(2), b"c", &[]),
        Err(Error::Authentication)
    ));
    assert!(matches!(
        empty.open(&key(1), b"d", &[]),
        Err(Error::Authentication)
    ));
}

#[test]
fn range_open_authenticates_what_it_reads_and_the_end() {
    let cfg = Config::new().with_segment_size(32).unwrap();
    let pt = data(32 * 4 + 5);
    let envelope = cfg.seal(&key(1), b"", b"c", &pt).unwrap();
    let h = Header::parse(&envelope).unwrap().encoded_len();
    let sealed = 32 + SEGMENT_OVERHEAD;

    // Tampering inside segment 1: ranges over segment 1 fail, ranges elsewhere do not read it.
    let mut tampered = envelope.clone();
    tampered[h + sealed + 3] ^= 1;
    assert!(matches!(
        open_range(&key(1), b"c", Cursor::new(&tampered), 40..41),
        Err(Error::Authentication)
    ));
    let elsewhere = open_range(&key(1), b"c", Cursor::new(&tampered), 70..100).unwrap();
    assert_eq!(elsewhere, pt[70..100]);

    // Cut after the fourth segment: the new last segment was sealed as non-final, so a range
    // that reaches the (apparent) end fails, and one past it is out of bounds.
    let truncated = &envelope[..h + 4 * sealed];
    assert!(matches!(
        open_range(&key(1), b"c", Cursor::new(truncated), 100..128),
        Err(Error::Authentication)
    ));
    assert!(matches!(
        open_range(&key(1), b"c", Cursor::new(truncated), 128..128),
        Err(Error::Authentication)
    ));
    assert!(matches!(
        open_range(&key(1), b"c", Cursor::new(truncated), 100..133),
        Err(Error::RangeOutOfBounds { .. })
    ));
    // On the intact envelope an empty range at the end reads and checks the final segment.
    let header = Header::parse(&envelope).unwrap();
    let at_end = header.plan_range(envelope.len() as u64, 133..133).unwrap();
    assert_eq!(
        at_end.ciphertext_range(),
        (h + 4 * sealed) as u64..envelope.len() as u64
    );
    let got = open_range(&key(1), b"c", Cursor::new(&envelope), 133..133).unwrap();
    assert!(got.is_empty());
    // Extended by one whole copy of the final segment: the real final segment is now
    // opened as non-final and fails.
    let mut extended = envelope.clone();
    extended.extend_from_slice(&envelope[h + 4 * sealed..]);
    let header = Header::parse(&extended).unwrap();
    let apparent = header.plaintext_len(extended.len() as u64).unwrap();
    assert!(open_range(&key(1), b"c", Cursor::new(&extended), 128..apparent).is_err());
}
