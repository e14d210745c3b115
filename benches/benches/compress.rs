#![allow(clippy::unwrap_used, clippy::expect_used)]
//! coffer-compress on Salesforce records (issue 6).
//!
//! Corpus: Account, Contact and Opportunity records from `coffer-sfsim`'s seeded generator, as
//! REST JSON lines packed into blocks of at most 64 KiB per object type. Dictionaries (one per
//! type) are trained on records of a *different* generated org, as a backup would train on an
//! earlier run. Measured:
//!
//! - `compress_records/{dict,plain}_l3/<Type>`: one core, level 3, with and without dictionary;
//! - `decompress_records/{dict,plain}/<Type>`;
//! - `sniff_random/64KiB` and `/1MiB`: random bytes through `compress_into` (stored as-is).
//!
//! Throughput is over uncompressed bytes. Criterion does not report ratios, so they are printed
//! to stderr once, before the measurements. Run: `cargo bench -p coffer-benches --bench compress`.
//!
//! With `COFFER_BENCH_CPU_TIME=1` the same benchmarks are timed by the benchmark thread's CPU
//! time (Linux `/proc/thread-self/schedstat`) instead of wall time, under group names ending in
//! `_cpu`: "one core" figures that stay meaningful while other builds share the machine.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use coffer_compress::{Compressor, Decompressor, Dictionary, DictionarySet, Level, Limits, dict};
use coffer_sfsim::{GenerateConfig, Org};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};

/// Records in the measured org: about 29 MB of Account/Contact/Opportunity JSON.
const MEASURED_RECORDS: usize = 36_000;
/// Records in the training org (a different seed): about 10 MB of samples.
const TRAINING_RECORDS: usize = 12_000;
const BLOCK_SIZE: usize = 64 * 1024;
const TYPES: [&str; 3] = ["Account", "Contact", "Opportunity"];

struct TypeCorpus {
    name: &'static str,
    blocks: Vec<Vec<u8>>,
    bytes: u64,
    dictionary: Arc<Dictionary>,
}

fn json_lines(org: &Org, object: &str) -> Vec<String> {
    org.object(object)
        .unwrap()
        .records
        .iter()
        .map(|r| r.to_json())
        .collect()
}

