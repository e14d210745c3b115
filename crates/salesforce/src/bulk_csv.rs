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
//! Whether later pages repeat the header row is not documented consistently, so both are
//! accepted: a first row equal to the header is skipped. No data row can equal it because the
//! `Id` column would have to contain the text `Id`, which is not an Id.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use serde_json::{Map, Number, Value};

use crate::Record;
use crate::describe::{FieldSpec, ValueKind};
use crate::error::Error;
use crate::time::bulk_datetime_to_rest;

/// Inflates a gzip body (detected by its magic bytes; at most `max_bytes` out, which stops a
/// decompression bomb) and removes NUL bytes.
pub fn prepare_page(raw: &[u8], max_bytes: u64) -> Result<Cow<'_, [u8]>, Error> {
    let mut page = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut inflated = Vec::with_capacity(raw.len().saturating_mul(4));
        flate2::read::MultiGzDecoder::new(raw)
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

fn memchr_nul(b: &[u8]) -> bool {
    b.contains(&0)
}

/// Decodes the pages of one Bulk query job, remembering the header across pages.
#[derive(Debug, Clone)]
pub struct CsvDecoder {
    kinds: HashMap<String, ValueKind>,
    columns: Option<Vec<(String, ValueKind)>>,
    rows_seen: u64,
}

impl CsvDecoder {
    /// A decoder typing columns by `fields` (columns not among them are text).
    pub fn new(fields: &[FieldSpec]) -> Self {
        CsvDecoder {
            kinds: fields.iter().map(|f| (f.name.clone(), f.kind)).collect(),
            columns: None,
            rows_seen: 0,
        }
    }

    /// The header, once the first page has been decoded.
    pub fn columns(&self) -> Option<impl Iterator<Item = &str>> {
        self.columns
            .as_ref()
            .map(|c| c.iter().map(|(n, _)| n.as_str()))
    }

    /// Decodes one prepared page (see [`prepare_page`]) into records.
    pub fn decode_page(&mut self, page: &[u8]) -> Result<Vec<Record>, Error> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(page);
        let mut row = csv::ByteRecord::new();
        // Sized once from the line count (an upper bound on rows): growing a large Vec frees
        // its old buffer, and in glibc that triggers a walk of every small chunk freed so far.
        let lines = page.iter().filter(|&&b| b == b'\n').count();
        let mut out = Vec::with_capacity(lines.min(1 << 20));
        let mut first = true;
        loop {
            let more = reader
                .read_byte_record(&mut row)
                .map_err(|e| Error::decode("bulk CSV", csv_error_detail(&e)))?;
            if !more {
                break;
            }
            if first {
                first = false;
                match &self.columns {
                    None => {
                        self.columns = Some(self.header(&row)?);
                        continue;
                    }
                    Some(cols) if is_header(cols, &row) => continue,
                    Some(_) => {}
                }
            }
            self.rows_seen += 1;
            out.push(self.decode_row(&row)?);
        }
        Ok(out)
    }

    fn header(&self, row: &csv::ByteRecord) -> Result<Vec<(String, ValueKind)>, Error> {
        let mut cols = Vec::with_capacity(row.len());
        for cell in row {
            let name = std::str::from_utf8(cell)
                .map_err(|_| Error::decode("bulk CSV header", "column name is not UTF-8"))?;
            if name.is_empty() || cols.iter().any(|(n, _): &(String, _)| n == name) {
                return Err(Error::decode(
                    "bulk CSV header",
                    "empty or duplicate column name",
                ));
            }
            let kind = self.kinds.get(name).copied().unwrap_or(ValueKind::Text);
            cols.push((name.to_owned(), kind));
        }
        Ok(cols)
    }

    fn decode_row(&self, row: &csv::ByteRecord) -> Result<Record, Error> {
        let cols = self
            .columns
            .as_ref()
            .ok_or_else(|| Error::decode("bulk CSV", "row before header"))?;
        if row.len() != cols.len() {
            return Err(Error::decode(
                "bulk CSV",
                format!(
                    "row {} has {} cells, header has {}",
                    self.rows_seen,
                    row.len(),
                    cols.len()
                ),
            ));
        }
        let mut rec = Map::new();
        for ((name, kind), cell) in cols.iter().zip(row.iter()) {
            let value = typed(cell, *kind).map_err(|why| {
                Error::decode(
                    "bulk CSV",
                    format!("row {} column {name}: {why}", self.rows_seen),
                )
            })?;
            rec.insert(name.clone(), value);
        }
        Ok(rec)
    }
}

fn is_header(cols: &[(String, ValueKind)], row: &csv::ByteRecord) -> bool {
    row.len() == cols.len()
        && cols
            .iter()
            .zip(row.iter())
            .all(|((n, _), c)| n.as_bytes() == c)
}

// The messages name the expected type, never the cell's content.
fn typed(cell: &[u8], kind: ValueKind) -> Result<Value, &'static str> {
    if cell.is_empty() {
        return Ok(Value::Null);
    }
    let text = std::str::from_utf8(cell).map_err(|_| "not UTF-8")?;
    Ok(match kind {
        ValueKind::Text => Value::String(text.to_owned()),
        ValueKind::Boolean => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err("not a boolean"),
        },
        ValueKind::Integer => {
            Value::Number(text.parse::<i64>().map_err(|_| "not an integer")?.into())
        }
        ValueKind::Number => {
            let f = text.parse::<f64>().map_err(|_| "not a number")?;
            Value::Number(Number::from_f64(f).ok_or("not a finite number")?)
        }
        ValueKind::DateTime => Value::String(bulk_datetime_to_rest(text).ok_or("not a datetime")?),
    })
}

fn csv_error_detail(e: &csv::Error) -> String {
    // csv errors can quote the offending field; report only the position.
    match e.position() {
        Some(p) => format!("malformed CSV at line {}", p.line()),
        None => "malformed CSV".to_owned(),
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
        let recs = d
            .decode_page(&prepare_page(PAGE, 1 << 20).unwrap())
            .unwrap();
        assert_eq!(recs.len(), 3);
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
        let recs = d
            .decode_page(&prepare_page(page, 1 << 20).unwrap())
            .unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["Name"], Value::String("Acme".into()));
    }

    #[test]
    fn inflates_gzip_and_bounds_it() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(PAGE).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(prepare_page(&gz, 1 << 20).unwrap().as_ref(), PAGE);
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
        let recs = d.decode_page(b"Id,Name\nA2,y\n").unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0]["Id"], Value::String("A2".into()));
        // No header: first row is data.
        let recs = d.decode_page(b"A3,z\nA4,w\n").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0]["Id"], Value::String("A3".into()));
        // Empty page.
        assert!(d.decode_page(b"").unwrap().is_empty());
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
        assert!(d.decode_page(b"Id,Name\nA1,\xff\n").is_err());
        let mut d = CsvDecoder::new(&fields());
        assert!(d.decode_page(b"Id,SystemModstamp\nA1,yesterday\n").is_err());
    }
}
