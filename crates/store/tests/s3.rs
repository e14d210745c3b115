//! What only the S3 backend has to prove, against moto: encryption headers, stored checksums,
//! multipart uploads and their clean-up, and the create-only check at multipart completion.
//! Without `COFFER_TEST_S3_ENDPOINT` these tests fail with testkit's message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_s3::types::{ChecksumMode, ServerSideEncryption};
use base64::Engine as _;
use bytes::Bytes;
use coffer_store::conformance::PatternSource;
use coffer_store::{
    Encryption, Error, ObjectKey, ObjectStore, PutOptions, S3, S3Config, SseCustomerKey,
};
use futures::StreamExt;
use sha2::{Digest, Sha256};

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(name).unwrap()
}

/// A service from testkit, or a failure carrying testkit's message (which names
/// `scripts/test`); never a skip.
fn need<T>(service: Result<T, coffer_testkit::Error>) -> T {
    service.unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh bucket and a store on it with `encryption`.
async fn store_with(encryption: Encryption) -> (S3, aws_sdk_s3::Client) {
    let endpoint = need(coffer_testkit::endpoint(coffer_testkit::Service::S3));
    let admin = need(coffer_testkit::s3_client().await);
    let bucket = coffer_testkit::unique_name("s3-backend");
    admin.create_bucket().bucket(&bucket).send().await.unwrap();
    let credentials =
        aws_credential_types::Credentials::new("testing", "testing", None, None, "coffer-store");
    let config = S3Config::new(&bucket, coffer_testkit::TEST_REGION)
        .with_endpoint(endpoint)
        .with_path_style(true)
        .with_credentials(credentials)
        .with_encryption(encryption)
        .with_multipart(8 << 20, 5 << 20);
    (S3::connect(config).await, admin)
}

#[tokio::test]
async fn uploads_carry_a_sha256_that_s3_stores() {
    let (store, admin) = store_with(Encryption::S3Managed).await;
    let data = Bytes::from_static(b"checksummed content");
    store
        .put(&key("c/one"), data.clone(), &PutOptions::overwrite())
        .await
        .unwrap();
    let head = admin
        .head_object()
        .bucket(&store.config().bucket)
        .key("c/one")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&data));
    assert_eq!(head.checksum_sha256(), Some(expected.as_str()));
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
}

#[tokio::test]
async fn sse_kms_names_the_key() {
    let kms = need(coffer_testkit::kms_client().await);
    let key_id = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let (store, admin) = store_with(Encryption::Kms {
        key_id: Some(key_id.clone()),
    })
    .await;
    store
        .put(
            &key("k/one"),
            Bytes::from_static(b"kms"),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    let head = admin
        .head_object()
        .bucket(&store.config().bucket)
        .key("k/one")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert!(
        head.ssekms_key_id().unwrap_or_default().contains(&key_id),
        "{head:?}"
    );
    assert_eq!(
        store.get(&key("k/one")).await.unwrap(),
        Bytes::from_static(b"kms")
    );
}

/// moto accepts the SSE-C headers but does not encrypt with, or demand, the key; this proves
/// the requests (including multipart parts and reads) are well-formed, not that S3 enforces
/// the key. See the README.
#[tokio::test]
async fn sse_c_requests_round_trip() {
    let (store, _) = store_with(Encryption::CustomerKey(SseCustomerKey::new(&[9u8; 32]))).await;
    store
        .put(
            &key("c/small"),
            Bytes::from_static(b"sse-c"),
            &PutOptions::overwrite(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get(&key("c/small")).await.unwrap(),
        Bytes::from_static(b"sse-c")
    );
    let big = PatternSource::stream(11, 11 << 20, 1 << 20);
    store
        .put_stream(&key("c/big"), big, &PutOptions::overwrite())
        .await
        .unwrap();
    assert_eq!(store.head(&key("c/big")).await.unwrap().size, 11 << 20);
}

#[tokio::test]
async fn large_streams_become_multipart_uploads() {
    let (store, admin) = store_with(Encryption::S3Managed).await;
    let stream = PatternSource::stream(5, 18 << 20, 3 << 20);
    store
        .put_stream(&key("m/big"), stream, &PutOptions::overwrite())
        .await
        .unwrap();
    let head = admin
        .head_object()
        .bucket(&store.config().bucket)
        .key("m/big")
        .part_number(1)
        .send()
        .await
        .unwrap();
    // 18 MiB in 5 MiB parts.
    assert_eq!(head.parts_count(), Some(4), "{head:?}");

    // Below the threshold: one request.
    let small = PatternSource::stream(5, 7 << 20, 1 << 20);
    store
        .put_stream(&key("m/small"), small, &PutOptions::overwrite())
        .await
        .unwrap();
    let etag = store.head(&key("m/small")).await.unwrap().etag.unwrap();
    assert!(!etag.contains('-'), "single-part ETag expected, got {etag}");
}

#[tokio::test]
async fn a_failed_multipart_upload_is_aborted() {
    let (store, admin) = store_with(Encryption::S3Managed).await;
    let failing = PatternSource::stream(1, 13 << 20, 1 << 20)
        .chain(futures::stream::once(async {
            Err(Error::Unavailable {
                detail: "gone".into(),
            })
        }))
        .boxed();
    assert!(
        store
            .put_stream(&key("m/fail"), failing, &PutOptions::overwrite())
            .await
            .is_err()
    );
    let uploads = admin
        .list_multipart_uploads()
        .bucket(&store.config().bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
}

/// The key appears while our multipart upload is in flight: the `If-None-Match` on completion
/// refuses ours, the other writer's object stands, and no upload is left behind.
#[tokio::test]
async fn create_only_is_checked_when_a_multipart_upload_completes() {
    let (store, admin) = store_with(Encryption::S3Managed).await;
    let bucket = store.config().bucket.clone();
    let racer = admin.clone();
    let first = PatternSource::stream(2, 9 << 20, 1 << 20);
    let interloper = futures::stream::once(async move {
        racer
            .put_object()
            .bucket(bucket)
            .key("race/pack")
            .body(Bytes::from_static(b"the other writer").into())
            .send()
            .await
            .unwrap();
        Ok(Bytes::from(vec![1u8; 1 << 20]))
    });
    let stream = first.chain(interloper).boxed();
    match store
        .put_stream(&key("race/pack"), stream, &PutOptions::create_only())
        .await
    {
        Err(Error::AlreadyExists { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.get(&key("race/pack")).await.unwrap(),
        Bytes::from_static(b"the other writer")
    );
    let uploads = admin
        .list_multipart_uploads()
        .bucket(&store.config().bucket)
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty());
}

#[tokio::test]
async fn a_missing_bucket_is_a_configuration_error() {
    let (store, _) = store_with(Encryption::S3Managed).await;
    let mut config = store.config().clone();
    config.bucket = coffer_testkit::unique_name("absent");
    let absent = S3::from_client(store.client().clone(), config);
    match absent
        .put(
            &key("x"),
            Bytes::from_static(b"x"),
            &PutOptions::overwrite(),
        )
        .await
    {
        Err(Error::Backend { detail, .. }) => assert!(detail.contains("bucket"), "{detail}"),
        other => panic!("{other:?}"),
    }
}
