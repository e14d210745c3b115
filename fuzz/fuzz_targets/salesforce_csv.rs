//! Arbitrary bytes as a Bulk API 2.0 result page (optionally gzip), decoded twice: as the first
//! page of a job and as a later page after a fixed header. Never panics; every record has
//! exactly the header's columns; no NUL byte survives; inflation respects its bound. Decoded
//! with every column as text, a page holds exactly the fields the `csv` crate reads from it
//! (the decoder has its own scanner; the `csv` crate is the reference).
#![no_main]

use coffer_salesforce::bulk_csv::{CsvDecoder, Field, prepare_page};
use coffer_salesforce::describe::{FieldSpec, ValueKind};
use libfuzzer_sys::fuzz_target;

const MAX_PAGE: u64 = 1 << 20;

fn fields() -> Vec<FieldSpec> {
    [
        ("Id", ValueKind::Text),
        ("IsDeleted", ValueKind::Boolean),
        ("NumberOfEmployees", ValueKind::Integer),
        ("AnnualRevenue", ValueKind::Number),
        ("SystemModstamp", ValueKind::DateTime),
    ]
    .into_iter()
    .map(|(name, kind)| FieldSpec {
        name: name.to_owned(),
        kind,
    })
    .collect()
}

fn check(decoder: &mut CsvDecoder, page: &[u8]) {
    if let Ok(records) = decoder.decode_page(page) {
        let columns = decoder.columns().map(|c| c.count()).unwrap_or(0);
        for r in &records {
            assert_eq!(r.len(), columns);
            for v in r.values() {
                if let Some(s) = v.as_str() {
                    assert!(!s.contains('\0'));
                }
            }
        }
    }
}

/// Decoded with no field types (every column text), `page` has the csv crate's header and rows,
/// an empty cell being null.
fn same_as_csv_crate(page: &[u8]) {
    let mut decoder = CsvDecoder::new(&[]);
    let Ok(decoded) = decoder.decode_page(page) else {
        return;
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(page);
    let mut rows = reader
        .byte_records()
        .map(|r| r.expect("reading a slice cannot fail"));
    let Some(header) = rows.next() else {
        assert!(decoded.is_empty());
        return;
    };
    let columns: Vec<&[u8]> = decoder
        .columns()
        .expect("a header")
        .map(str::as_bytes)
        .collect();
    assert_eq!(columns, header.iter().collect::<Vec<_>>());
    let expected: Vec<csv::ByteRecord> = rows.collect();
    assert_eq!(decoded.len(), expected.len());
    for (row, want) in decoded.rows().zip(&expected) {
        assert_eq!(row.len(), want.len());
        for (field, cell) in row.values().zip(want.iter()) {
            match field {
                Field::Null => assert!(cell.is_empty()),
                Field::Text(text) => assert_eq!(text.as_bytes(), cell),
                other => panic!("untyped column decoded as {other:?}"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(page) = prepare_page(data, MAX_PAGE) else {
        return;
    };
    assert!(page.len() as u64 <= MAX_PAGE);
    assert!(!page.contains(&0));
    same_as_csv_crate(&page);
    let fields = fields();
    check(&mut CsvDecoder::new(&fields), &page);
    let mut later = CsvDecoder::new(&fields);
    if later
        .decode_page(b"Id,IsDeleted,NumberOfEmployees,AnnualRevenue,SystemModstamp\n")
        .is_ok()
    {
        check(&mut later, &page);
    }
});
