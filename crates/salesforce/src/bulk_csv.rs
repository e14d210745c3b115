//! Decoding one Bulk API 2.0 result page (CSV) into typed records.
//!
//! A page arrives possibly gzip-compressed ("the response body is always compressed"; when the
//! server sets `Content-Encoding` the HTTP layer already inflated it, otherwise the gzip magic is
//! detected here). NUL bytes are stripped before parsing: real Bulk output contains them and
//! they break CSV readers (airbyte#8300). Cells are typed with describe types so a Bulk record
//! equals the REST record of the same row: an empty cell is `null` (Bulk cannot tell an empty
//! string from null, and Salesforce stores empty text as null), booleans and numbers become
//! JSON booleans and numbers, and `…Z` datetimes become the REST form `…+0000`.
//!
//! A page decodes into a [`CsvPage`], not into one `serde_json::Map` per row: a map costs an
//! allocation per key, per text value and per tree node, and allocation was most of the decode
//! time. The page keeps typed cells in one vector and the column names once per job; its text
//! is the page's own bytes (a text cell is a span of them; only a cell holding a doubled quote
//! is unquoted into a copy after them), so decoding copies no text. [`CsvRow::to_record`] (or
//! iterating the page by value) builds the REST record of a row when a caller needs it, so at
//! most one page is ever held in either form.
//!
//! Whether later pages repeat the header row is not documented consistently, so both are
//! accepted: a first row equal to the header is skipped. No data row can equal it because the
//! `Id` column would have to contain the text `Id`, which is not an Id.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Number, Value};

use crate::Record;
use crate::csv_scan::{self, Scanner, Span};
use crate::describe::{FieldSpec, ValueKind};
use crate::error::Error;
use crate::time::Timestamp;

/// Inflates a gzip body (detected by its magic bytes; at most `max_bytes` out, which stops a
/// decompression bomb) and removes NUL bytes.
pub fn prepare_page(raw: &[u8], max_bytes: u64) -> Result<Cow<'_, [u8]>, Error> {
    let mut page = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut inflated = Vec::with_capacity(inflated_size_hint(raw, max_bytes));
        // `bufread`: the input is already in memory, so no intermediate buffer copy.
        flate2::bufread::MultiGzDecoder::new(raw)
            .take(max_bytes.saturating_add(1))
            .read_to_end(&mut inflated)
            .map_err(|e| Error::decode("gzip result page", e.to_string()))?;
        if inflated.len() as u64 > max_bytes {
            return Err(Error::decode(
                "gzip result page",
                format!("inflates beyond {max_bytes} bytes"),
            ));
        }
        Cow::Owned(inflated)
    } else {
        // The common case (HTTP already inflated it, no NUL) borrows: a page can be large.
        Cow::Borrowed(raw)
    };
    if memchr_nul(&page) {
        page.to_mut().retain(|&b| b != 0);
    }
    Ok(page)
}

/// The capacity to inflate `gz` into: its trailer's ISIZE (the size of the last member, mod
/// 2^32: exact for the usual single-member page, so inflating never grows and copies the
/// buffer), bounded by `max_bytes` and by 1032 times the input (deflate's best ratio), so a
/// forged trailer cannot make it allocate much more than the input could inflate to.
fn inflated_size_hint(gz: &[u8], max_bytes: u64) -> usize {
    let isize = gz
        .last_chunk::<4>()
        .map_or(0, |t| u64::from(u32::from_le_bytes(*t)));
    let bound = (gz.len() as u64).saturating_mul(1032).min(max_bytes);
    usize::try_from(isize.min(bound)).unwrap_or(0)
}

fn memchr_nul(b: &[u8]) -> bool {
    // `memchr` rather than `contains`: several times faster on a page-sized slice.
    memchr::memchr(0, b).is_some()
}

/// Decodes the pages of one Bulk query job, remembering the header across pages.
#[derive(Debug, Clone)]
pub struct CsvDecoder {
    kinds: HashMap<String, ValueKind>,
    columns: Option<Arc<[Column]>>,
    rows_seen: u64,
    /// Shared with the decoder's clones and the pages they decode.
    spare: Arc<SpareCells>,
}

