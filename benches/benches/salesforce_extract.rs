#![allow(clippy::unwrap_used, clippy::expect_used)]
//! coffer-salesforce extraction (issue 9).
//!
//! - `salesforce_csv_decode/<Object>`: one Bulk result page (CSV as the simulator serves it,
//!   50,000 rows at most) through NUL stripping and typed decoding into records, one core.
//! - `salesforce_extract/bulk_full`: a full Bulk API 2.0 `queryAll` extraction of Account,
//!   Contact, Opportunity, Case and Task from the simulator over HTTPS on loopback (job create,
//!   polling, locator paging, gzip, decoding), client and server sharing the machine.
//!
//! Throughput is over CSV bytes decoded (after inflation). Record counts and bytes are printed
//! to stderr once, so records/s follows from the reported MB/s. Run:
//! `cargo bench -p coffer-benches --bench salesforce_extract`.

use std::hint::black_box;
use std::time::Duration;

use coffer_salesforce::auth::Credentials;
use coffer_salesforce::bulk_csv::{CsvDecoder, prepare_page};
use coffer_salesforce::retry::PollPolicy;
use coffer_salesforce::{
    BulkSupport, Client, ExtractOptions, Extraction, Method, ObjectPlan, SalesforceApi, Timestamp,
    Window,
};
use coffer_sfsim::org::{CsvOptions, LineEnding, LiveOrg};
use coffer_sfsim::server::Simulator;
use coffer_sfsim::{GenerateConfig, Org};
use criterion::{Criterion, Throughput};
use secrecy::SecretString;

const DECODE_RECORDS: usize = 60_000;
const EXTRACT_RECORDS: usize = 60_000;
const OBJECTS: [&str; 5] = ["Account", "Contact", "Opportunity", "Case", "Task"];

fn decode(c: &mut Criterion) {
    let org = LiveOrg::new(
        Org::generate(&GenerateConfig {
            seed: 3,
            records: DECODE_RECORDS,
        })
        .unwrap(),
    );
    let mut group = c.benchmark_group("salesforce_csv_decode");
    group.measurement_time(Duration::from_secs(8));
    for object in ["Account", "Contact"] {
        let describe = org.describe(object).unwrap();
        let plan = ObjectPlan::from_describe(&serde_json::from_value(describe).unwrap());
        let bulk = org.bulk_query(&plan.select(), true).unwrap();
        let rows = bulk.len().min(50_000);
        let mut page = Vec::new();
        bulk.write_csv(
            0..rows,
            &CsvOptions {
                delimiter: b',',
                line_ending: LineEnding::Lf,
            },
            true,
            &mut page,
        );
        eprintln!(
            "salesforce_csv_decode/{object}: {rows} rows, {} bytes, {:.0} bytes/row",
            page.len(),
            page.len() as f64 / rows as f64
        );
        group.throughput(Throughput::Bytes(page.len() as u64));
        group.bench_function(object, |b| {
            b.iter(|| {
                let prepared = prepare_page(black_box(&page), u64::MAX).unwrap();
                let mut decoder = CsvDecoder::new(&plan.fields);
                black_box(decoder.decode_page(&prepared).unwrap())
            })
        });
    }
    group.finish();
}

fn extract(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sim = rt.block_on(async {
        Simulator::builder()
            .seed(5)
            .records(EXTRACT_RECORDS)
            .bulk_polls_to_complete(1)
            .start()
            .await
            .unwrap()
    });
    let client = Client::builder(
        sim.instance_url(),
        Credentials::ClientCredentials {
            client_id: sim.client_id().to_owned(),
            client_secret: SecretString::from(sim.client_secret().to_owned()),
        },
    )
    .native_roots(false)
    .extra_root_pem(sim.ca_cert_pem().unwrap().as_bytes().to_vec())
    .build()
    .unwrap();
    let opts = ExtractOptions {
        bulk_page_records: 50_000,
        poll: PollPolicy {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(10),
            timeout: Duration::from_secs(120),
        },
        ..ExtractOptions::default()
    };
    let plans: Vec<ObjectPlan> = rt.block_on(async {
        let mut plans = Vec::new();
        for o in OBJECTS {
            plans.push(ObjectPlan::from_describe(
                &client.describe(o).await.unwrap(),
            ));
        }
        plans
    });
    let run = || async {
        let (mut records, mut bytes) = (0u64, 0u64);
        for plan in &plans {
            let mut ex = Extraction::new(
                &client,
                plan.clone(),
                Method::Bulk,
                Window::full(Timestamp::now().plus_millis(400 * 86_400_000)),
                opts.clone(),
                BulkSupport::default(),
            )
            .unwrap();
            while let Some(page) = ex.next_page().await.unwrap() {
                black_box(&page);
            }
            let s = ex.stats();
            assert_eq!(s.bulk_fallbacks, 0);
            records += s.records;
            bytes += s.csv_bytes;
        }
        (records, bytes)
    };
    let (records, bytes) = rt.block_on(run());
    eprintln!(
        "salesforce_extract/bulk_full: {records} records, {bytes} CSV bytes, {:.0} bytes/record",
        bytes as f64 / records as f64
    );
    let mut group = c.benchmark_group("salesforce_extract");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("bulk_full", |b| b.iter(|| rt.block_on(run())));
    group.finish();
    rt.block_on(sim.shutdown());
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    decode(&mut c);
    extract(&mut c);
    c.final_summary();
}
