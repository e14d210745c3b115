//! Bulk API 2.0 CSV serving throughput of the simulator (issue 8: at least 300 MB/s on one
//! core): `BulkOutput::write_csv` over every Bulk-selectable field of the big objects of a
//! 50,000-record generated org, and, for reference, the one-off `bulk_query` that prepares it.
//! Also one 2,000-record page of the incremental compound-cursor query
//! (`(SystemModstamp = X AND Id > Y) OR SystemModstamp > X ORDER BY SystemModstamp, Id`) over
//! a ~100,000-record Task table.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use coffer_sfsim::org::{CsvOptions, LiveOrg};
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

fn csv(c: &mut Criterion) {
    let org = LiveOrg::new(
        Org::generate(&GenerateConfig {
            seed: 1,
            records: 50_000,
        })
        .unwrap(),
    );
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
    }
    group.finish();
}

fn cursor(c: &mut Criterion) {
    let org = LiveOrg::new(
        Org::generate(&GenerateConfig {
            seed: 2,
            records: 400_000,
        })
        .unwrap(),
    );
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
