//! `coffer-store`: put and get of 8 MiB objects.
//!
//! - `store/local_fs`: `LocalFs` in a scratch directory on the target directory's disk (or
//!   `COFFER_BENCH_DIR`); `put` is a full durable write (temporary file, fsync, rename, fsync
//!   of the directory), `get` reads back through the page cache. Compare with
//!   `benches/store_vs_dd.sh`, which times `dd conv=fsync` on the same disk.
//! - `store/s3_moto`: the S3 backend against moto, for reference only (moto is an in-memory
//!   Python mock, not S3); run only when `COFFER_TEST_S3_ENDPOINT` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use coffer_store::{LocalFs, ObjectKey, ObjectStore, PutOptions, S3, S3Config};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const OBJECT: usize = 8 * 1024 * 1024;

fn payload() -> Bytes {
    // Incompressible-looking bytes (xorshift), in case the file system compresses.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = Vec::with_capacity(OBJECT);
    while out.len() < OBJECT {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    Bytes::from(out)
}

fn scratch_root() -> PathBuf {
    match std::env::var_os("COFFER_BENCH_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
    }
}

fn bench_store(
    c: &mut Criterion,
    group_name: &str,
    store: &dyn ObjectStore,
    rt: &tokio::runtime::Runtime,
) {
    let data = payload();
    let key = ObjectKey::new("bench/object").unwrap();
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Bytes(OBJECT as u64));
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("put_8MiB", |b| {
        b.iter(|| {
            rt.block_on(store.put(&key, data.clone(), &PutOptions::overwrite()))
                .unwrap()
        });
    });
    group.bench_function("get_8MiB", |b| {
        b.iter(|| {
            let got = rt.block_on(store.get(&key)).unwrap();
            assert_eq!(got.len(), OBJECT);
        });
    });
    group.finish();
}

fn local_fs(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = scratch_root();
    std::fs::create_dir_all(&root).unwrap();
    let dir = tempfile::tempdir_in(root).unwrap();
    let store = LocalFs::new(dir.path()).unwrap();
    bench_store(c, "store/local_fs", &store, &rt);
}

fn s3_moto(c: &mut Criterion) {
    let Ok(endpoint) = coffer_testkit::endpoint(coffer_testkit::Service::S3) else {
        eprintln!("store/s3_moto: skipped (COFFER_TEST_S3_ENDPOINT not set); reference only");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(async {
        let admin = coffer_testkit::s3_client().await.unwrap();
        let bucket = coffer_testkit::unique_name("bench");
        admin.create_bucket().bucket(&bucket).send().await.unwrap();
        let credentials =
            aws_credential_types::Credentials::new("testing", "testing", None, None, "bench");
        let config = S3Config::new(bucket, coffer_testkit::TEST_REGION)
            .with_endpoint(endpoint)
            .with_path_style(true)
            .with_credentials(credentials);
        S3::connect(config).await
    });
    bench_store(c, "store/s3_moto", &store, &rt);
}

criterion_group!(benches, local_fs, s3_moto);
criterion_main!(benches);
