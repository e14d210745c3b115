//! The Bulk API 2.0 result of a query, flattened to text cells once, and its CSV writer: the
//! serving hot path. Each cell's bytes sit in one buffer, followed by the separator the default
//! options write after it, with a precomputed mask of the bytes that force quoting: writing a
//! page is mostly `memcpy`, and with the default options a few long ones.

use std::ops::Range;

use super::model::Text;

/// The line ending of Bulk CSV results (`lineEnding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineEnding {
    /// `\n` (the default).
    #[default]
    Lf,
    /// `\r\n`.
    Crlf,
}

/// CSV options of a Bulk query job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// The column delimiter byte: `,` (COMMA), `` ` `` (BACKQUOTE), `^` (CARET), `|` (PIPE),
    /// `;` (SEMICOLON) or `\t` (TAB).
    pub delimiter: u8,
    /// The line ending.
    pub line_ending: LineEnding,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            line_ending: LineEnding::Lf,
        }
    }
}

impl CsvOptions {
    /// The options for a job's `columnDelimiter` and `lineEnding` names (None when unknown).
    pub fn from_names(column_delimiter: &str, line_ending: &str) -> Option<Self> {
        let delimiter = match column_delimiter {
            "COMMA" => b',',
            "BACKQUOTE" => b'`',
            "CARET" => b'^',
            "PIPE" => b'|',
            "SEMICOLON" => b';',
            "TAB" => b'\t',
            _ => return None,
        };
        let line_ending = match line_ending {
            "LF" => LineEnding::Lf,
            "CRLF" => LineEnding::Crlf,
            _ => return None,
        };
        Some(Self {
            delimiter,
            line_ending,
        })
    }
}

/// Flag of a byte that forces quotes whatever the delimiter: a quote, CR or LF.
const ALWAYS_QUOTE: u8 = 1;

/// Flag of a null cell (no byte has it).
const NULL: u8 = 1 << 1;

/// Quoting-relevant bytes: [`ALWAYS_QUOTE`], and bits 2..8 for the six delimiters.
const fn byte_class() -> [u8; 256] {
    let mut table = [0u8; 256];
    table[b'"' as usize] = ALWAYS_QUOTE;
    table[b'\n' as usize] = ALWAYS_QUOTE;
    table[b'\r' as usize] = ALWAYS_QUOTE;
    table[b',' as usize] = 1 << 2;
    table[b'`' as usize] = 1 << 3;
    table[b'^' as usize] = 1 << 4;
    table[b'|' as usize] = 1 << 5;
    table[b';' as usize] = 1 << 6;
    table[b'\t' as usize] = 1 << 7;
    table
}

static BYTE_CLASS: [u8; 256] = byte_class();

/// The mask bit of a delimiter (0 for a byte that is not one of the six).
fn delimiter_bit(delimiter: u8) -> u8 {
    match delimiter {
        b',' | b'`' | b'^' | b'|' | b';' | b'\t' => BYTE_CLASS[usize::from(delimiter)],
        _ => 0,
    }
}

/// The quoting class of `bytes`: the OR of their `byte_class` bits, which tells for every
/// delimiter whether a cell holding these bytes needs quotes. Eight lookups at a time,
/// combined as a tree, so that the loads do not wait on one another.
pub(crate) fn quoting_class(bytes: &[u8]) -> u8 {
    let class = |b: u8| BYTE_CLASS[usize::from(b)];
    let mut chunks = bytes.chunks_exact(8);
    let mut mask = 0u8;
    for c in &mut chunks {
        mask |= ((class(c[0]) | class(c[1])) | (class(c[2]) | class(c[3])))
            | ((class(c[4]) | class(c[5])) | (class(c[6]) | class(c[7])));
    }
    chunks.remainder().iter().fold(mask, |m, &b| m | class(b))
}

