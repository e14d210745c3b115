//! Bulk API 2.0 CSV serving throughput of the simulator (issue 8: at least 300 MB/s on one
//! core, serving a ~250 MB org), over every Bulk-selectable field of the big objects of a
//! 600,000-record generated org (about 256 MB of Bulk CSV, as in `salesforce_extract`):
//! `bulk_end_to_end` is what a backup waits for (the one-off `bulk_query` run at job creation,
//! then `write_csv` of every results page); `write_csv` (serving alone) and `bulk_query`
//! (preparation alone) are its two halves. All three report CSV bytes produced per second.
//! Also one 2,000-record page of the incremental compound-cursor query
//! (`(SystemModstamp = X AND Id > Y) OR SystemModstamp > X ORDER BY SystemModstamp, Id`) over
//! a ~100,000-record Task table.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use coffer_sfsim::org::{BulkOutput, CsvOptions, LiveOrg};
use coffer_sfsim::{GenerateConfig, Org};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// `SELECT <every field Bulk can serve> FROM object`.
fn bulk_soql(org: &LiveOrg, object: &str) -> String {
    let describe = org.describe(object).unwrap();
    let fields: Vec<&str> = describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !matches!(f["type"].as_str(), Some("address" | "location" | "base64")))
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    format!("SELECT {} FROM {object}", fields.join(", "))
}

/// Rows per results page in `bulk_end_to_end` (a client's `maxRecords`).
const PAGE_ROWS: usize = 10_000;

/// Serves every page of `out` as the results endpoint does (a fresh body per page, the header
/// row on the first page only) and returns the CSV bytes produced.
fn serve_all_pages(out: &BulkOutput, opts: &CsvOptions) -> usize {
    let mut total = 0;
    let mut offset = 0_usize;
    loop {
        let end = offset.saturating_add(PAGE_ROWS).min(out.len());
        let mut body = Vec::new();
        out.write_csv(offset..end, opts, offset == 0, &mut body);
        total += black_box(&body).len();
        if end == out.len() {
            return total;
        }
        offset = end;
    }
}

fn csv(c: &mut Criterion) {
    let records = if coffer_benches::smoke() {
        500
    } else {
        600_000
    };
    let org = LiveOrg::new(Org::generate(&GenerateConfig { seed: 1, records }).unwrap());
    let mut group = c.benchmark_group("sfsim_csv");
    for object in ["Account", "Contact", "Task"] {
        let soql = bulk_soql(&org, object);
        let out = org.bulk_query(&soql, false).unwrap();
        let opts = CsvOptions::default();
        let mut sample = Vec::new();
        out.write_csv(0..out.len(), &opts, true, &mut sample);
        group.throughput(Throughput::Bytes(sample.len() as u64));
        let mut buffer = Vec::with_capacity(sample.len());
        group.bench_function(format!("write_csv/{object}/{}rows", out.len()), |b| {
            b.iter(|| {
                buffer.clear();
                out.write_csv(0..out.len(), &opts, true, &mut buffer);
                black_box(buffer.len())
            })
        });
        group.bench_function(format!("bulk_query/{object}/{}rows", out.len()), |b| {
            b.iter(|| black_box(org.bulk_query(&soql, false).unwrap().len()))
        });
        // The pages joined are `sample`: one header row, then every row once.
        assert_eq!(serve_all_pages(&out, &opts), sample.len());
        group.bench_function(format!("bulk_end_to_end/{object}/{}rows", out.len()), |b| {
            b.iter(|| serve_all_pages(&org.bulk_query(&soql, false).unwrap(), &opts))
        });
    }
    group.finish();
}

fn cursor(c: &mut Criterion) {
    let records = if coffer_benches::smoke() {
        2_000
    } else {
        400_000
    };
    let org = LiveOrg::new(Org::generate(&GenerateConfig { seed: 2, records }).unwrap());
    let tasks = org.live_counts()["Task"];
    // The cursor sits in the middle of the table: half the rows match, 2,000 are returned.
    let middle = org
        .query(
            &format!(
                "SELECT Id, SystemModstamp FROM Task ORDER BY SystemModstamp, Id LIMIT {}",
                tasks / 2
            ),
            false,
            "v62.0",
        )
        .unwrap();
    let last = middle.records.last().unwrap();
    let (ts, id) = (
        last["SystemModstamp"].as_str().unwrap(),
        last["Id"].as_str().unwrap(),
    );
    let soql = format!(
        "SELECT Id, Subject, SystemModstamp FROM Task WHERE (SystemModstamp = {ts} AND Id > '{id}') OR SystemModstamp > {ts} ORDER BY SystemModstamp, Id LIMIT 2000"
    );
    let mut group = c.benchmark_group("sfsim_cursor");
    group.bench_function(format!("page_of_2000/Task/{tasks}rows"), |b| {
        b.iter(|| black_box(org.query(&soql, true, "v62.0").unwrap().total_size))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = csv, cursor
}
criterion_main!(benches);
