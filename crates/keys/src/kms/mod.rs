//! The [`Kms`] seam: a root key service that wraps and unwraps keys under an encryption context.

#[cfg(feature = "aws-kms")]
mod aws;
mod local;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use coffer_envelope::DataKey;

use crate::context::EncryptionContext;
use crate::error::Result;
use crate::wrap::WrappedKey;

#[cfg(feature = "aws-kms")]
pub use aws::{AwsKms, AwsKmsConfig};
pub use local::{DEFAULT_LOCAL_KEY_ID, LocalKms, MASTER_KEY_ENV, MASTER_KEY_FILE_ENV};

/// A fresh data key: the plaintext to use now, and its wrapped form to store.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The key itself (wiped on drop, never printed).
    pub plaintext: DataKey,
    /// The same key wrapped by the KMS root key; only that KMS can unwrap it.
    pub wrapped: WrappedKey,
}

/// A key management service holding root keys that never leave it (AWS KMS), or a local stand-in
/// ([`LocalKms`]).
///
/// Every operation names the root key (`key_id`: an AWS key id, ARN or alias; a [`LocalKms`]
/// key id) and an [`EncryptionContext`] that is bound to the wrapped key: unwrapping with a
/// different context fails. Implementations map their failures onto the crate's typed errors:
///
/// | failure | error |
/// |---|---|
/// | no such root key | [`Error::KmsKeyNotFound`](crate::Error::KmsKeyNotFound) |
/// | refused: permission, key disabled or pending deletion | [`Error::KmsDenied`](crate::Error::KmsDenied) |
/// | unreachable, timed out, throttled, internal failure | [`Error::KmsUnavailable`](crate::Error::KmsUnavailable) |
/// | wrong context, altered ciphertext, other key's ciphertext | [`Error::Unwrap`](crate::Error::Unwrap) (opaque) |
/// | an answer this crate cannot use | [`Error::KmsProtocol`](crate::Error::KmsProtocol) |
#[async_trait]
pub trait Kms: Send + Sync + fmt::Debug {
    /// A short name for the provider, for logs and events (`"local"`, `"aws"`).
    fn provider(&self) -> &'static str;

    /// The root key used for orgs that do not name their own.
    fn default_key_id(&self) -> &str;

    /// Generates a 256-bit data key and returns it both in plaintext and wrapped under
    /// `key_id`, bound to `context`.
    async fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<GeneratedKey>;

    /// Wraps an existing 256-bit key (for example one an org imports) under `key_id`.
    async fn wrap(
        &self,
        key_id: &str,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey>;

    /// Unwraps `wrapped`, which must have been wrapped under `key_id` with the same `context`.
    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey>;

    /// Re-wraps `wrapped` from one root key and context to another. The default unwraps here
    /// and wraps again; [`AwsKms`] uses `ReEncrypt`, so the key never leaves the KMS.
    async fn rewrap(
        &self,
        from_key_id: &str,
        wrapped: &WrappedKey,
        from_context: &EncryptionContext,
        to_key_id: &str,
        to_context: &EncryptionContext,
    ) -> Result<WrappedKey> {
        let key = self.unwrap(from_key_id, wrapped, from_context).await?;
        self.wrap(to_key_id, &key, to_context).await
    }
}

macro_rules! forward_kms {
    ($target:ty) => {
        #[async_trait]
        impl<T: Kms + ?Sized> Kms for $target {
            fn provider(&self) -> &'static str {
                (**self).provider()
            }
            fn default_key_id(&self) -> &str {
                (**self).default_key_id()
            }
            async fn generate_data_key(
                &self,
                key_id: &str,
                context: &EncryptionContext,
            ) -> Result<GeneratedKey> {
                (**self).generate_data_key(key_id, context).await
            }
            async fn wrap(
                &self,
                key_id: &str,
                key: &DataKey,
                context: &EncryptionContext,
            ) -> Result<WrappedKey> {
                (**self).wrap(key_id, key, context).await
            }
            async fn unwrap(
                &self,
                key_id: &str,
                wrapped: &WrappedKey,
                context: &EncryptionContext,
            ) -> Result<DataKey> {
                (**self).unwrap(key_id, wrapped, context).await
            }
            async fn rewrap(
                &self,
                from_key_id: &str,
                wrapped: &WrappedKey,
                from_context: &EncryptionContext,
                to_key_id: &str,
                to_context: &EncryptionContext,
            ) -> Result<WrappedKey> {
                (**self)
                    .rewrap(from_key_id, wrapped, from_context, to_key_id, to_context)
                    .await
            }
        }
    };
}

forward_kms!(Arc<T>);
forward_kms!(Box<T>);
forward_kms!(&T);