/// Bulk query rows as text cells, ready for CSV.
///
/// The cells are stored as the CSV of the default options (comma, LF) would write them if no
/// cell needed quoting: each cell's text followed by `,`, or by `\n` after a row's last cell.
/// With the default options a page is then a few long copies, broken only around the cells
/// that need quotes; other options write cell by cell.
#[derive(Debug, Clone, Default)]
pub struct BulkOutput {
    /// The object queried.
    pub object: String,
    /// Column headers in SELECT order (`Account.Name` for parent fields).
    pub columns: Vec<String>,
    /// Every cell's bytes, row after row, each followed by its separator (`,` or `\n`).
    data: Vec<u8>,
    /// End offset in `data` of each cell's text, before its separator (`rows * columns`
    /// entries).
    ends: Vec<usize>,
    /// Each cell's quoting mask (see `byte_class`), with [`NULL`] for a null cell (written
    /// empty, as is the empty string).
    flags: Vec<u8>,
}

/// Bytes reserved per cell before the first row: a guess that spares most of the regrowth of
/// `data` for typical records (ids, dates, short texts); pages never touched cost nothing.
const RESERVED_BYTES_PER_CELL: usize = 24;

/// Cap of that first reservation, so that a huge result grows on demand instead.
const MAX_RESERVED_BYTES: usize = 256 << 20;

impl BulkOutput {
    /// An empty result with these columns, with room for `rows` rows.
    pub(crate) fn with_capacity(object: String, columns: Vec<String>, rows: usize) -> Self {
        let cells = rows.saturating_mul(columns.len());
        Self {
            object,
            columns,
            data: Vec::with_capacity(
                cells
                    .saturating_mul(RESERVED_BYTES_PER_CELL)
                    .min(MAX_RESERVED_BYTES),
            ),
            ends: Vec::with_capacity(cells),
            flags: Vec::with_capacity(cells),
        }
    }

    /// Appends a null cell. Every row's cells are followed by [`end_row`](Self::end_row).
    pub(crate) fn push_null(&mut self) {
        self.push_raw(b"", NULL);
    }

