//! Shared test fixtures: the KMS matrix (LocalKms and AwsKms against moto) and KMS wrappers
//! that count, fail or synchronise calls.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use coffer_keys::{
    DataKey, EncryptionContext, Error, GeneratedKey, Kms, LocalKms, Result, WrappedKey,
};

/// Which KMS a suite runs against.
#[derive(Debug, Clone, Copy)]
pub enum Provider {
    /// `LocalKms` with a random master key.
    Local,
    /// `AwsKms` against moto (`COFFER_TEST_KMS_ENDPOINT`, set by scripts/test).
    Moto,
}

/// A KMS with two root keys: the default, and another one (an org's own key).
pub struct Setup {
    pub kms: Arc<dyn Kms>,
    pub second_key: String,
}

impl Provider {
    pub async fn setup(self) -> Setup {
        match self {
            Provider::Local => {
                let second = coffer_keys::DataKey::generate().unwrap();
                let kms = LocalKms::generate()
                    .unwrap()
                    .add_key("org-cmk", second)
                    .unwrap();
                Setup {
                    kms: Arc::new(kms),
                    second_key: "org-cmk".into(),
                }
            }
            Provider::Moto => {
                let client = moto_client().await;
                let first = create_moto_key(&client).await;
                let second = create_moto_key(&client).await;
                Setup {
                    kms: Arc::new(coffer_keys::AwsKms::new(client, first)),
                    second_key: second,
                }
            }
        }
    }
}

/// A KMS client for moto; a missing endpoint fails the test with testkit's message.
pub async fn moto_client() -> aws_sdk_kms::Client {
    match coffer_testkit::kms_client().await {
        Ok(client) => client,
        Err(err) => panic!("{err}"),
    }
}

/// A fresh symmetric key in moto; its id.
pub async fn create_moto_key(client: &aws_sdk_kms::Client) -> String {
    let output = client
        .create_key()
        .description("coffer-keys test")
        .send()
        .await
        .unwrap();
    output.key_metadata.unwrap().key_id
}

/// Instantiates each listed `async fn name(provider: Provider)` once per KMS.
#[macro_export]
macro_rules! kms_matrix {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Provider::Local).await
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Provider::Moto).await
                }
            )*
        }
    };
}

/// What a [`ControlledKms`] does with calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Unavailable,
    Denied,
}

/// Wraps a KMS: counts calls, and can be switched to fail them.
#[derive(Debug)]
pub struct ControlledKms {
    inner: Arc<dyn Kms>,
    calls: AtomicU64,
    unavailable: AtomicBool,
    denied: AtomicBool,
}

impl ControlledKms {
    pub fn new(inner: Arc<dyn Kms>) -> Arc<Self> {
        Arc::new(ControlledKms {
            inner,
            calls: AtomicU64::new(0),
            unavailable: AtomicBool::new(false),
            denied: AtomicBool::new(false),
        })
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn set(&self, mode: Mode) {
        self.unavailable
            .store(mode == Mode::Unavailable, Ordering::SeqCst);
        self.denied.store(mode == Mode::Denied, Ordering::SeqCst);
    }

    fn enter(&self) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(Error::KmsUnavailable {
                detail: "test: connection refused".into(),
            });
        }
        if self.denied.load(Ordering::SeqCst) {
            return Err(Error::KmsDenied {
                detail: "test: AccessDeniedException".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Kms for ControlledKms {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }
    fn default_key_id(&self) -> &str {
        self.inner.default_key_id()
    }
    async fn generate_data_key(
        &self,
        key_id: &str,
        ctx: &EncryptionContext,
    ) -> Result<GeneratedKey> {
        self.enter()?;
        self.inner.generate_data_key(key_id, ctx).await
    }
    async fn wrap(
        &self,
        key_id: &str,
        key: &DataKey,
        ctx: &EncryptionContext,
    ) -> Result<WrappedKey> {
        self.enter()?;
        self.inner.wrap(key_id, key, ctx).await
    }
    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &WrappedKey,
        ctx: &EncryptionContext,
    ) -> Result<DataKey> {
        self.enter()?;
        self.inner.unwrap(key_id, wrapped, ctx).await
    }
    async fn rewrap(
        &self,
        from: &str,
        wrapped: &WrappedKey,
        from_ctx: &EncryptionContext,
        to: &str,
        to_ctx: &EncryptionContext,
    ) -> Result<WrappedKey> {
        self.enter()?;
        self.inner.rewrap(from, wrapped, from_ctx, to, to_ctx).await
    }
}

/// Wraps a KMS so that the first `parties` KEK generations wait for each other: every
/// rotation has then loaded the same ring generation before any of them commits.
#[derive(Debug)]
pub struct BarrierKms {
    inner: Arc<dyn Kms>,
    barrier: tokio::sync::Barrier,
    armed: AtomicU64,
}

impl BarrierKms {
    pub fn new(inner: Arc<dyn Kms>, parties: usize) -> Arc<Self> {
        Arc::new(BarrierKms {
            inner,
            barrier: tokio::sync::Barrier::new(parties),
            armed: AtomicU64::new(parties as u64),
        })
    }
}

#[async_trait]
impl Kms for BarrierKms {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }
    fn default_key_id(&self) -> &str {
        self.inner.default_key_id()
    }
    async fn generate_data_key(
        &self,
        key_id: &str,
        ctx: &EncryptionContext,
    ) -> Result<GeneratedKey> {
        let is_kek = ctx.get("coffer:purpose") == Some("org-kek");
        if is_kek
            && self
                .armed
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            self.barrier.wait().await;
        }
        self.inner.generate_data_key(key_id, ctx).await
    }
    async fn wrap(
        &self,
        key_id: &str,
        key: &DataKey,
        ctx: &EncryptionContext,
    ) -> Result<WrappedKey> {
        self.inner.wrap(key_id, key, ctx).await
    }
    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &WrappedKey,
        ctx: &EncryptionContext,
    ) -> Result<DataKey> {
        self.inner.unwrap(key_id, wrapped, ctx).await
    }
}