/// The cell vector of a dropped page, kept for the next page of the same job. A page's cells
/// take tens of megabytes; allocated afresh, every page of them is faulted in and zeroed by
/// the kernel again, which cost about a tenth of decoding. Holds at most one vector, and only
/// between a page being dropped and the next one being decoded, so memory stays bounded by the
/// pages alive.
#[derive(Debug, Default)]
struct SpareCells(Mutex<Vec<Cell>>);

impl SpareCells {
    /// An empty vector with room for `cells` cells: the spare one when it is large enough.
    fn take(&self, cells: usize) -> Vec<Cell> {
        let spare = self.0.lock().map(|mut s| std::mem::take(&mut *s));
        match spare {
            Ok(spare) if spare.capacity() >= cells => spare,
            _ => Vec::with_capacity(cells),
        }
    }

    /// Keeps `cells` (emptied) unless a larger vector is kept already.
    fn put(&self, cells: &mut Vec<Cell>) {
        if let Ok(mut spare) = self.0.lock()
            && spare.capacity() < cells.capacity()
        {
            cells.clear();
            std::mem::swap(&mut *spare, cells);
        }
    }
}

/// A column of a job's results: its name and how its cells are typed.
#[derive(Debug, PartialEq, Eq)]
struct Column {
    name: String,
    kind: ValueKind,
}

impl CsvDecoder {
    /// A decoder typing columns by `fields` (columns not among them are text).
    pub fn new(fields: &[FieldSpec]) -> Self {
        CsvDecoder {
            kinds: fields.iter().map(|f| (f.name.clone(), f.kind)).collect(),
            columns: None,
            rows_seen: 0,
            spare: Arc::default(),
        }
    }

    /// The header, once the first page has been decoded.
    pub fn columns(&self) -> Option<impl Iterator<Item = &str>> {
        self.columns
            .as_ref()
            .map(|c| c.iter().map(|c| c.name.as_str()))
    }

    /// Decodes one prepared page (see [`prepare_page`]) into a [`CsvPage`]. The page is
    /// copied once: [`CsvDecoder::decode_owned_page`] decodes a page the caller owns in place.
    pub fn decode_page(&mut self, page: &[u8]) -> Result<CsvPage, Error> {
        self.decode_owned_page(page.to_vec())
    }

