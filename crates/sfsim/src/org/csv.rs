//! The Bulk API 2.0 result of a query, flattened to text cells once, and its CSV writer: the
//! serving hot path. Each cell's bytes sit in one buffer, followed by the separator the default
//! options write after it, with a precomputed mask of the bytes that force quoting: writing a
//! page is mostly `memcpy`, and with the default options a few long ones.

use std::ops::Range;

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

/// Quoting-relevant bytes: bit 0 quote, bit 1 CR/LF, bits 2..8 the six delimiters.
const fn byte_class() -> [u8; 256] {
    let mut table = [0u8; 256];
    table[b'"' as usize] = 1;
    table[b'\n' as usize] = 2;
    table[b'\r' as usize] = 2;
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

/// The quoting mask of `bytes`: the OR of their `byte_class` bits. Eight lookups at a time,
/// combined as a tree, so that the loads do not wait on one another.
fn mask_of(bytes: &[u8]) -> u8 {
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
    /// Each cell's quoting mask (see `byte_class`).
    masks: Vec<u8>,
    /// Whether each cell is null (written empty, as is the empty string).
    nulls: Vec<bool>,
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
            masks: Vec::with_capacity(cells),
            nulls: Vec::with_capacity(cells),
        }
    }

    /// Appends a null cell. Every row's cells are followed by [`end_row`](Self::end_row).
    pub(crate) fn push_null(&mut self) {
        self.push_raw(b"", 0, true);
    }

    /// Appends a text cell.
    pub(crate) fn push_text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        self.push_raw(bytes, mask_of(bytes), false);
    }

    /// Appends a cell whose text the caller knows holds no byte that may need quoting (digits,
    /// dates, booleans), sparing the scan.
    pub(crate) fn push_plain(&mut self, text: &[u8]) {
        debug_assert_eq!(mask_of(text), 0, "push_plain of text that may need quotes");
        self.push_raw(text, 0, false);
    }

    fn push_raw(&mut self, bytes: &[u8], mask: u8, null: bool) {
        self.data.extend_from_slice(bytes);
        self.ends.push(self.data.len());
        self.data.push(b',');
        self.masks.push(mask);
        self.nulls.push(null);
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
        if *self.nulls.get(at)? {
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
        let needs_quote = 0b11 | delimiter_bit(delimiter);
        if header {
            for (i, column) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(delimiter);
                }
                let bytes = column.as_bytes();
                write_cell(
                    out,
                    bytes,
                    mask_of(bytes) & needs_quote != 0 || bytes.contains(&delimiter),
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
                if self.masks[at] & needs_quote != 0 {
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
                let quote = self.masks[base + col] & needs_quote != 0
                    || (custom_delimiter && bytes.contains(&delimiter));
                write_cell(out, bytes, quote);
                start = end + 1;
            }
            out.extend_from_slice(eol);
        }
    }
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
