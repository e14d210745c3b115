//! Envelope throughput against raw AES-256-GCM (issue 4's claim: at least 85% of raw, both
//! ways). Each iteration seals or opens 64 MiB in 64 KiB segments:
//!
//! - `raw_aes_gcm`: `Aes256Gcm::encrypt_in_place_detached` / `decrypt_in_place_detached` over the
//!   1024 64 KiB chunks of a 64 MiB buffer, in place, with counter nonces: the floor for any
//!   AES-GCM format. Opening needs fresh ciphertext each iteration, so each batch starts from a
//!   copy made in untimed setup.
//! - `stream`: the `Sealer` writing to `io::sink()`, and the `Opener` read through `BufRead`
//!   (whole authenticated segments, no copy out) from the sealed envelope in memory.
//! - `buffer`: whole-buffer `seal` and `open`, which allocate the output.
//! - `stream_chacha20poly1305`: the streaming pair with the other suite, for reference.
//! - `fresh_vec_copy`: copying 64 MiB into a newly allocated `Vec`, no crypto: the floor under
//!   the `buffer` variants, which must fault in a fresh 64 MiB output on every call.
//!
//! In criterion's test mode (`cargo bench -- --test`) the object is 1 MiB: that run only proves
//! the bench still works.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::io::{self, BufRead, Write};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use coffer_envelope::{Config, DataKey, Opener, Suite, open};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const SEGMENT: usize = 64 << 10;
const CONTEXT: &[u8] = b"org=00D000000000001;path=packs/Account/0001;purpose=pack";

/// The object every bench seals or opens: 64 MiB, or 1 MiB in test mode.
fn plaintext() -> Vec<u8> {
    let size = if coffer_benches::smoke() {
        1 << 20
    } else {
        64 << 20
    };
    (0..size).map(|i| (i % 251) as u8).collect()
}

fn raw_nonce(index: usize) -> [u8; 12] {
    let mut nonce = [0_u8; 12];
    nonce[4..].copy_from_slice(&(index as u64).to_be_bytes());
    nonce
}

fn raw_seal_all(cipher: &Aes256Gcm, buffer: &mut [u8], tags: &mut Vec<[u8; 16]>) {
    tags.clear();
    for (index, chunk) in buffer.chunks_mut(SEGMENT).enumerate() {
        let nonce = raw_nonce(index);
        let tag = cipher
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &[], chunk)
            .unwrap();
        tags.push(tag.into());
    }
}

fn seal_stream(config: &Config, key: &DataKey, plaintext: &[u8]) -> io::Sink {
    let mut sealer = config.sealer(key, b"dek-1", CONTEXT, io::sink()).unwrap();
    sealer.write_all(plaintext).unwrap();
    sealer.finish().unwrap()
}

fn open_stream(key: &DataKey, envelope: &[u8]) -> usize {
    let mut opener = Opener::new(key, CONTEXT, envelope).unwrap();
    let mut total = 0;
    loop {
        let segment = opener.fill_buf().unwrap();
        if segment.is_empty() {
            return total;
        }
        let n = segment.len();
        total += black_box(segment).len();
        opener.consume(n);
    }
}

fn seal(c: &mut Criterion) {
    let plaintext = plaintext();
    let key = DataKey::from_slice(&[7; 32]).unwrap();
    let raw = Aes256Gcm::new(GenericArray::from_slice(&[7; 32]));
    let aes = Config::new();
    let chacha = Config::new().with_suite(Suite::ChaCha20Poly1305);

    let mut group = c.benchmark_group("envelope_seal_64MiB");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.sample_size(20);

    let mut buffer = plaintext.clone();
    let mut tags = Vec::with_capacity(plaintext.len() / SEGMENT);
    group.bench_function("raw_aes_gcm", |b| {
        b.iter(|| raw_seal_all(&raw, black_box(&mut buffer), &mut tags));
    });
    group.bench_function("stream", |b| {
        b.iter(|| seal_stream(&aes, &key, black_box(&plaintext)));
    });
    group.bench_function("buffer", |b| {
        b.iter(|| {
            aes.seal(&key, b"dek-1", CONTEXT, black_box(&plaintext))
                .unwrap()
        });
    });
    group.bench_function("stream_chacha20poly1305", |b| {
        b.iter(|| seal_stream(&chacha, &key, black_box(&plaintext)));
    });
    group.bench_function("fresh_vec_copy", |b| {
        b.iter(|| black_box(&plaintext).to_vec());
    });
    group.finish();
}

fn open_benches(c: &mut Criterion) {
    let plaintext = plaintext();
    let key = DataKey::from_slice(&[7; 32]).unwrap();
    let raw = Aes256Gcm::new(GenericArray::from_slice(&[7; 32]));
    let aes_envelope = Config::new()
        .seal(&key, b"dek-1", CONTEXT, &plaintext)
        .unwrap();
    let chacha_envelope = Config::new()
        .with_suite(Suite::ChaCha20Poly1305)
        .seal(&key, b"dek-1", CONTEXT, &plaintext)
        .unwrap();
    let mut raw_ciphertext = plaintext.clone();
    let mut raw_tags = Vec::with_capacity(plaintext.len() / SEGMENT);
    raw_seal_all(&raw, &mut raw_ciphertext, &mut raw_tags);

    let mut group = c.benchmark_group("envelope_open_64MiB");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.sample_size(20);

    group.bench_function("raw_aes_gcm", |b| {
        b.iter_batched_ref(
            || raw_ciphertext.clone(),
            |buffer| {
                for (index, chunk) in buffer.chunks_mut(SEGMENT).enumerate() {
                    let nonce = raw_nonce(index);
                    raw.decrypt_in_place_detached(
                        GenericArray::from_slice(&nonce),
                        &[],
                        chunk,
                        GenericArray::from_slice(&raw_tags[index]),
                    )
                    .unwrap();
                }
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("stream", |b| {
        b.iter(|| assert_eq!(open_stream(&key, black_box(&aes_envelope)), plaintext.len()));
    });
    group.bench_function("buffer", |b| {
        b.iter(|| open(&key, CONTEXT, black_box(&aes_envelope)).unwrap());
    });
    group.bench_function("stream_chacha20poly1305", |b| {
        b.iter(|| {
            assert_eq!(
                open_stream(&key, black_box(&chacha_envelope)),
                plaintext.len()
            )
        });
    });
    group.finish();
}

criterion_group!(benches, seal, open_benches);
criterion_main!(benches);