    /// Appends a text cell.
    pub(crate) fn push_text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        self.push_raw(bytes, quoting_class(bytes));
    }

    /// Appends a stored text, whose quoting class is already known.
    pub(crate) fn push_stored_text(&mut self, text: &Text) {
        self.push_raw(text.as_bytes(), text.quoting_class());
    }

    /// Appends a cell whose text the caller knows holds no byte that may need quoting (digits,
    /// dates, booleans), sparing the scan.
    pub(crate) fn push_plain(&mut self, text: &[u8]) {
        debug_assert_eq!(
            quoting_class(text),
            0,
            "push_plain of text that may need quotes"
        );
        self.push_raw(text, 0);
    }

    /// Appends a number cell, as serde_json prints it: `itoa` for integers, `zmij` for the
    /// others, written straight into the buffer without the formatting machinery. The text is
    /// digits, `.`, `-`, `e` and `+`: nothing that needs quotes.
    pub(crate) fn push_number(&mut self, number: &serde_json::Number) {
        // Writing to a Vec cannot fail.
        match number.as_f64() {
            // A whole float below 10^15 (amounts, counts) prints as its integer's digits and
            // `.0`: below 2^53 the shortest digits that round-trip are the integer's own, and
            // zmij keeps fixed notation up to 10^15. itoa is far cheaper than the search for
            // the shortest digits.
            Some(float)
                if number.is_f64()
                    && float != 0.0
                    && float.fract() == 0.0
                    && float.abs() < 1e15 =>
            {
                let _ = serde_json::to_writer(&mut self.data, &(float as i64));
                self.data.extend_from_slice(b".0");
            }
            _ => {
                let _ = serde_json::to_writer(&mut self.data, number);
            }
        }
        self.end_cell(0);
    }

    #[inline]
    fn push_raw(&mut self, bytes: &[u8], flags: u8) {
        self.data.extend_from_slice(bytes);
        self.end_cell(flags);
    }

    /// Ends the cell whose text was just appended to `data`.
    #[inline]
    fn end_cell(&mut self, flags: u8) {
        self.ends.push(self.data.len());
        self.data.push(b',');
        self.flags.push(flags);
    }

    /// Ends the current row: its last separator becomes the line break.
    pub(crate) fn end_row(&mut self) {
        if let Some(last) = self.data.last_mut() {
            *last = b'\n';
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ends.len().checked_div(self.columns.len()).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Offset in `data` where cell `at` starts (just after the previous cell's separator).
    fn start(&self, at: usize) -> usize {
        match at.checked_sub(1) {
            Some(previous) => self.ends[previous] + 1,
            None => 0,
        }
    }

    /// The text of cell (`row`, `col`); None for null or out of range.
    pub fn cell(&self, row: usize, col: usize) -> Option<&str> {
        if col >= self.columns.len() {
            return None;
        }
        let at = row.checked_mul(self.columns.len())?.checked_add(col)?;
        if *self.flags.get(at)? & NULL != 0 {
            return None;
        }
        std::str::from_utf8(&self.data[self.start(at)..self.ends[at]]).ok()
    }

    /// Total bytes of cell text and separators (a lower bound of the CSV size).
    pub fn data_len(&self) -> usize {
        self.data.len()
    }

    /// Appends rows `range` (clamped to the rows there are) as RFC 4180 CSV with `opts`, with
    /// the header row first when `header`.
    pub fn write_csv(
        &self,
        range: Range<usize>,
        opts: &CsvOptions,
        header: bool,
        out: &mut Vec<u8>,
    ) {
        let delimiter = opts.delimiter;
        let eol: &[u8] = match opts.line_ending {
            LineEnding::Lf => b"\n",
            LineEnding::Crlf => b"\r\n",
        };
        // A cell needs quotes when it holds a quote, a line break or the delimiter in use.
        let needs_quote = ALWAYS_QUOTE | delimiter_bit(delimiter);
        if header {
            for (i, column) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(delimiter);
                }
                let bytes = column.as_bytes();
                write_cell(
                    out,
                    bytes,
                    quoting_class(bytes) & needs_quote != 0 || bytes.contains(&delimiter),
                );
            }
            out.extend_from_slice(eol);
        }
        let width = self.columns.len();
        let rows = self.len();
        let range = range.start.min(rows)..range.end.min(rows);
        if width == 0 || range.is_empty() {
            return;
        }
        let cells = range.start * width..range.end * width;
        let (begin, end) = (self.start(cells.start), self.ends[cells.end - 1] + 1);
        out.reserve(end - begin + range.len() * eol.len());
        if *opts == CsvOptions::default() {
            // `data` is this CSV but for the cells that need quotes: copy the runs between
            // them. A quoted cell's separator is copied with the run that follows it.
            let mut run = begin;
            for at in cells {
                if self.flags[at] & needs_quote != 0 {
                    let start = self.start(at);
                    out.extend_from_slice(&self.data[run..start]);
                    write_cell(out, &self.data[start..self.ends[at]], true);
                    run = self.ends[at];
                }
            }
            out.extend_from_slice(&self.data[run..end]);
            return;
        }
        let custom_delimiter = delimiter_bit(delimiter) == 0;
        let mut start = begin;
        for row in range {
            let base = row * width;
            for col in 0..width {
                if col > 0 {
                    out.push(delimiter);
                }
                let end = self.ends[base + col];
                let bytes = &self.data[start..end];
                let quote = self.flags[base + col] & needs_quote != 0
                    || (custom_delimiter && bytes.contains(&delimiter));
                write_cell(out, bytes, quote);
                start = end + 1;
            }
            out.extend_from_slice(eol);
        }
    }
}

/// Milliseconds in a day.
const DAY_MILLIS: i64 = crate::time::DAY * crate::time::MILLIS;

/// Slots of [`BulkStamps`]: a few years of distinct days.
const STAMP_SLOTS: usize = 1024;

