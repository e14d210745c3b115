//! [`AwsKms`]: root keys in AWS KMS (or anything that speaks its API, such as moto).

use std::collections::HashMap;
use std::error::Error as StdError;

use async_trait::async_trait;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use coffer_envelope::DataKey;
use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::{GeneratedKey, Kms};
use crate::context::EncryptionContext;
use crate::error::{Error, Result};
use crate::wrap::{self, KEY_LEN, WrappedKey};

/// Where [`AwsKms::connect`] finds AWS KMS.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AwsKmsConfig {
    /// The root key for orgs that do not name their own: key id, key ARN, alias name
    /// (`alias/coffer`) or alias ARN.
    pub default_key_id: String,
    /// The region; `None` takes it from the environment (`AWS_REGION`, profile).
    pub region: Option<String>,
    /// An endpoint other than AWS's (a VPC endpoint, or moto in tests); `None` for AWS's.
    pub endpoint: Option<String>,
}

impl AwsKmsConfig {
    /// A configuration with `default_key_id`, region and endpoint from the environment.
    pub fn new(default_key_id: impl Into<String>) -> Self {
        AwsKmsConfig {
            default_key_id: default_key_id.into(),
            region: None,
            endpoint: None,
        }
    }

    /// Sets the region.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets a custom endpoint.
    #[must_use]
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
}

/// A [`Kms`] backed by AWS KMS: `GenerateDataKey`, `Encrypt`, `Decrypt` and `ReEncrypt` with the
/// encryption context, so root keys never leave KMS and every use is logged by CloudTrail with
/// its context.
///
/// An org may name its own customer-managed key as its ring's root
/// ([`RingOptions::with_root_key`](crate::RingOptions::with_root_key)); the principal this
/// client runs as then needs `kms:GenerateDataKey`, `kms:Encrypt`, `kms:Decrypt` (and
/// `kms:ReEncrypt*` to move a ring between keys) on it, and the org can revoke that access to
/// make its data unreadable.
///
/// Decryption always names the expected key, so a ciphertext made under some other key (one an
/// attacker controls, say) is refused rather than trusted.
#[derive(Debug, Clone)]
pub struct AwsKms {
    client: aws_sdk_kms::Client,
    default_key_id: String,
}

impl AwsKms {
    /// Uses an existing client (its credentials, region, endpoint, retry and timeout settings).
    pub fn new(client: aws_sdk_kms::Client, default_key_id: impl Into<String>) -> Self {
        AwsKms {
            client,
            default_key_id: default_key_id.into(),
        }
    }

    /// Builds a client from the default credential chain with `config`'s region and endpoint.
    pub async fn connect(config: AwsKmsConfig) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = config.region {
            loader = loader.region(aws_config::Region::new(region));
        }
        if let Some(endpoint) = config.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk_config = loader.load().await;
        Self::new(aws_sdk_kms::Client::new(&sdk_config), config.default_key_id)
    }

    /// The underlying client.
    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }
}

/// The encryption context as the SDK wants it; AWS rejects an empty map, so none is sent then.
fn sdk_context(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    (!context.is_empty()).then(|| {
        context
            .as_map()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
}

/// Copies a plaintext key out of an SDK blob and wipes the blob's buffer.
fn take_plaintext(blob: Option<Blob>) -> Result<DataKey> {
    let bytes = Zeroizing::new(
        blob.ok_or_else(|| Error::KmsProtocol {
            detail: "no plaintext in the response".into(),
        })?
        .into_inner(),
    );
    if bytes.len() != KEY_LEN {
        return Err(Error::KmsProtocol {
            detail: format!(
                "the plaintext key is {} bytes, expected {KEY_LEN}",
                bytes.len()
            ),
        });
    }
    wrap::key_from_slice(&bytes)
}

fn take_ciphertext(blob: Option<Blob>) -> Result<WrappedKey> {
    let bytes = blob
        .ok_or_else(|| Error::KmsProtocol {
            detail: "no ciphertext in the response".into(),
        })?
        .into_inner();
    WrappedKey::from_bytes(bytes).map_err(|_| Error::KmsProtocol {
        detail: "the ciphertext blob is empty or too large".into(),
    })
}

/// Maps an SDK failure onto the crate's errors.
fn map_sdk_error<E, R>(err: SdkError<E, R>, key_id: &str) -> Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            classify_service_error(inner.code(), inner.message(), key_id)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => Error::KmsUnavailable {
            detail: DisplayErrorContext(&err).to_string(),
        },
        // A reply that is not KMS's protocol: a proxy's error page, a cut connection.
        SdkError::ResponseError(_) => Error::KmsUnavailable {
            detail: DisplayErrorContext(&err).to_string(),
        },
        _ => Error::KmsProtocol {
            detail: DisplayErrorContext(&err).to_string(),
        },
    }
}

