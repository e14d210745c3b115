//! coffer-keys: unwrapping a wrapped data key, warm (cache hit) and cold (KEK from the KMS).
//!
//! - `keys/unwrap/warm` — `KeyManager::unwrap_data_key` answered by the cache, over 1,000
//!   distinct cached keys (target: at least 1,000,000 per second on one core).
//! - `keys/unwrap/warm-lookup` — the synchronous cache lookup alone (`cached_data_key`).
//! - `keys/unwrap/cold-kek/local` — key caches emptied before each unwrap: one `LocalKms` unwrap
//!   of the KEK, then the local AES-GCM unwrap of the data key; ring metadata stays cached.
//! - `keys/unwrap/cold-all/local` — every cache emptied: also re-reads and opens the ring
//!   document (listing, a KMS unwrap of its document key, envelope, JSON).
//! - `keys/unwrap/cold-kek/moto` — as `cold-kek/local` against AwsKms on moto, only when
//!   `COFFER_TEST_KMS_ENDPOINT` is set; a reference for "dominated by the KMS call" (moto is a
//!   Python HTTP server on loopback, not AWS's latency).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use coffer_keys::{
    AwsKms, EncryptionContext, KeyManager, Kms, LocalKms, OrgId, RingOptions, WrappedDek,
};
use coffer_store::Memory;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const OBJECTS: usize = 1_000;

struct Fixture {
    keys: KeyManager,
    org: OrgId,
    objects: Vec<(WrappedDek, EncryptionContext)>,
}

fn fixture(rt: &tokio::runtime::Runtime, kms: Arc<dyn Kms>) -> Fixture {
    let keys = KeyManager::new(Arc::new(Memory::new()), kms);
    let org = OrgId::new("00D5g000004BENCH1").unwrap();
    rt.block_on(async {
        keys.create_ring(&org, RingOptions::new()).await.unwrap();
        let mut objects = Vec::with_capacity(OBJECTS);
        for i in 0..OBJECTS {
            let context = EncryptionContext::object(&org, &format!("packs/{i:06}"), "pack");
            let new = keys.generate_data_key(&org, &context).await.unwrap();
            objects.push((new.wrapped, context));
        }
        Fixture { keys, org, objects }
    })
}

fn moto_kms(rt: &tokio::runtime::Runtime) -> Option<Arc<dyn Kms>> {
    let endpoint = std::env::var("COFFER_TEST_KMS_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    rt.block_on(async {
        // testkit reads the same variable, which is set here.
        let client = coffer_testkit::kms_client().await.unwrap();
        let key = client
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        eprintln!("keys bench: moto KMS at {endpoint}");
        Some(Arc::new(AwsKms::new(client, key)) as Arc<dyn Kms>)
    })
}

fn unwrap(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = fixture(&rt, Arc::new(LocalKms::generate().unwrap()));

    let mut group = c.benchmark_group("keys/unwrap");
    group.throughput(Throughput::Elements(1));

    group.bench_function("warm", |b| {
        let mut i = 0;
        b.iter(|| {
            let (wrapped, context) = &local.objects[i % OBJECTS];
            i += 1;
            // The hit path never awaits anything that pends: no runtime needed.
            black_box(
                futures::executor::block_on(
                    local.keys.unwrap_data_key(&local.org, wrapped, context),
                )
                .unwrap(),
            )
        })
    });

    group.bench_function("warm-lookup", |b| {
        let mut i = 0;
        b.iter(|| {
            let (wrapped, context) = &local.objects[i % OBJECTS];
            i += 1;
            black_box(
                local
                    .keys
                    .cached_data_key(&local.org, wrapped, context)
                    .unwrap(),
            )
        })
    });

    let cold =
        |group: &mut criterion::BenchmarkGroup<'_, _>, name: &str, f: &Fixture, all: bool| {
            group.bench_function(name, |b| {
                let mut i = 0;
                b.iter(|| {
                    if all {
                        f.keys.clear_cache();
                    } else {
                        f.keys.clear_key_cache();
                    }
                    let (wrapped, context) = &f.objects[i % OBJECTS];
                    i += 1;
                    black_box(
                        rt.block_on(f.keys.unwrap_data_key(&f.org, wrapped, context))
                            .unwrap(),
                    )
                })
            });
        };
    cold(&mut group, "cold-kek/local", &local, false);
    cold(&mut group, "cold-all/local", &local, true);

    if let Some(kms) = moto_kms(&rt) {
        let moto = fixture(&rt, kms);
        group.sample_size(20);
        cold(&mut group, "cold-kek/moto", &moto, false);
    }
    group.finish();
}

criterion_group!(benches, unwrap);
criterion_main!(benches);
