//! Record block content (`docs/format/repository.md` §4.2): the record lines of a block,
//! stored member by member ("columns") when every line is a compact JSON object whose members
//! come in one order, and as the lines themselves otherwise.
//!
//! Canonical records of one object type share their member names and order, and a column of
//! one member's values (`"Closed"`, `"Closed"`, `"New"`, …) compresses far better than the
//! same values spread over rows: at zstd level 3 a block takes 13–17% fewer bytes than the
//! lines at level 9, and compresses about ten times faster (`zstd -b3` on a transposed 8 MiB
//! block of generated Contacts and Cases against `zstd -b9` on the lines).
//!
//! The transform is exact: [`lines_of`] gives back the very bytes [`encode`] was given, for
//! any input. Lines the column form cannot carry (not a compact object, members out of the
//! block's order, a repeated member) make the block fall back to the line form.

use std::collections::HashMap;
use std::ops::Range;

use super::index::Reader;
use crate::error::{Error, Result};

/// Form byte: the record lines, each followed by `\n`.
const FORM_LINES: u8 = 0;
/// Form byte: the columns.
const FORM_COLUMNS: u8 = 1;

/// Reusable buffers of the column encoder (one per pack builder).
#[derive(Debug, Default)]
pub(crate) struct ColumnEncoder {
    /// Member names, as written (with their quotes), in column order.
    keys: Vec<Vec<u8>>,
    /// Each column's values, each followed by `\n` (empty when a line lacks the member).
    columns: Vec<Vec<u8>>,
    /// Column of a member name (the names live in `keys`; indices into it).
    lookup: HashMap<Vec<u8>, usize>,
    /// The members of the line being split: (name, value) ranges, then (column, value).
    spans: Vec<(Range<usize>, Range<usize>)>,
    members: Vec<(usize, Range<usize>)>,
}

impl ColumnEncoder {
    /// Writes the block content of `lines` (record lines, each followed by `\n`, at least one)
    /// to `out`, in the column form when it can carry them.
    pub(crate) fn encode(&mut self, lines: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if self.split(lines) && !self.keys.is_empty() {
            self.write_columns(out);
        } else {
            out.push(FORM_LINES);
            out.extend_from_slice(lines);
        }
        self.keys.clear();
        self.lookup.clear();
        for column in &mut self.columns {
            column.clear();
        }
    }

    /// Splits every line into the columns; false when some line does not fit the form.
    fn split(&mut self, lines: &[u8]) -> bool {
        lines
            .strip_suffix(b"\n")
            .unwrap_or(lines)
            .split(|&b| b == b'\n')
            .enumerate()
            .all(|(row, line)| self.split_line(line, row))
    }

    /// Adds one line as row `row`.
    fn split_line(&mut self, line: &[u8], row: usize) -> bool {
        if !split_members(line, &mut self.spans) {
            return false;
        }
        self.members.clear();
        let mut next = 0usize;
        for (key, value) in &self.spans {
            let key = &line[key.clone()];
            // Most lines repeat the previous line's order: try the expected column first.
            let column = if self.keys.get(next).is_some_and(|k| k == key) {
                next
            } else if let Some(&column) = self.lookup.get(key) {
                column
            } else {
                let column = self.keys.len();
                self.keys.push(key.to_vec());
                self.lookup.insert(key.to_vec(), column);
                if self.columns.len() <= column {
                    self.columns.push(Vec::new());
                }
                // Earlier rows lack the member.
                self.columns[column].resize(row, b'\n');
                column
            };
            if column < next {
                // Out of the block's order, or repeated: the lines keep it.
                return false;
            }
            self.members.push((column, value.clone()));
            next = column + 1;
        }
        let mut members = self.members.iter().peekable();
        for (column, values) in self.columns[..self.keys.len()].iter_mut().enumerate() {
            if let Some((_, value)) = members.next_if(|m| m.0 == column) {
                values.extend_from_slice(&line[value.clone()]);
            }
            values.push(b'\n');
        }
        true
    }

    fn write_columns(&self, out: &mut Vec<u8>) {
        let columns = &self.columns[..self.keys.len()];
        let rows = columns
            .first()
            .map_or(0, |c| memchr::memchr_iter(b'\n', c).count());
        // All of it at once: a varint takes at most 10 bytes, and there are two per column
        // plus the row and column counts.
        let names: usize = self.keys.iter().map(Vec::len).sum();
        let values: usize = columns.iter().map(Vec::len).sum();
        out.reserve(1 + 10 * (2 + 2 * columns.len()) + names + values);
        out.push(FORM_COLUMNS);
        push_varint(out, rows as u64);
        push_varint(out, self.keys.len() as u64);
        for key in &self.keys {
            push_varint(out, key.len() as u64);
            out.extend_from_slice(key);
        }
        for column in columns {
            push_varint(out, column.len() as u64);
        }
        for column in columns {
            out.extend_from_slice(column);
        }
    }
}

