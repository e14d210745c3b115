//! The conformance suite, once per backend (and per mode of a backend).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coffer_store::conformance::Fixture;
use coffer_store::{Encryption, LocalFs, Memory, S3, S3Config};

/// Small pages, so that listing 2,500 keys crosses many of them.
const PAGE_SIZE: usize = 100;

mod memory {
    use super::*;

    async fn make() -> Fixture {
        Fixture::new(Memory::new().with_page_size(PAGE_SIZE))
    }

    coffer_store::conformance_suite!(make);
}

mod memory_versioned {
    use super::*;

    async fn make() -> Fixture {
        Fixture::new(Memory::versioned().with_page_size(PAGE_SIZE))
    }

    coffer_store::conformance_suite!(make);
}

/// A versioned store seen through `repos/acme`, with neighbours the suite must never see: one
/// outside the folder, and one in a sibling whose name extends the folder's.
mod prefixed_memory {
    use super::*;
    use bytes::Bytes;
    use coffer_store::{ObjectKey, ObjectStore, Prefixed, PutOptions};
    use std::sync::Arc;

    async fn make() -> Fixture {
        let inner = Arc::new(Memory::versioned().with_page_size(PAGE_SIZE));
        for neighbour in ["outside/x", "repos/acme2/x", "repos/acmex"] {
            inner
                .put(
                    &ObjectKey::new(neighbour).unwrap(),
                    Bytes::from_static(b"neighbour"),
                    &PutOptions::overwrite(),
                )
                .await
                .unwrap();
        }
        Fixture::new(Prefixed::new(inner, "repos/acme").unwrap())
    }

    coffer_store::conformance_suite!(make);
}

mod local_fs {
    use super::*;

    async fn make() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFs::new(dir.path()).unwrap().with_page_size(PAGE_SIZE);
        Fixture::new(store).with_guard(dir)
    }

    coffer_store::conformance_suite!(make);
}

/// A service from testkit, or a failure carrying testkit's message (which names
/// `scripts/test`); never a skip.
fn need<T>(service: Result<T, coffer_testkit::Error>) -> T {
    service.unwrap_or_else(|e| panic!("{e}"))
}

/// An S3 store on the moto server `scripts/test` starts. Without it the tests fail with
/// testkit's message naming `scripts/test`; they are never skipped.
async fn s3_store(object_lock: bool) -> S3 {
    let endpoint = need(coffer_testkit::endpoint(coffer_testkit::Service::S3));
    let admin = need(coffer_testkit::s3_client().await);
    let bucket = coffer_testkit::unique_name("conformance");
    admin
        .create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(object_lock)
        .send()
        .await
        .unwrap();
    let credentials = aws_credential_types::Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "coffer-store-tests",
    );
    let config = S3Config::new(bucket, coffer_testkit::TEST_REGION)
        .with_endpoint(endpoint)
        .with_path_style(true)
        .with_credentials(credentials)
        .with_encryption(Encryption::S3Managed)
        // 8 MiB threshold and 5 MiB parts: the 24 MiB object goes up in 5 parts.
        .with_multipart(8 * 1024 * 1024, coffer_store::MIN_PART_SIZE)
        .with_page_size(PAGE_SIZE as i32)
        .with_object_lock(object_lock);
    S3::connect(config).await
}

mod s3_object_lock {
    use super::*;

    async fn make() -> Fixture {
        Fixture::new(s3_store(true).await)
    }

    coffer_store::conformance_suite!(make);
}

mod s3_plain {
    use super::*;

    async fn make() -> Fixture {
        Fixture::new(s3_store(false).await)
    }

    coffer_store::conformance_suite!(make);
}
