#![allow(clippy::unwrap_used, clippy::expect_used)]
//! coffer-salesforce extraction (issue 9).
//!
//! - `salesforce_csv_decode/<Object>`: one Bulk result page (CSV as the simulator serves it,
//!   50,000 rows at most) through NUL stripping and typed decoding into a `CsvPage`, one core.
//!   `<Object>/records` also turns every row into a REST-shaped `Record` (a `serde_json::Map`),
//!   as the backup engine does when it iterates a page.
//! - `salesforce_extract/bulk_full`: a full Bulk API 2.0 `queryAll` extraction of Account,
//!   Contact, Opportunity, Case and Task from the simulator over HTTPS on loopback (job create,
//!   polling, locator paging, gzip, decoding), client and server sharing the machine. The org
//!   is generated with 600,000 records, about 250 MB of CSV; one iteration takes seconds, so
//!   the group takes criterion's minimum of 10 samples. `bulk_full` asks for gzip pages (the
//!   client's default, what a WAN needs); `bulk_full_no_gzip` is the same extraction with
//!   `ClientBuilder::bulk_gzip(false)`, for fast links, where neither end spends CPU on
//!   compression. Both decode every record.
//! - Peak memory (not a criterion measurement, printed to stderr): the same extraction, run by
//!   a child process of this binary against simulators holding a small (60,000 records) and the
//!   large org, reports the child's peak resident set size (`VmHWM`). The child holds only the
//!   client, so the org's own memory (in the simulator, in this process) is not counted. Both
//!   orgs are read with pages of 5,000 records, which every object of either org fills, so equal
//!   peaks for a 10x larger org show that memory is bounded by a page, not by the org; the large
//!   org is also read with the default 50,000-record pages, the peak a real run sees.
//!
//! Throughput is over CSV bytes decoded (after inflation). Record counts and bytes are printed
//! to stderr once, so records/s follows from the reported time. With `--test` (criterion's test
//! mode) the orgs are small. Run: `cargo bench -p coffer-benches --bench salesforce_extract`.

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use coffer_salesforce::auth::Credentials;
use coffer_salesforce::bulk_csv::{CsvDecoder, prepare_page};
use coffer_salesforce::retry::PollPolicy;
use coffer_salesforce::{
    BulkSupport, Client, ExtractOptions, Extraction, Method, ObjectPlan, SalesforceApi, Timestamp,
    Window,
};
use coffer_sfsim::org::{CsvOptions, LineEnding, LiveOrg};
use coffer_sfsim::server::{RunningSimulator, Simulator};
use coffer_sfsim::{GenerateConfig, Org};
use criterion::{Criterion, Throughput};
use secrecy::SecretString;

const OBJECTS: [&str; 5] = ["Account", "Contact", "Opportunity", "Case", "Task"];
/// Set (to the page size) in the environment of the child process that measures the client's
/// peak memory.
const CHILD_ENV: &str = "COFFER_BENCH_SF_EXTRACT_CHILD";
/// `maxRecords` per Bulk result page, as the engine's default.
const PAGE: u32 = 50_000;
/// Page size of the memory comparison: small enough that every object of the small org fills
/// whole pages too, so both orgs reach the same largest page.
const MEMORY_PAGE: u32 = 5_000;

/// (decode org, small extraction org, large extraction org) record counts.
fn sizes() -> (usize, usize, usize) {
    if coffer_benches::smoke() {
        (2_000, 2_000, 4_000)
    } else {
        (60_000, 60_000, 600_000)
    }
}