/// Maps a KMS error code onto the crate's errors. Unknown codes are protocol errors: better a
/// loud "unexpected" than a guess that hides a denial as a retryable outage.
pub(crate) fn classify_service_error(
    code: Option<&str>,
    message: Option<&str>,
    key_id: &str,
) -> Error {
    let detail = format!(
        "{}: {}",
        code.unwrap_or("unknown error"),
        message.unwrap_or("")
    );
    match code.unwrap_or("") {
        "NotFoundException" => Error::KmsKeyNotFound {
            key_id: key_id.to_owned(),
        },
        "InvalidCiphertextException" | "IncorrectKeyException" => Error::Unwrap,
        "AccessDeniedException"
        | "DisabledException"
        | "KMSInvalidStateException"
        | "KmsInvalidStateException"
        | "InvalidKeyUsageException"
        | "InvalidGrantTokenException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => Error::KmsDenied { detail },
        "DependencyTimeoutException"
        | "KMSInternalException"
        | "KmsInternalException"
        | "KeyUnavailableException"
        | "ThrottlingException"
        | "ThrottlingError"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "InternalFailure"
        | "RequestTimeout"
        | "RequestTimeoutException" => Error::KmsUnavailable { detail },
        _ => Error::KmsProtocol { detail },
    }
}

#[async_trait]
impl Kms for AwsKms {
    fn provider(&self) -> &'static str {
        "aws"
    }

    fn default_key_id(&self) -> &str {
        &self.default_key_id
    }

    async fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<GeneratedKey> {
        let mut output = self
            .client
            .generate_data_key()
            .key_id(key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(sdk_context(context))
            .send()
            .await
            .map_err(|err| map_sdk_error(err, key_id))?;
        let plaintext = take_plaintext(output.plaintext.take())?;
        let wrapped = take_ciphertext(output.ciphertext_blob.take())?;
        Ok(GeneratedKey { plaintext, wrapped })
    }

    async fn wrap(
        &self,
        key_id: &str,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey> {
        // The SDK owns this copy from here on and does not wipe it; AWS's own wire buffers are
        // out of reach too. Wrapping existing keys is rare (imports, root changes).
        let plaintext = Blob::new(key.expose_secret().to_vec());
        let output = self
            .client
            .encrypt()
            .key_id(key_id)
            .plaintext(plaintext)
            .set_encryption_context(sdk_context(context))
            .send()
            .await
            .map_err(|err| map_sdk_error(err, key_id))?;
        take_ciphertext(output.ciphertext_blob)
    }

    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let mut output = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(wrapped.as_bytes()))
            .set_encryption_context(sdk_context(context))
            .send()
            .await
            .map_err(|err| map_sdk_error(err, key_id))?;
        take_plaintext(output.plaintext.take())
    }

    async fn rewrap(
        &self,
        from_key_id: &str,
        wrapped: &WrappedKey,
        from_context: &EncryptionContext,
        to_key_id: &str,
        to_context: &EncryptionContext,
    ) -> Result<WrappedKey> {
        let output = self
            .client
            .re_encrypt()
            .source_key_id(from_key_id)
            .ciphertext_blob(Blob::new(wrapped.as_bytes()))
            .set_source_encryption_context(sdk_context(from_context))
            .destination_key_id(to_key_id)
            .set_destination_encryption_context(sdk_context(to_context))
            .send()
            .await
            .map_err(|err| map_sdk_error(err, to_key_id))?;
        take_ciphertext(output.ciphertext_blob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_map_to_meaning() {
        let classify = |code| classify_service_error(Some(code), Some("msg"), "k");
        assert!(
            matches!(classify("NotFoundException"), Error::KmsKeyNotFound { key_id } if key_id == "k")
        );
        for code in ["InvalidCiphertextException", "IncorrectKeyException"] {
            assert!(matches!(classify(code), Error::Unwrap), "{code}");
        }
        for code in [
            "AccessDeniedException",
            "DisabledException",
            "KMSInvalidStateException",
            "InvalidKeyUsageException",
            "UnrecognizedClientException",
        ] {
            assert!(matches!(classify(code), Error::KmsDenied { .. }), "{code}");
        }
        for code in [
            "DependencyTimeoutException",
            "KMSInternalException",
            "KeyUnavailableException",
            "ThrottlingException",
        ] {
            assert!(
                matches!(classify(code), Error::KmsUnavailable { .. }),
                "{code}"
            );
        }
        assert!(matches!(
            classify("ValidationException"),
            Error::KmsProtocol { .. }
        ));
        assert!(matches!(
            classify_service_error(None, None, "k"),
            Error::KmsProtocol { .. }
        ));
    }

    #[test]
    fn empty_context_is_not_sent() {
        assert!(sdk_context(&EncryptionContext::new()).is_none());
        let map = sdk_context(&EncryptionContext::new().with("a", "b")).unwrap();
        assert_eq!(map.get("a").map(String::as_str), Some("b"));
    }

    #[test]
    fn short_plaintext_is_a_protocol_error() {
        assert!(matches!(
            take_plaintext(Some(Blob::new(vec![1; 16]))),
            Err(Error::KmsProtocol { .. })
        ));
        assert!(matches!(
            take_plaintext(None),
            Err(Error::KmsProtocol { .. })
        ));
        assert!(take_plaintext(Some(Blob::new(vec![1; 32]))).is_ok());
    }
}