    /// Decodes one prepared page (see [`prepare_page`]) into a [`CsvPage`] that keeps `page`
    /// as its text: a text cell is a span of the page, so the text of a page is not copied.
    pub fn decode_owned_page(&mut self, mut page: Vec<u8>) -> Result<CsvPage, Error> {
        // Cells whose content is not one run of the page (a doubled quote) are unquoted here,
        // and this buffer is appended to the page once it is scanned: their spans start at
        // `base`.
        let mut copied = Vec::new();
        let base = page.len();
        let mut scanner = Scanner::new(&page);
        let mut first = csv_scan::Record::default();
        if !scanner.record(&mut first) {
            return Ok(CsvPage::empty(self.columns.clone(), &self.spare));
        }
        // The first row is the header on the first page, and may repeat it on later ones.
        let (columns, first_is_data) = match &self.columns {
            Some(c) => (Arc::clone(c), !is_header(c, &first)),
            None => {
                let c = header(&self.kinds, &first)?;
                self.columns = Some(Arc::clone(&c));
                (c, false)
            }
        };
        // Sized once from the line count (an upper bound on rows), so filling it never
        // reallocates.
        let lines = memchr::memchr_iter(b'\n', &page).count().min(1 << 20);
        let mut cells = self
            .spare
            .take(lines.saturating_add(1).saturating_mul(columns.len()));
        let first_row = self.rows_seen + 1;
        if first_is_data {
            self.rows_seen += 1;
            self.check_width(&columns, first.len())?;
            for (column, raw) in columns.iter().zip(first.iter()) {
                // This row was read into `first`: its text cells are copied after the page.
                let at = base + copied.len();
                if column.kind == ValueKind::Text {
                    copied.extend_from_slice(raw);
                }
                let cell = decode_cell(raw, at, column.kind);
                cells.push(self.cell_result(cell, column)?);
            }
        }
        // The other rows, decoded cell by cell as the scanner finds them.
        while scanner.next_record() {
            self.rows_seen += 1;
            let mut count = 0;
            let mut failed = None;
            loop {
                let (span, more) = scanner.span(&mut copied);
                if failed.is_none()
                    && let Some(column) = columns.get(count)
                {
                    let cell = match span {
                        Span::Page(start, end) => decode_cell(
                            page.get(start..end).unwrap_or_default(),
                            start,
                            column.kind,
                        ),
                        Span::Copied(start, end) => decode_cell(
                            copied.get(start..end).unwrap_or_default(),
                            base + start,
                            column.kind,
                        ),
                    };
                    match cell {
                        Ok(cell) => cells.push(cell),
                        Err(why) => failed = Some((why, column)),
                    }
                }
                count += 1;
                if !more {
                    break;
                }
            }
            // As for the first row: a row of the wrong width is reported as such, whatever
            // its cells hold.
            self.check_width(&columns, count)?;
            if let Some((why, column)) = failed {
                return Err(self.cell_error(why, column));
            }
        }
        page.extend_from_slice(&copied);
        // UTF-8 is checked here, once for the whole page: one long check is several times
        // faster than one per cell. Every cell starts and ends next to an ASCII byte (a
        // separator or quote) or at an end of the page, so a valid page makes every text cell
        // valid on its own. An invalid page names its first text cell that is invalid alone.
        let text = String::from_utf8(page).map_err(|e| {
            let bytes = e.as_bytes();
            let bad = cells.iter().position(|c| match *c {
                Cell::Text { start, end } => bytes
                    .get(start as usize..end as usize)
                    .is_none_or(|t| std::str::from_utf8(t).is_err()),
                _ => false,
            });
            let width = columns.len();
            let (row, column) = bad.map_or((first_row, 0), |i| {
                let row = i.checked_div(width).unwrap_or(0) as u64;
                (first_row + row, i.checked_rem(width).unwrap_or(0))
            });
            let name = columns.get(column).map_or("", |c| c.name.as_str());
            Error::decode("bulk CSV", format!("row {row} column {name}: not UTF-8"))
        })?;
        Ok(CsvPage {
            columns,
            cells,
            text,
            spare: Arc::clone(&self.spare),
        })
    }

    fn check_width(&self, columns: &[Column], cells: usize) -> Result<(), Error> {
        if cells == columns.len() {
            return Ok(());
        }
        Err(Error::decode(
            "bulk CSV",
            format!(
                "row {} has {cells} cells, header has {}",
                self.rows_seen,
                columns.len()
            ),
        ))
    }

    fn cell_result(
        &self,
        cell: Result<Cell, &'static str>,
        column: &Column,
    ) -> Result<Cell, Error> {
        cell.map_err(|why| self.cell_error(why, column))
    }

    fn cell_error(&self, why: &str, column: &Column) -> Error {
        Error::decode(
            "bulk CSV",
            format!("row {} column {}: {why}", self.rows_seen, column.name),
        )
    }
}

fn header(
    kinds: &HashMap<String, ValueKind>,
    row: &csv_scan::Record,
) -> Result<Arc<[Column]>, Error> {
    let mut cols: Vec<Column> = Vec::with_capacity(row.len());
    for cell in row.iter() {
        let name = std::str::from_utf8(cell)
            .map_err(|_| Error::decode("bulk CSV header", "column name is not UTF-8"))?;
        if name.is_empty() || cols.iter().any(|c| c.name == name) {
            return Err(Error::decode(
                "bulk CSV header",
                "empty or duplicate column name",
            ));
        }
        let kind = kinds.get(name).copied().unwrap_or(ValueKind::Text);
        cols.push(Column {
            name: name.to_owned(),
            kind,
        });
    }
    Ok(cols.into())
}

fn is_header(cols: &[Column], row: &csv_scan::Record) -> bool {
    row.len() == cols.len()
        && cols
            .iter()
            .zip(row.iter())
            .all(|(c, cell)| c.name.as_bytes() == cell)
}

/// One decoded cell. Text lives in its page's text (`start..end`), so decoding a page
/// allocates one vector of cells, not one string per cell and one map per row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Null,
    Bool(bool),
    Integer(i64),
    /// Always finite (checked when decoded).
    Number(f64),
    Text {
        start: u32,
        end: u32,
    },
    DateTime(Timestamp),
}