fn decode(c: &mut Criterion) {
    let org = LiveOrg::new(
        Org::generate(&GenerateConfig {
            seed: 3,
            records: sizes().0,
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
        group.bench_function(format!("{object}/records"), |b| {
            b.iter(|| {
                let prepared = prepare_page(black_box(&page), u64::MAX).unwrap();
                let mut decoder = CsvDecoder::new(&plan.fields);
                for record in decoder.decode_page(&prepared).unwrap() {
                    black_box(record);
                }
            })
        });
    }
    group.finish();
}

fn start_simulator(rt: &tokio::runtime::Runtime, seed: u64, records: usize) -> RunningSimulator {
    rt.block_on(async {
        Simulator::builder()
            .seed(seed)
            .records(records)
            .bulk_polls_to_complete(1)
            .start()
            .await
            .unwrap()
    })
}

fn client(
    instance_url: &str,
    client_id: &str,
    client_secret: &str,
    ca_pem: &str,
    gzip: bool,
) -> Client {
    Client::builder(
        instance_url,
        Credentials::ClientCredentials {
            client_id: client_id.to_owned(),
            client_secret: SecretString::from(client_secret.to_owned()),
        },
    )
    .native_roots(false)
    .extra_root_pem(ca_pem.as_bytes().to_vec())
    .bulk_gzip(gzip)
    .build()
    .unwrap()
}

fn client_for(sim: &RunningSimulator, gzip: bool) -> Client {
    client(
        sim.instance_url(),
        sim.client_id(),
        sim.client_secret(),
        sim.ca_cert_pem().unwrap(),
        gzip,
    )
}

async fn plans(client: &Client) -> Vec<ObjectPlan> {
    let mut plans = Vec::new();
    for o in OBJECTS {
        plans.push(ObjectPlan::from_describe(
            &client.describe(o).await.unwrap(),
        ));
    }
    plans
}

/// Extracts every object of `plans` by Bulk with pages of at most `page_records` records;
/// returns (records, CSV bytes).
async fn extract_all(client: &Client, plans: &[ObjectPlan], page_records: u32) -> (u64, u64) {
    let opts = ExtractOptions {
        bulk_page_records: page_records,
        poll: PollPolicy {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(10),
            timeout: Duration::from_secs(600),
        },
        ..ExtractOptions::default()
    };
    let (mut records, mut bytes) = (0u64, 0u64);
    for plan in plans {
        let mut ex = Extraction::new(
            client,
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
}

fn extract(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_, small, large) = sizes();
    let small_sim = start_simulator(&rt, 5, small);
    peak_memory(&small_sim, small, MEMORY_PAGE);
    rt.block_on(small_sim.shutdown());

    let sim = start_simulator(&rt, 5, large);
    peak_memory(&sim, large, MEMORY_PAGE);
    peak_memory(&sim, large, PAGE);
    let client = client_for(&sim, true);
    let plain_client = client_for(&sim, false);
    let plans = rt.block_on(plans(&client));
    let (records, bytes) = rt.block_on(extract_all(&client, &plans, PAGE));
    eprintln!(
        "salesforce_extract/bulk_full: {records} records, {bytes} CSV bytes, {:.0} bytes/record",
        bytes as f64 / records as f64
    );
    let mut group = c.benchmark_group("salesforce_extract");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("bulk_full", |b| {
        b.iter(|| rt.block_on(extract_all(&client, &plans, PAGE)))
    });
    group.bench_function("bulk_full_no_gzip", |b| {
        b.iter(|| rt.block_on(extract_all(&plain_client, &plans, PAGE)))
    });
    group.finish();
    rt.block_on(sim.shutdown());
}

/// Runs one full extraction from `sim` in a child process and prints its peak RSS.
fn peak_memory(sim: &RunningSimulator, org_records: usize, page_records: u32) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, page_records.to_string())
        .env("SIM_URL", sim.instance_url())
        .env("SIM_CLIENT_ID", sim.client_id())
        .env("SIM_CLIENT_SECRET", sim.client_secret())
        .env("SIM_CA_PEM", sim.ca_cert_pem().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "salesforce_extract/peak_memory: org of {org_records} records, pages of \
         {page_records}: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
}

/// The child: extract everything once (one thread), then report records, bytes and peak RSS.
fn child(page_records: u32) {
    let var = |name: &str| std::env::var(name).unwrap();
    let client = client(
        &var("SIM_URL"),
        &var("SIM_CLIENT_ID"),
        &var("SIM_CLIENT_SECRET"),
        &var("SIM_CA_PEM"),
        std::env::var("COFFER_BENCH_SF_EXTRACT_GZIP").map_or(true, |v| v != "0"),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (records, bytes) = rt.block_on(async {
        let plans = plans(&client).await;
        extract_all(&client, &plans, page_records).await
    });
    println!(
        "{records} records, {bytes} CSV bytes, client peak RSS {} KiB",
        coffer_benches::peak_rss_kib().unwrap_or(0)
    );
}

fn main() {
    if let Ok(page_records) = std::env::var(CHILD_ENV) {
        child(page_records.parse().unwrap());
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    decode(&mut c);
    extract(&mut c);
    c.final_summary();
}