/// Packs JSON lines into blocks of at most `BLOCK_SIZE` bytes (a record never spans blocks).
fn pack(lines: &[String]) -> Vec<Vec<u8>> {
    let mut blocks = Vec::new();
    let mut current = Vec::with_capacity(BLOCK_SIZE);
    for line in lines {
        if !current.is_empty() && current.len() + line.len() + 1 > BLOCK_SIZE {
            blocks.push(std::mem::replace(
                &mut current,
                Vec::with_capacity(BLOCK_SIZE),
            ));
        }
        current.extend_from_slice(line.as_bytes());
        current.push(b'\n');
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn corpus() -> Vec<TypeCorpus> {
    let measured = Org::generate(&GenerateConfig {
        seed: 2026,
        records: MEASURED_RECORDS,
    })
    .unwrap();
    let training = Org::generate(&GenerateConfig {
        seed: 7,
        records: TRAINING_RECORDS,
    })
    .unwrap();
    TYPES
        .iter()
        .map(|&name| {
            let samples = json_lines(&training, name);
            let dictionary =
                Arc::new(dict::from_samples(&samples, dict::DEFAULT_DICTIONARY_SIZE).unwrap());
            let blocks = pack(&json_lines(&measured, name));
            let bytes = blocks.iter().map(|b| b.len() as u64).sum();
            TypeCorpus {
                name,
                blocks,
                bytes,
                dictionary,
            }
        })
        .collect()
}

fn compressed_size(compressor: &mut Compressor, blocks: &[Vec<u8>]) -> u64 {
    let mut out = Vec::new();
    blocks
        .iter()
        .map(|block| {
            out.clear();
            compressor.compress_into(block, &mut out).unwrap();
            out.len() as u64
        })
        .sum()
}

/// Prints compression ratios (criterion reports only time).
fn report_ratios(corpus: &[TypeCorpus]) {
    let (mut total, mut total_dict, mut total_plain) = (0u64, 0u64, 0u64);
    eprintln!("\ncoffer-compress ratios, level 3, blocks of at most 64 KiB:");
    for c in corpus {
        let mut with_dict =
            Compressor::with_dictionary(Level::DEFAULT, c.dictionary.clone()).unwrap();
        let mut plain = Compressor::new(Level::DEFAULT).unwrap();
        let d = compressed_size(&mut with_dict, &c.blocks);
        let p = compressed_size(&mut plain, &c.blocks);
        eprintln!(
            "  {:<12} {:>9} bytes in {:>4} blocks: dictionary {:>5.2}:1, no dictionary {:>5.2}:1 \
             (dictionary {} bytes)",
            c.name,
            c.bytes,
            c.blocks.len(),
            c.bytes as f64 / d as f64,
            c.bytes as f64 / p as f64,
            c.dictionary.zstd_bytes().len()
        );
        total += c.bytes;
        total_dict += d;
        total_plain += p;
    }
    eprintln!(
        "  {:<12} {:>9} bytes: dictionary {:>5.2}:1, no dictionary {:>5.2}:1\n",
        "all three",
        total,
        total as f64 / total_dict as f64,
        total as f64 / total_plain as f64
    );
}

/// Criterion measurement by the current thread's CPU time, in nanoseconds.
struct ThreadCpuTime {
    /// Values are nanoseconds, as wall time's are: its formatter prints them.
    wall: WallTime,
}

/// CPU time of this thread so far. The kernel updates it at scheduler ticks and switches, so
/// samples must last many milliseconds (every group here does).
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("Linux schedstat");
    stat.split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
        .expect("schedstat format")
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

fn bench_records<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    let corpus = corpus();
    report_ratios(&corpus);

    let mut group = c.benchmark_group(format!("compress_records{suffix}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6));
    for t in &corpus {
        group.throughput(Throughput::Bytes(t.bytes));
        let mut with_dict =
            Compressor::with_dictionary(Level::DEFAULT, t.dictionary.clone()).unwrap();
        let mut out = Vec::with_capacity(2 * BLOCK_SIZE);
        group.bench_function(format!("dict_l3/{}", t.name), |b| {
            b.iter(|| {
                for block in &t.blocks {
                    out.clear();
                    with_dict.compress_into(black_box(block), &mut out).unwrap();
                }
            });
        });
        let mut plain = Compressor::new(Level::DEFAULT).unwrap();
        group.bench_function(format!("plain_l3/{}", t.name), |b| {
            b.iter(|| {
                for block in &t.blocks {
                    out.clear();
                    plain.compress_into(black_box(block), &mut out).unwrap();
                }
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group(format!("decompress_records{suffix}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    let limits = Limits::new(1 << 20).with_max_ratio(1000);
    for t in &corpus {
        group.throughput(Throughput::Bytes(t.bytes));
        let dictionaries: DictionarySet = [t.dictionary.clone()].into_iter().collect();
        let mut with_dict =
            Compressor::with_dictionary(Level::DEFAULT, t.dictionary.clone()).unwrap();
        let mut plain = Compressor::new(Level::DEFAULT).unwrap();
        let dict_blocks: Vec<Vec<u8>> = t
            .blocks
            .iter()
            .map(|b| with_dict.compress(b).unwrap())
            .collect();
        let plain_blocks: Vec<Vec<u8>> = t
            .blocks
            .iter()
            .map(|b| plain.compress(b).unwrap())
            .collect();
        let mut decompressor = Decompressor::new(limits).unwrap();
        let mut out = Vec::with_capacity(BLOCK_SIZE);
        for (label, blocks) in [("dict", &dict_blocks), ("plain", &plain_blocks)] {
            group.bench_function(format!("{label}/{}", t.name), |b| {
                b.iter(|| {
                    for block in blocks {
                        decompressor
                            .decompress_into(black_box(block), &dictionaries, &mut out)
                            .unwrap();
                    }
                });
            });
        }
    }
    group.finish();
}

fn bench_sniff_random<M: Measurement>(c: &mut Criterion<M>, suffix: &str) {
    // One iteration stores the same block 64 times, so each sample lasts long enough for the
    // CPU-time clock (scheduler-tick resolution) as well as for wall time.
    const REPEAT: u64 = 64;
    let mut group = c.benchmark_group(format!("sniff_random{suffix}"));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let mut compressor = Compressor::new(Level::DEFAULT).unwrap();
    for (label, size) in [("64KiB", 64 * 1024), ("1MiB", 1 << 20)] {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let data: Vec<u8> = (0..size)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        let mut out = Vec::with_capacity(size + 1);
        assert_eq!(
            compressor.compress_into(&data, &mut out).unwrap(),
            coffer_compress::Method::Stored
        );
        group.throughput(Throughput::Bytes(REPEAT * size as u64));
        group.bench_function(label, |b| {
            b.iter(|| {
                for _ in 0..REPEAT {
                    out.clear();
                    compressor
                        .compress_into(black_box(&data), &mut out)
                        .unwrap();
                }
            });
        });
    }
    group.finish();
}

fn run<M: Measurement>(mut c: Criterion<M>, suffix: &str) {
    bench_records(&mut c, suffix);
    bench_sniff_random(&mut c, suffix);
    c.final_summary();
}

fn main() {
    if std::env::var_os("COFFER_BENCH_CPU_TIME").is_some() {
        run(
            Criterion::default()
                .with_measurement(ThreadCpuTime { wall: WallTime })
                .configure_from_args(),
            "_cpu",
        );
    } else {
        run(Criterion::default().configure_from_args(), "");
    }
}