/// Splits a compact JSON object line into its members' (name, value) byte ranges, the name
/// with its quotes; false when the line is not exactly `{` members joined by `,` `}`. Values
/// are delimited, not validated: the bytes between `:` and the next `,` or `}` outside strings
/// and brackets, at least one, come back as they were.
fn split_members(line: &[u8], spans: &mut Vec<(Range<usize>, Range<usize>)>) -> bool {
    spans.clear();
    let Some(inner) = line.strip_prefix(b"{").and_then(|l| l.strip_suffix(b"}")) else {
        return false;
    };
    let mut at = 0usize;
    while at < inner.len() {
        let rest = &inner[at..];
        let Some(close) = string_len(rest) else {
            return false;
        };
        if rest.get(close + 1) != Some(&b':') {
            return false;
        }
        let Some(len) = value_len(&rest[close + 2..]) else {
            return false;
        };
        let end = close + 2 + len;
        // Offsets into `line`, one past `inner`'s.
        spans.push((at + 1..at + close + 2, at + close + 3..at + end + 1));
        match rest.get(end) {
            None => return true,
            Some(b',') if end + 1 < rest.len() => at += end + 1,
            _ => return false,
        }
    }
    // `{}`: a line without members.
    true
}

/// Length of the JSON string at the start of `bytes` without its closing quote, counting
/// its opening quote (so `name = bytes[1..len]` and the string spans `len + 1` bytes).
fn string_len(bytes: &[u8]) -> Option<usize> {
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut at = 1usize;
    loop {
        let found = memchr::memchr2(b'"', b'\\', &bytes[at..])?;
        at += found;
        if bytes[at] == b'"' {
            return Some(at);
        }
        at += 2;
        if at > bytes.len() {
            return None;
        }
    }
}

/// Length of the value at the start of `bytes`: up to the first `,` or `}` outside strings
/// and brackets; at least one byte.
fn value_len(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = 0usize;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'"' => at += string_len(&bytes[at..])?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => depth -= 1,
            b',' | b'}' if depth == 0 => break,
            _ => {}
        }
        at += 1;
    }
    (depth == 0 && at > 0).then_some(at)
}

/// Appends `value` as a LEB128 varint.
pub(super) fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what: "block".into(),
        reason: reason.into(),
    }
}

/// A header varint (LEB128, at most ten bytes).
fn varint(reader: &mut Reader<'_>) -> Result<u64> {
    reader
        .varint()
        .map_err(|e| corrupt(format!("column header: {e}")))
}

/// A header length, bounded by what is left of the block.
fn length(reader: &mut Reader<'_>) -> Result<usize> {
    let len = varint(reader)?;
    usize::try_from(len)
        .ok()
        .filter(|&n| n <= reader.remaining())
        .ok_or_else(|| corrupt("a length runs past the block"))
}

/// `n` header bytes.
fn take<'a>(reader: &mut Reader<'a>, n: usize) -> Result<&'a [u8]> {
    reader
        .take(n)
        .map_err(|_| corrupt("truncated column header"))
}

/// A block's columns, parsed and checked.
struct Columns<'a> {
    rows: usize,
    keys: Vec<&'a [u8]>,
    columns: Vec<&'a [u8]>,
}

impl<'a> Columns<'a> {
    fn parse(body: &'a [u8]) -> Result<Self> {
        let mut header = Reader {
            bytes: body,
            pos: 0,
        };
        // Every row has a `\n` in every column, so rows are bounded by the block's size.
        let rows = length(&mut header)?;
        let count = length(&mut header)?;
        if count == 0 || rows == 0 {
            return Err(corrupt("a column block without rows or columns"));
        }
        let mut keys = Vec::with_capacity(count);
        for _ in 0..count {
            let len = length(&mut header)?;
            let key = take(&mut header, len)?;
            if key.is_empty() || memchr::memchr(b'\n', key).is_some() {
                return Err(corrupt("a member name is empty or holds a newline"));
            }
            keys.push(key);
        }
        let mut lens = Vec::with_capacity(count);
        for _ in 0..count {
            lens.push(length(&mut header)?);
        }
        let mut columns = Vec::with_capacity(count);
        for len in lens {
            let column = take(&mut header, len)?;
            if column.last() != Some(&b'\n') || memchr::memchr_iter(b'\n', column).count() != rows {
                return Err(corrupt(format!("a column does not hold {rows} values")));
            }
            columns.push(column);
        }
        if header.remaining() != 0 {
            return Err(corrupt("bytes after the last column"));
        }
        Ok(Self {
            rows,
            keys,
            columns,
        })
    }

