//! The CSV scanner of Bulk result pages. A page is whole in memory and Bulk quotes every field,
//! so fields are found with `memchr` (the next quote inside a quoted field; the next comma or
//! line end outside one) instead of a state machine stepping byte by byte, and the bytes of a
//! field are copied once, straight to where the decoder keeps them.
//!
//! It reads exactly what the `csv` crate reads with `has_headers(false)` and `flexible(true)`
//! (csv_core's rules for comma, `"` quotes doubled inside quoted fields, and `\r`, `\n` or
//! `\r\n` line ends), lenient cases included: a quote opens a quoted field only at the start of
//! a field and is an ordinary byte elsewhere; bytes after a closing quote are kept up to the
//! next comma or line end; an unterminated quoted field runs to the end of the page; a run of
//! line ends ends one record (blank lines are no records); a UTF-8 byte order mark at the start
//! of the page is dropped. A test compares the two on every short input over the bytes that
//! matter.

/// Reads the records of one page, field by field.
pub(crate) struct Scanner<'p> {
    page: &'p [u8],
    pos: usize,
    search: Search,
}

impl<'p> Scanner<'p> {
    pub(crate) fn new(page: &'p [u8]) -> Self {
        let pos = if page.starts_with(b"\xef\xbb\xbf") {
            3
        } else {
            0
        };
        Scanner {
            page,
            pos,
            search: Search::new(),
        }
    }

    /// Moves to the start of the next record; false at the end of the page.
    pub(crate) fn next_record(&mut self) -> bool {
        while let Some(b'\r' | b'\n') = self.page.get(self.pos) {
            self.pos += 1;
        }
        self.pos < self.page.len()
    }

    /// Appends the next field of the current record to `out` (quoting removed) and returns
    /// whether another field of the same record follows.
    pub(crate) fn field(&mut self, out: &mut Vec<u8>) -> bool {
        let page = self.page;
        let mut at = self.pos;
        if page.get(at) == Some(&b'"') {
            at += 1;
            loop {
                let rest = page.get(at..).unwrap_or_default();
                let Some(quote) = self.search.quote(rest) else {
                    // Unterminated: the field runs to the end of the page.
                    out.extend_from_slice(rest);
                    self.pos = page.len();
                    return false;
                };
                out.extend_from_slice(rest.get(..quote).unwrap_or_default());
                at += quote + 1;
                match page.get(at) {
                    Some(b'"') => {
                        out.push(b'"');
                        at += 1;
                    }
                    Some(b',') => {
                        self.pos = at + 1;
                        return true;
                    }
                    Some(b'\r' | b'\n') | None => {
                        self.pos = at;
                        return false;
                    }
                    // Bytes after the closing quote belong to the field, unquoted.
                    Some(_) => break,
                }
            }
        }
        let rest = page.get(at..).unwrap_or_default();
        match self.search.field_end(rest) {
            Some(end) => {
                out.extend_from_slice(rest.get(..end).unwrap_or_default());
                self.pos = at + end;
                if rest.get(end) == Some(&b',') {
                    self.pos += 1;
                    true
                } else {
                    false
                }
            }
            None => {
                out.extend_from_slice(rest);
                self.pos = page.len();
                false
            }
        }
    }

    /// Locates the next field of the current record without copying it when its content is
    /// one run of the page (an unquoted field, or a quoted one without doubled quotes or bytes
    /// after its closing quote: every field Bulk writes but those holding a quote). Any other
    /// field is unquoted into `copied` by [`Scanner::field`]. Returns where the content is and
    /// whether another field of the same record follows.
    // Inlined: it runs once per cell, and returning its result through memory cost more than
    // the search.
    #[inline(always)]
    pub(crate) fn span(&mut self, copied: &mut Vec<u8>) -> (Span, bool) {
        let page = self.page;
        let start = self.pos;
        if page.get(start) == Some(&b'"') {
            let open = start + 1;
            let rest = page.get(open..).unwrap_or_default();
            let Some(quote) = self.search.quote(rest) else {
                // Unterminated: the field runs to the end of the page.
                self.pos = page.len();
                return (Span::Page(open, page.len()), false);
            };
            let close = open + quote;
            match page.get(close + 1) {
                Some(b',') => {
                    self.pos = close + 2;
                    return (Span::Page(open, close), true);
                }
                Some(b'\r' | b'\n') | None => {
                    self.pos = close + 1;
                    return (Span::Page(open, close), false);
                }
                // A doubled quote, or bytes after the closing quote: unquote by copying.
                Some(_) => return self.copied_span(copied),
            }
        }
        let rest = page.get(start..).unwrap_or_default();
        match self.search.field_end(rest) {
            Some(end) => {
                let more = rest.get(end) == Some(&b',');
                self.pos = start + end + usize::from(more);
                (Span::Page(start, start + end), more)
            }
            None => {
                self.pos = page.len();
                (Span::Page(start, page.len()), false)
            }
        }
    }

