//! Arbitrary bytes as a Bulk API 2.0 result page (optionally gzip), decoded twice: as the first
//! page of a job and as a later page after a fixed header. Never panics; every record has
//! exactly the header's columns; no NUL byte survives; inflation respects its bound.
#![no_main]

use coffer_salesforce::bulk_csv::{CsvDecoder, prepare_page};
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

fuzz_target!(|data: &[u8]| {
    let Ok(page) = prepare_page(data, MAX_PAGE) else {
        return;
    };
    assert!(page.len() as u64 <= MAX_PAGE);
    assert!(!page.contains(&0));
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