    /// Writes row `values[i]` (one value per column, empty when absent) as a line.
    fn write_row(&self, values: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        for (key, value) in self.keys.iter().zip(values) {
            if value.is_empty() {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(key);
            out.push(b':');
            out.extend_from_slice(value);
        }
        out.push(b'}');
    }
}

/// The record lines of block `content` (without their newlines), at most `limit` bytes of
/// them in all (a bomb guard: names repeat in every line).
pub(crate) fn lines_of(content: &[u8], limit: usize) -> Result<Vec<Vec<u8>>> {
    let (&form, body) = content
        .split_first()
        .ok_or_else(|| corrupt("empty block content"))?;
    match form {
        FORM_LINES => {
            if !body.ends_with(b"\n") {
                return Err(corrupt("content does not end with a newline"));
            }
            Ok(body[..body.len() - 1]
                .split(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .collect())
        }
        FORM_COLUMNS => {
            let columns = Columns::parse(body)?;
            let mut cursors: Vec<std::slice::Split<'_, u8, _>> = columns
                .columns
                .iter()
                .map(|c| c[..c.len() - 1].split(|&b: &u8| b == b'\n'))
                .collect();
            let mut lines = Vec::with_capacity(columns.rows);
            let mut total = 0usize;
            for _ in 0..columns.rows {
                let mut line = Vec::new();
                // Each cursor holds exactly `rows` values (checked by `parse`).
                columns.write_row(
                    cursors.iter_mut().map(|c| c.next().unwrap_or(&[])),
                    &mut line,
                );
                total += line.len() + 1;
                if total > limit {
                    return Err(corrupt(format!("records larger than {limit} bytes")));
                }
                lines.push(line);
            }
            Ok(lines)
        }
        other => Err(corrupt(format!("unknown block form {other}"))),
    }
}

/// Record line `ordinal` of block `content`, or the number of lines when it has no such line.
pub(crate) fn line_of(
    content: &[u8],
    ordinal: usize,
) -> Result<std::result::Result<Vec<u8>, usize>> {
    let (&form, body) = content
        .split_first()
        .ok_or_else(|| corrupt("empty block content"))?;
    match form {
        FORM_LINES => {
            let body = body
                .strip_suffix(b"\n")
                .ok_or_else(|| corrupt("content does not end with a newline"))?;
            Ok(match body.split(|&b| b == b'\n').nth(ordinal) {
                Some(line) => Ok(line.to_vec()),
                None => Err(body.split(|&b| b == b'\n').count()),
            })
        }
        FORM_COLUMNS => {
            let columns = Columns::parse(body)?;
            if ordinal >= columns.rows {
                return Ok(Err(columns.rows));
            }
            let mut line = Vec::new();
            columns.write_row(
                columns.columns.iter().map(|c| nth_value(c, ordinal)),
                &mut line,
            );
            Ok(Ok(line))
        }
        other => Err(corrupt(format!("unknown block form {other}"))),
    }
}

/// Value `ordinal` of a column (checked by [`Columns::parse`] to hold more than `ordinal`).
fn nth_value(column: &[u8], ordinal: usize) -> &[u8] {
    let start = if ordinal == 0 {
        0
    } else {
        memchr::memchr_iter(b'\n', column)
            .nth(ordinal - 1)
            .map_or(column.len(), |at| at + 1)
    };
    let rest = &column[start..];
    &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(lines: &[&str]) -> Vec<u8> {
        let mut joined = Vec::new();
        for line in lines {
            joined.extend_from_slice(line.as_bytes());
            joined.push(b'\n');
        }
        let mut out = Vec::new();
        ColumnEncoder::default().encode(&joined, &mut out);
        out
    }

    fn round_trip(lines: &[&str]) -> u8 {
        let content = encode(lines);
        let back = lines_of(&content, usize::MAX).unwrap();
        let want: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        assert_eq!(back, want);
        for (i, line) in lines.iter().enumerate() {
            assert_eq!(line_of(&content, i).unwrap().unwrap(), line.as_bytes());
        }
        assert_eq!(line_of(&content, lines.len()).unwrap(), Err(lines.len()));
        content[0]
    }

    #[test]
    fn canonical_records_take_the_column_form() {
        let lines = [
            r#"{"attributes":{"type":"Account"},"Id":"001000000000001AAA","Name":"A, \"quoted\" {x}","N":1.5,"Address":{"city":"Paris","geo":[1,2]},"Gone":null}"#,
            r#"{"attributes":{"type":"Account"},"Id":"001000000000002AAA","Name":"B\\","N":-2,"Address":null,"Gone":true}"#,
            // Missing members, and one the first lines lack.
            r#"{"attributes":{"type":"Account"},"Id":"001000000000003AAA","Extra":"e"}"#,
            r#"{}"#,
        ];
        assert_eq!(round_trip(&lines), FORM_COLUMNS);
        // Values repeat down a column: the column form is what makes them adjacent.
        let content = encode(&lines);
        assert!(
            memchr::memmem::find(&content, b"{\"type\":\"Account\"}\n{\"type\":\"Account\"}")
                .is_some()
        );
    }

    /// Known answer: the column form of two lines, written out by hand from
    /// `docs/format/repository.md` §4.2.
    #[test]
    fn the_column_form_is_as_specified() {
        let content = encode(&[r#"{"a":1,"b":"x"}"#, r#"{"a":2}"#]);
        let expected: &[u8] = &[
            0x01, // column form
            0x02, 0x02, // two lines, two members
            0x03, b'"', b'a', b'"', 0x03, b'"', b'b', b'"', // names
            0x04, 0x05, // column lengths
            b'1', b'\n', b'2', b'\n', // a
            b'"', b'x', b'"', b'\n', b'\n', // b: absent from the second line
        ];
        assert_eq!(content, expected);
        assert_eq!(encode(&["not an object"]), b"\x00not an object\n".to_vec());
    }

    #[test]
    fn lines_the_columns_cannot_carry_keep_the_line_form() {
        for lines in [
            &[r#"{"a":1,"b":2}"#, r#"{"b":2,"a":1}"#][..],
            &[r#"{"a":1,"a":2}"#],
            &[r#"{"a":1} "#],
            &[r#"{"a":1,}"#],
            &[r#"{"a":}"#],
            &[r#"{"a" :1}"#],
            &[r#"{"a":{"b":1}"#],
            &[r#"[1,2]"#],
            &[r#"{"a":"unterminated}"#],
            &["not json at all"],
            &["{}"],
        ] {
            assert_eq!(round_trip(lines), FORM_LINES, "{lines:?}");
        }
    }

    #[test]
    fn damaged_columns_are_refused() {
        let content = encode(&[r#"{"a":1,"b":"x"}"#, r#"{"a":2}"#]);
        assert_eq!(content[0], FORM_COLUMNS);
        for cut in 1..content.len() {
            assert!(lines_of(&content[..cut], usize::MAX).is_err(), "cut {cut}");
            assert!(line_of(&content[..cut], 0).is_err(), "cut {cut}");
        }
        let mut extra = content.clone();
        extra.push(b'\n');
        assert!(lines_of(&extra, usize::MAX).is_err());
        let mut form = content.clone();
        form[0] = 7;
        assert!(lines_of(&form, usize::MAX).is_err());
        assert!(lines_of(&[], usize::MAX).is_err());
        // The two lines and their newlines are 24 bytes: a smaller limit refuses them.
        assert!(lines_of(&content, 23).is_err());
        assert!(lines_of(&content, 24).is_ok());
    }

    #[test]
    fn a_name_repeated_in_every_row_cannot_inflate_past_the_limit() {
        // One 1,000-byte name and 10,000 one-byte values: 10 MB of lines from 21 KB.
        let key = format!("\"{}\"", "k".repeat(998));
        let mut content = vec![FORM_COLUMNS];
        push_varint(&mut content, 10_000);
        push_varint(&mut content, 1);
        push_varint(&mut content, key.len() as u64);
        content.extend_from_slice(key.as_bytes());
        push_varint(&mut content, 20_000);
        content.extend(std::iter::repeat_n(*b"1\n", 10_000).flatten());
        assert!(lines_of(&content, 1 << 20).is_err());
        assert_eq!(lines_of(&content, 64 << 20).unwrap().len(), 10_000);
        assert_eq!(line_of(&content, 9_999).unwrap().unwrap().len(), 1_000 + 4);
    }

    proptest! {
        #[test]
        fn any_lines_come_back_exactly(lines in proptest::collection::vec("[^\n]{0,40}", 1..8)) {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            round_trip(&lines);
        }

        #[test]
        fn object_lines_come_back_exactly(
            rows in proptest::collection::vec(
                proptest::collection::vec(("[a-c\"\\\\]{0,3}", "[0-9a-z\",:{}\\[\\]\\\\]{1,6}"), 0..5),
                1..8,
            ),
        ) {
            let lines: Vec<String> = rows
                .iter()
                .map(|members| {
                    let inner: Vec<String> =
                        members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", inner.join(","))
                })
                .collect();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            round_trip(&lines);
        }

        #[test]
        fn arbitrary_content_never_panics(content in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = lines_of(&content, 1 << 16);
            let _ = line_of(&content, 0);
            let _ = line_of(&content, 3);
        }
    }
}