/// Bulk CSV datetimes (`2023-10-22T06:25:12.000Z`) and dates (`2023-10-22`) for one result.
///
/// Turning a day number into a calendar date is a chain of divisions; a result holds a few
/// datetimes per row but rarely more than a few thousand distinct days, so each day's date
/// text is kept in a small direct-mapped table (a memo of a pure function, local to one
/// result) and only the time of day is formatted per cell.
pub(crate) struct BulkStamps {
    /// Per slot (`day % STAMP_SLOTS`): the day and its `YYYY-MM-DD`, or None.
    days: Vec<Option<(i64, [u8; 10])>>,
}

impl BulkStamps {
    /// An empty memo.
    pub(crate) fn new() -> Self {
        Self {
            days: vec![None; STAMP_SLOTS],
        }
    }

    /// `YYYY-MM-DD` of day number `day` since 1970-01-01; None outside years 0..=9999.
    pub(crate) fn date(&mut self, day: i64) -> Option<[u8; 10]> {
        // `rem_euclid` of a positive constant is in 0..STAMP_SLOTS.
        let slot = day.rem_euclid(STAMP_SLOTS as i64) as usize;
        if let Some((memo_day, text)) = self.days[slot]
            && memo_day == day
        {
            return Some(text);
        }
        let stamp = crate::time::bulk_datetime(day.checked_mul(DAY_MILLIS)?)?;
        let mut text = [0u8; 10];
        text.copy_from_slice(&stamp[..10]);
        self.days[slot] = Some((day, text));
        Some(text)
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` of `epoch_millis`; None outside years 0..=9999.
    pub(crate) fn datetime(&mut self, epoch_millis: i64) -> Option<[u8; 24]> {
        let date = self.date(epoch_millis.div_euclid(DAY_MILLIS))?;
        // Below a day's 86,400,000 milliseconds: fits a u32.
        let of_day = u32::try_from(epoch_millis.rem_euclid(DAY_MILLIS)).ok()?;
        let (seconds, millis) = (of_day / 1000, of_day % 1000);
        let mut out = *b"0000-00-00T00:00:00.000Z";
        out[..10].copy_from_slice(&date);
        out[11..13].copy_from_slice(&two_digits(seconds / 3600));
        out[14..16].copy_from_slice(&two_digits(seconds / 60 % 60));
        out[17..19].copy_from_slice(&two_digits(seconds % 60));
        out[20] = b'0' + (millis / 100) as u8;
        out[21..23].copy_from_slice(&two_digits(millis % 100));
        Some(out)
    }
}

/// The two decimal digits of `value` (below 100).
fn two_digits(value: u32) -> [u8; 2] {
    // Both quotients are single digits for a value below 100.
    [b'0' + (value / 10 % 10) as u8, b'0' + (value % 10) as u8]
}

fn write_cell(out: &mut Vec<u8>, bytes: &[u8], quote: bool) {
    if !quote {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for chunk in bytes.split_inclusive(|&b| b == b'"') {
        out.extend_from_slice(chunk);
        if chunk.last() == Some(&b'"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    #[test]
    fn bulk_stamps_match_the_reference_formatter() {
        let mut stamps = BulkStamps::new();
        let first = time::days_from_civil(0, 1, 1) * DAY_MILLIS;
        let last = time::days_from_civil(10_000, 1, 1) * DAY_MILLIS - 1;
        let mut probes = vec![
            0,
            -1,
            1,
            first,
            first - 1,
            last,
            last + 1,
            i64::MIN,
            i64::MAX,
        ];
        // Spread over the years 0..=9999 and beyond, with days colliding in the memo.
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            probes.push(x % (last + 2 * DAY_MILLIS));
        }
        probes.extend((0..8).map(|k| k * STAMP_SLOTS as i64 * DAY_MILLIS + 3_723_004));
        for _ in 0..2 {
            for &ms in &probes {
                assert_eq!(stamps.datetime(ms), time::bulk_datetime(ms), "{ms}");
                let day = ms.div_euclid(DAY_MILLIS);
                let date = stamps.date(day);
                assert_eq!(date.is_some(), (first..=last).contains(&ms), "{ms}");
                if let Some(date) = date {
                    assert_eq!(&date[..], time::date_days(day).as_bytes());
                }
            }
        }
    }

    #[test]
    fn numbers_print_as_serde_json_does() {
        let values: Vec<serde_json::Number> = vec![
            0u64.into(),
            7u64.into(),
            u64::MAX.into(),
            (-1i64).into(),
            i64::MIN.into(),
            serde_json::Number::from_f64(5_000_000.0).unwrap(),
            serde_json::Number::from_f64(-0.1).unwrap(),
            serde_json::Number::from_f64(1e21).unwrap(),
            serde_json::Number::from_f64(1.5e-7).unwrap(),
            serde_json::Number::from_f64(f64::MAX).unwrap(),
        ];
        // Whole floats around the fast path's bounds, and a sweep of magnitudes and signs.
        let mut values = values;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for float in [
            1e15 - 1.0,
            1e15,
            1e15 + 2.0,
            2f64.powi(53),
            1e16,
            -0.0,
            0.5,
            -3.0,
        ] {
            values.push(serde_json::Number::from_f64(float).unwrap());
        }
        for digits in 1..=17 {
            for _ in 0..200 {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let whole = (x >> 11) % 10u64.pow(digits);
                let float = if x & 1 == 0 {
                    whole as f64
                } else {
                    -(whole as f64)
                };
                values.push(serde_json::Number::from_f64(float).unwrap());
                values.push(serde_json::Number::from_f64(float / 100.0).unwrap());
            }
        }
        let mut out = BulkOutput::with_capacity("X".into(), vec!["N".into()], values.len());
        for n in &values {
            out.push_number(n);
            out.end_row();
        }
        for (row, n) in values.iter().enumerate() {
            let text = out.cell(row, 0).unwrap();
            assert_eq!(text, n.to_string());
            assert_eq!(quoting_class(text.as_bytes()), 0, "{text}");
        }
    }

    fn sample() -> BulkOutput {
        let mut out = BulkOutput::with_capacity(
            "Account".into(),
            vec!["Id".into(), "Name".into(), "Note".into()],
            3,
        );
        for cells in [
            [Some("001"), Some("Acme, Inc."), None],
            [Some("002"), Some("Say \"hi\""), Some("a|b\nc")],
            [Some("003"), Some(""), Some("plain")],
        ] {
            for cell in cells {
                match cell {
                    Some(text) => out.push_text(text),
                    None => out.push_null(),
                }
            }
            out.end_row();
        }
        out
    }

    #[test]
    fn rfc4180_quoting_per_delimiter() {
        let out = sample();
        assert_eq!(out.len(), 3);
        let mut csv = Vec::new();
        out.write_csv(0..3, &CsvOptions::default(), true, &mut csv);
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "Id,Name,Note\n001,\"Acme, Inc.\",\n002,\"Say \"\"hi\"\"\",\"a|b\nc\"\n003,,plain\n"
        );
        let mut csv = Vec::new();
        let pipe = CsvOptions::from_names("PIPE", "CRLF").unwrap();
        out.write_csv(1..9, &pipe, false, &mut csv);
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "002|\"Say \"\"hi\"\"\"|\"a|b\nc\"\r\n003||plain\r\n"
        );
        assert_eq!(out.cell(0, 1), Some("Acme, Inc."));
        assert_eq!(out.cell(0, 2), None);
        assert_eq!(out.cell(2, 1), Some(""));
    }

    #[test]
    fn output_parses_back_with_the_csv_crate_rules() {
        let out = sample();
        let mut csv = Vec::new();
        let tab = CsvOptions::from_names("TAB", "LF").unwrap();
        out.write_csv(0..3, &tab, true, &mut csv);
        // Hand-parse: quoted fields may hold the delimiter and newlines.
        let text = String::from_utf8(csv).unwrap();
        assert!(text.starts_with("Id\tName\tNote\n001\tAcme, Inc.\t\n"));
        assert!(CsvOptions::from_names("COLON", "LF").is_none());
    }
}