// The messages name the expected type, never the cell's content. A text cell is not copied:
// `raw` is at `at` of its page's text (the page, then the unquoted copies), and its UTF-8 is
// checked with the whole page (see `decode_owned_page`). Other cells are parsed here. Inlined:
// it runs once per cell, and returning its result through memory stalled the store of the
// cell.
#[inline(always)]
fn decode_cell(raw: &[u8], at: usize, kind: ValueKind) -> Result<Cell, &'static str> {
    if raw.is_empty() {
        return Ok(Cell::Null);
    }
    let utf8 = |raw| std::str::from_utf8(raw).map_err(|_| "not UTF-8");
    Ok(match kind {
        ValueKind::Text => Cell::Text {
            start: text_offset(at)?,
            end: text_offset(at + raw.len())?,
        },
        ValueKind::Boolean => match raw {
            b"true" => Cell::Bool(true),
            b"false" => Cell::Bool(false),
            _ => return Err("not a boolean"),
        },
        ValueKind::Integer => Cell::Integer(utf8(raw)?.parse().map_err(|_| "not an integer")?),
        ValueKind::Number => {
            let f: f64 = utf8(raw)?.parse().map_err(|_| "not a number")?;
            if !f.is_finite() {
                return Err("not a finite number");
            }
            Cell::Number(f)
        }
        // The parser reads ASCII only: no UTF-8 check unless the cell is rejected.
        ValueKind::DateTime => match Timestamp::parse_ascii(raw) {
            Some(t) => Cell::DateTime(t),
            None => {
                utf8(raw)?;
                return Err("not a datetime");
            }
        },
    })
}

fn text_offset(len: usize) -> Result<u32, &'static str> {
    u32::try_from(len).map_err(|_| "page text beyond 4 GiB")
}

/// One decoded Bulk result page: the typed cells of its rows, row after row, with the text of
/// all cells in one buffer (the page itself) and the column names shared by every page of the
/// job.
///
/// Values are decoded eagerly (UTF-8 checked, booleans, numbers and datetimes parsed, so a bad
/// cell fails the page), but stored compactly; a REST-shaped [`Record`] is built per row only
/// when asked for ([`CsvRow::to_record`], or iterating the page by value).
#[derive(Debug, Clone)]
pub struct CsvPage {
    columns: Arc<[Column]>,
    cells: Vec<Cell>,
    text: String,
    /// Where the cells go when the page is dropped.
    spare: Arc<SpareCells>,
}

impl Drop for CsvPage {
    fn drop(&mut self) {
        self.spare.put(&mut self.cells);
    }
}

impl CsvPage {
    fn empty(columns: Option<Arc<[Column]>>, spare: &Arc<SpareCells>) -> Self {
        CsvPage {
            columns: columns.unwrap_or_else(|| Arc::from(Vec::new())),
            cells: Vec::new(),
            text: String::new(),
            spare: Arc::clone(spare),
        }
    }

    /// Rows on the page.
    pub fn len(&self) -> usize {
        self.cells
            .len()
            .checked_div(self.columns.len())
            .unwrap_or(0)
    }

    /// Whether the page has no rows.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The column names, in CSV order.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// Row `index`, if there is one.
    pub fn row(&self, index: usize) -> Option<CsvRow<'_>> {
        let width = self.columns.len();
        let start = index.checked_mul(width)?;
        let cells = self.cells.get(start..start.checked_add(width)?)?;
        (width > 0).then_some(CsvRow {
            columns: &self.columns,
            cells,
            text: &self.text,
        })
    }

    /// The rows, in order.
    pub fn rows(&self) -> CsvRows<'_> {
        self.into_iter()
    }
}

impl<'a> IntoIterator for &'a CsvPage {
    type Item = CsvRow<'a>;
    type IntoIter = CsvRows<'a>;

    fn into_iter(self) -> CsvRows<'a> {
        CsvRows {
            page: self,
            // `max(1)`: a page without columns has no cells, and chunks must not be empty.
            chunks: self.cells.chunks_exact(self.columns.len().max(1)),
        }
    }
}

/// Iterates the rows of a [`CsvPage`].
#[derive(Debug, Clone)]
pub struct CsvRows<'a> {
    page: &'a CsvPage,
    chunks: std::slice::ChunksExact<'a, Cell>,
}