    /// [`Scanner::span`] of a field that must be unquoted into `copied`.
    #[cold]
    #[inline(never)]
    fn copied_span(&mut self, copied: &mut Vec<u8>) -> (Span, bool) {
        let from = copied.len();
        let more = self.field(copied);
        (Span::Copied(from, copied.len()), more)
    }

    /// Reads the whole next record into `record`; false at the end of the page.
    pub(crate) fn record(&mut self, record: &mut Record) -> bool {
        record.bytes.clear();
        record.ends.clear();
        if !self.next_record() {
            return false;
        }
        loop {
            let more = self.field(&mut record.bytes);
            record.ends.push(record.bytes.len());
            if !more {
                return true;
            }
        }
    }
}

/// The two searches of a scan: the next quote, and the next comma or line end. On x86-64 the
/// AVX2 searchers are built once per page rather than on every call (`memchr::memchr3` picks
/// its implementation and broadcasts its needles each time), and inlined into the scan loop.
#[derive(Debug, Clone, Copy)]
struct Search {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<(
        memchr::arch::x86_64::avx2::memchr::One,
        memchr::arch::x86_64::avx2::memchr::Three,
    )>,
}

impl Search {
    fn new() -> Self {
        Search {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'"').zip(
                memchr::arch::x86_64::avx2::memchr::Three::new(b',', b'\n', b'\r'),
            ),
        }
    }

    /// The offset of the first `"` in `haystack`.
    #[inline(always)]
    fn quote(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some((quote, _)) = &self.avx2 {
            return quote.find(haystack);
        }
        memchr::memchr(b'"', haystack)
    }

    /// The offset of the first comma, `\n` or `\r` in `haystack`.
    #[inline(always)]
    fn field_end(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some((_, end)) = &self.avx2 {
            return end.find(haystack);
        }
        memchr::memchr3(b',', b'\n', b'\r', haystack)
    }
}

/// Where [`Scanner::span`] found a field's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    /// `start..end` of the page, as is.
    Page(usize, usize),
    /// `start..end` of the caller's buffer, where the field was unquoted.
    Copied(usize, usize),
}

/// One record's fields, their bytes back to back.
#[derive(Debug, Default)]
pub(crate) struct Record {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Record {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| self.bytes.get(start..end).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(page: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut scanner = Scanner::new(page);
        let mut record = Record::default();
        let mut out = Vec::new();
        while scanner.record(&mut record) {
            out.push(record.iter().map(<[u8]>::to_vec).collect());
        }
        out
    }

    /// The same records read with [`Scanner::span`].
    fn scan_spans(page: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut scanner = Scanner::new(page);
        let mut copied = Vec::new();
        let mut out = Vec::new();
        while scanner.next_record() {
            let mut record = Vec::new();
            loop {
                let (span, more) = scanner.span(&mut copied);
                record.push(match span {
                    Span::Page(start, end) => page[start..end].to_vec(),
                    Span::Copied(start, end) => copied[start..end].to_vec(),
                });
                if !more {
                    break;
                }
            }
            out.push(record);
        }
        out
    }

    fn csv_crate(page: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(page);
        let mut row = csv::ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut row).unwrap() {
            out.push(row.iter().map(<[u8]>::to_vec).collect());
        }
        out
    }

    #[test]
    fn reads_what_the_csv_crate_reads_on_every_short_input() {
        // Every input of up to 6 bytes over the bytes the two readers treat specially (and
        // one ordinary byte): 19,531 inputs.
        const ALPHABET: &[u8] = b"a,\"\r\n";
        let mut compared = 0;
        for len in 0..=6u32 {
            for mut n in 0..ALPHABET.len().pow(len) {
                let input: Vec<u8> = (0..len)
                    .map(|_| {
                        let b = ALPHABET[n % ALPHABET.len()];
                        n /= ALPHABET.len();
                        b
                    })
                    .collect();
                let expected = csv_crate(&input);
                assert_eq!(scan(&input), expected, "{input:?}");
                assert_eq!(scan_spans(&input), expected, "{input:?}");
                compared += 1;
            }
        }
        assert_eq!(compared, 19_531);
    }

    #[test]
    fn reads_bulk_output_and_lenient_cases() {
        let page = b"\xef\xbb\xbf\"Id\",\"Name\"\r\n\"1\",\"a \"\"b\"\", c\nd\"\n\n2,x\"y\"z\n\"3\"tail,\"open";
        assert_eq!(scan(page), csv_crate(page));
        assert_eq!(scan_spans(page), csv_crate(page));
        assert_eq!(
            scan(page),
            [
                vec![b"Id".to_vec(), b"Name".to_vec()],
                vec![b"1".to_vec(), b"a \"b\", c\nd".to_vec()],
                vec![b"2".to_vec(), b"x\"y\"z".to_vec()],
                vec![b"3tail".to_vec(), b"open".to_vec()],
            ]
        );
        assert!(scan(b"").is_empty());
        assert!(scan(b"\r\n\n").is_empty());
        assert_eq!(scan(b"a,"), [vec![b"a".to_vec(), Vec::new()]]);
    }
}