impl<'a> Iterator for CsvRows<'a> {
    type Item = CsvRow<'a>;

    fn next(&mut self) -> Option<CsvRow<'a>> {
        self.chunks.next().map(|cells| CsvRow {
            columns: &self.page.columns,
            cells,
            text: &self.page.text,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for CsvRows<'_> {}

/// Converts the page row by row into [`Record`]s, each built only when it is reached.
impl IntoIterator for CsvPage {
    type Item = Record;
    type IntoIter = CsvRecords;

    fn into_iter(self) -> CsvRecords {
        CsvRecords {
            page: self,
            next: 0,
        }
    }
}

/// Owning iterator over a [`CsvPage`] as [`Record`]s.
#[derive(Debug, Clone)]
pub struct CsvRecords {
    page: CsvPage,
    next: usize,
}

impl Iterator for CsvRecords {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let record = self.page.row(self.next)?.to_record();
        self.next += 1;
        Some(record)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.page.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for CsvRecords {}

/// One row of a [`CsvPage`], borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct CsvRow<'a> {
    columns: &'a [Column],
    cells: &'a [Cell],
    text: &'a str,
}

impl<'a> CsvRow<'a> {
    /// Fields in the row (the page's column count).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the row has no fields (never, for a row of a decoded page).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The value of `column`, or `None` when the page has no such column.
    pub fn get(&self, column: &str) -> Option<Field<'a>> {
        let i = self.columns.iter().position(|c| c.name == column)?;
        self.cells.get(i).map(|&cell| self.field(cell))
    }

    /// `(column, value)` pairs in CSV order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Field<'a>)> + use<'a> {
        let row = *self;
        row.columns
            .iter()
            .zip(row.cells)
            .map(move |(c, &cell)| (c.name.as_str(), row.field(cell)))
    }

    /// The values in CSV order.
    pub fn values(&self) -> impl Iterator<Item = Field<'a>> + use<'a> {
        self.iter().map(|(_, value)| value)
    }

    /// The row as a REST-shaped record, identical to the REST query record of the same row.
    pub fn to_record(&self) -> Record {
        self.iter()
            .map(|(name, value)| (name.to_owned(), value.to_json()))
            .collect::<Map<String, Value>>()
    }

    fn field(&self, cell: Cell) -> Field<'a> {
        match cell {
            Cell::Null => Field::Null,
            Cell::Bool(b) => Field::Bool(b),
            Cell::Integer(i) => Field::Integer(i),
            Cell::Number(f) => Field::Number(f),
            // The decoder checked that spans are in bounds and on character boundaries;
            // `get` keeps this panic-free regardless.
            Cell::Text { start, end } => {
                Field::Text(self.text.get(start as usize..end as usize).unwrap_or(""))
            }
            Cell::DateTime(t) => Field::DateTime(t),
        }
    }
}

/// One typed value of a Bulk row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// An empty cell: Bulk cannot tell an empty string from null, and Salesforce stores empty
    /// text as null.
    Null,
    /// A `boolean` field.
    Bool(bool),
    /// An `int` field.
    Integer(i64),
    /// A `double`, `currency` or `percent` field (finite).
    Number(f64),
    /// Text (any other field type).
    Text(&'a str),
    /// A `datetime` field.
    DateTime(Timestamp),
}

impl<'a> Field<'a> {
    /// The text of a [`Field::Text`].
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Field::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The REST JSON value: datetimes in the REST form `2020-10-22T21:03:23.000+0000`.
    pub fn to_json(&self) -> Value {
        match *self {
            Field::Null => Value::Null,
            Field::Bool(b) => Value::Bool(b),
            Field::Integer(i) => Value::Number(i.into()),
            // Finite by construction, so `from_f64` succeeds; null keeps this panic-free.
            Field::Number(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Field::Text(s) => Value::String(s.to_owned()),
            Field::DateTime(t) => Value::String(t.to_rest()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fields() -> Vec<FieldSpec> {
        [
            ("Id", ValueKind::Text),
            ("Name", ValueKind::Text),
            ("IsDeleted", ValueKind::Boolean),
            ("NumberOfEmployees", ValueKind::Integer),
            ("AnnualRevenue", ValueKind::Number),
            ("SystemModstamp", ValueKind::DateTime),
        ]
        .into_iter()
        .map(|(n, k)| FieldSpec {
            name: n.to_owned(),
            kind: k,
        })
        .collect()
    }

    const PAGE: &[u8] = b"\"Id\",\"Name\",\"IsDeleted\",\"NumberOfEmployees\",\"AnnualRevenue\",\"SystemModstamp\"\n\
\"001000000000001AAA\",\"Acme, \"\"Inc\"\"\",\"false\",\"12\",\"1.5E7\",\"2023-10-22T06:25:12.000Z\"\n\
\"001000000000002AAA\",\"\",\"true\",\"\",\"\",\"2023-10-22T06:25:12.000Z\"\n\
\"001000000000003AAA\",\"line\none\",\"false\",\"-3\",\"0.25\",\"2024-01-01T00:00:00.000Z\"\n";

    #[test]
    fn decodes_typed_values_quoting_and_nulls() {
        let mut d = CsvDecoder::new(&fields());
        let page = d
            .decode_page(&prepare_page(PAGE, 1 << 20).unwrap())
            .unwrap();
        assert_eq!(page.len(), 3);
        let row = page.row(1).unwrap();
        assert_eq!(row.len(), 6);
        assert_eq!(row.get("Id"), Some(Field::Text("001000000000002AAA")));
        assert_eq!(row.get("Name"), Some(Field::Null));
        assert_eq!(row.get("IsDeleted"), Some(Field::Bool(true)));
        assert_eq!(
            row.get("SystemModstamp"),
            Some(Field::DateTime(Timestamp(1_697_955_912_000)))
        );
        assert_eq!(row.get("Missing"), None);
        assert!(page.row(3).is_none());
        assert_eq!(page.rows().len(), 3);
        assert_eq!(
            page.rows().map(|r| r.to_record()).collect::<Vec<_>>(),
            page.clone().into_iter().collect::<Vec<_>>()
        );
        let recs: Vec<Record> = page.into_iter().collect();
        assert_eq!(recs[0]["Name"], Value::String("Acme, \"Inc\"".into()));
        assert_eq!(recs[0]["IsDeleted"], Value::Bool(false));
        assert_eq!(recs[0]["NumberOfEmployees"], Value::from(12));
        assert_eq!(recs[0]["AnnualRevenue"], Value::from(15_000_000.0));
        assert_eq!(
            recs[0]["SystemModstamp"],
            Value::String("2023-10-22T06:25:12.000+0000".into())
        );
        assert_eq!(recs[1]["Name"], Value::Null);
        assert_eq!(recs[1]["NumberOfEmployees"], Value::Null);
        assert_eq!(recs[1]["IsDeleted"], Value::Bool(true));
        assert_eq!(recs[2]["Name"], Value::String("line\none".into()));
        assert_eq!(d.columns().unwrap().count(), 6);
    }

    #[test]
    fn strips_nul_bytes() {
        let page = b"Id,Name\n001000000000001AAA,Ac\0me\n\0";
        let mut d = CsvDecoder::new(&fields());
        let recs: Vec<Record> = d
            .decode_page(&prepare_page(page, 1 << 20).unwrap())
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["Name"], Value::String("Acme".into()));
    }

    #[test]
    fn inflates_gzip_and_bounds_it() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(PAGE).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(prepare_page(&gz, 1 << 20).unwrap().as_ref(), PAGE);
        // The buffer is sized from the trailer, within bounds a forged trailer cannot pass.
        assert_eq!(inflated_size_hint(&gz, 1 << 20), PAGE.len());
        assert_eq!(inflated_size_hint(&gz, 10), 10);
        let mut forged = gz.clone();
        let at = forged.len() - 4;
        forged[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(inflated_size_hint(&forged, u64::MAX), gz.len() * 1032);
        assert!(matches!(
            prepare_page(&forged, 1 << 20),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(prepare_page(&gz, 10), Err(Error::Decode { .. })));
        assert!(matches!(
            prepare_page(&[0x1f, 0x8b, 1, 2, 3], 1 << 20),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn later_pages_with_or_without_header() {
        let mut d = CsvDecoder::new(&fields());
        assert_eq!(d.decode_page(b"Id,Name\r\nA1,x\r\n").unwrap().len(), 1);
        // Header repeated: skipped.
        let recs: Vec<Record> = d
            .decode_page(b"Id,Name\nA2,y\n")
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["Id"], Value::String("A2".into()));
        // No header: first row is data.
        let recs: Vec<Record> = d
            .decode_page(b"A3,z\nA4,w\n")
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["Id"], Value::String("A3".into()));
        // Empty page.
        assert!(d.decode_page(b"").unwrap().is_empty());
    }

    #[test]
    fn a_dropped_page_lends_its_cells_to_the_next() {
        let mut d = CsvDecoder::new(&fields());
        let first = d.decode_page(PAGE).unwrap();
        let capacity = first.cells.capacity();
        assert!(capacity >= 18);
        assert_eq!(d.spare.0.lock().unwrap().capacity(), 0);
        drop(first);
        assert_eq!(d.spare.0.lock().unwrap().capacity(), capacity);
        // The next page of the job decodes into that vector, and leaves nothing behind.
        let second = d
            .decode_page(b"001000000000004AAA,x,true,1,2.5,2024-01-01T00:00:00.000Z\n")
            .unwrap();
        assert_eq!(second.cells.capacity(), capacity);
        assert_eq!(d.spare.0.lock().unwrap().capacity(), 0);
        assert_eq!(second.row(0).unwrap().get("Name"), Some(Field::Text("x")));
        // A clone has its own vector; only one is kept, the larger.
        let clone = second.clone();
        drop(second);
        drop(clone);
        assert_eq!(d.spare.0.lock().unwrap().capacity(), capacity);
    }

    #[test]
    fn doubled_quotes_and_a_data_first_row_are_unquoted_after_the_page() {
        let mut d = CsvDecoder::new(&fields());
        d.decode_page(b"Id,Name\n").unwrap();
        // No header: the first row is data; then a cell with doubled quotes, one with bytes
        // after its closing quote, and plain quoted and unquoted cells.
        let page = d
            .decode_page(b"A1,\"x\"\"y\"\nA2,\"a\"b\nA3,\"q\"\nA4,w\n")
            .unwrap();
        let names: Vec<_> = page.rows().map(|r| r.get("Name").unwrap()).collect();
        assert_eq!(
            names,
            [
                Field::Text("x\"y"),
                Field::Text("ab"),
                Field::Text("q"),
                Field::Text("w")
            ]
        );
        assert_eq!(page.row(0).unwrap().get("Id"), Some(Field::Text("A1")));
    }

    #[test]
    fn bad_cells_are_typed_errors_without_values() {
        let mut d = CsvDecoder::new(&fields());
        let err = d
            .decode_page(b"Id,IsDeleted\nA1,secretvalue\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("IsDeleted") && !msg.contains("secretvalue"),
            "{msg}"
        );
        let mut d = CsvDecoder::new(&fields());
        assert!(d.decode_page(b"Id,Name\nA1\n").is_err());
        let mut d = CsvDecoder::new(&fields());
        assert!(d.decode_page(b"Id,Id\nA1,A2\n").is_err());
        let mut d = CsvDecoder::new(&fields());
        assert!(d.decode_page(b"Id,NumberOfEmployees\nA1,1.5\n").is_err());
        let mut d = CsvDecoder::new(&fields());
        assert!(d.decode_page(b"Id,AnnualRevenue\nA1,NaN\n").is_err());
        let mut d = CsvDecoder::new(&fields());
        let msg = d
            .decode_page(b"Id,Name\nA1,ok\nA2,\xffsecret\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("row 2 column Name: not UTF-8"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        let mut d = CsvDecoder::new(&fields());
        assert!(d.decode_page(b"Id,Name\nA1,\xff\n").is_err());
        // "\xc3\xa9" is "é": split over two cells, each alone is not UTF-8.
        let mut d = CsvDecoder::new(&fields());
        let msg = d
            .decode_page(b"Id,Name,Other\nA1,\xc3,\xa9\n")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("row 1 column Name: not UTF-8"), "{msg}");
        let mut d = CsvDecoder::new(&fields());
        assert!(d.decode_page(b"Id,SystemModstamp\nA1,yesterday\n").is_err());
    }
}
