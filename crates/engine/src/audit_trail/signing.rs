//! The checkpoint-signing key, sealed under the org's key ring.

use std::sync::Arc;

use bytes::Bytes;
use coffer_audit::{CheckpointSigner, NoteVerifier};
use coffer_keys::{EncryptionContext, KeyManager, OrgId};
use coffer_store::{ObjectKey, ObjectStore, PutOptions};
use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox};

use super::{PURPOSE_SIGNING, folder, open, seal};
use crate::error::{Error, Result};

/// Name of the sealed seed object inside the vault's folder.
pub const SEALED_SEED_NAME: &str = "signing-key.sealed";
/// Name of the published verifier key inside the vault's folder.
pub const VERIFIER_KEY_NAME: &str = "signing-key.vkey";

/// Keeps an audit log's Ed25519 checkpoint-signing seed sealed in an object store.
///
/// - `<prefix>/signing-key.sealed`: the 32-byte seed sealed with `coffer-envelope` under a
///   data key of `org`'s ring, encryption context
///   `{org, path: <object key>, purpose: "audit-signing", origin: <log name>}`; the wrapped
///   data key is the envelope's key reference. Written create-only: a log's key is never
///   replaced.
/// - `<prefix>/signing-key.vkey`: the verifier key (`name+keyid+base64`, C2SP note format)
///   in clear, for auditors. It is a convenience, not a trust anchor: a third party should
///   obtain the verifier key out of band. [`load`](Self::load) checks it against the sealed
///   key and refuses a mismatch.
///
/// The seed exists in plaintext only inside a wiped-on-drop buffer while the signer is built.
/// Rotating the org's key-encryption key does not touch the sealed seed (older KEK versions
/// stay decrypt-only); destroying the version that wrapped it, or shredding the org, makes
/// [`load`](Self::load) fail with [`Error::KeyDestroyed`].
#[derive(Debug, Clone)]
pub struct SigningKeyVault {
    store: Arc<dyn ObjectStore>,
    keys: KeyManager,
    org: OrgId,
    prefix: String,
}

impl SigningKeyVault {
    /// A vault under `prefix` (a folder) in `store`, sealing with `org`'s ring in `keys`.
    ///
    /// # Errors
    /// [`Error::Store`] if `prefix` is not a valid key prefix.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        keys: KeyManager,
        org: OrgId,
        prefix: &str,
    ) -> Result<Self> {
        Ok(Self {
            store,
            keys,
            org,
            prefix: folder(prefix)?,
        })
    }

    /// The object key of the sealed seed.
    ///
    /// # Errors
    /// [`Error::Store`] if the prefix makes the key too long.
    pub fn sealed_key(&self) -> Result<ObjectKey> {
        Ok(ObjectKey::new(format!(
            "{}{SEALED_SEED_NAME}",
            self.prefix
        ))?)
    }

    /// The object key of the published verifier key.
    ///
    /// # Errors
    /// [`Error::Store`] if the prefix makes the key too long.
    pub fn verifier_key(&self) -> Result<ObjectKey> {
        Ok(ObjectKey::new(format!(
            "{}{VERIFIER_KEY_NAME}",
            self.prefix
        ))?)
    }

    fn context(&self, key: &ObjectKey, origin: &str) -> EncryptionContext {
        EncryptionContext::object(&self.org, key.as_str(), PURPOSE_SIGNING).with("origin", origin)
    }

    /// Generates a fresh signing key for the log named `origin`, stores it sealed and
    /// publishes its verifier key; returns the signer.
    ///
    /// # Errors
    /// [`Error::SigningKeyExists`] if a sealed key is already stored (nothing is replaced);
    /// [`Error::Audit`] for an origin that is not a valid key name; key-ring and store errors.
    pub async fn create(&self, origin: &str) -> Result<CheckpointSigner> {
        let seed = CheckpointSigner::generate_seed()?;
        let signer = CheckpointSigner::new(origin, &seed).map_err(coffer_audit::Error::from)?;
        let key = self.sealed_key()?;
        let sealed = seal(
            &self.keys,
            &self.org,
            &self.context(&key, origin),
            seed.expose_secret(),
        )
        .await?;
        match self
            .store
            .put(&key, Bytes::from(sealed), &PutOptions::create_only())
            .await
        {
            Ok(_) => {}
            Err(coffer_store::Error::AlreadyExists { .. }) => {
                return Err(Error::SigningKeyExists {
                    key: key.into_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        self.publish_verifier(&signer.verifier()).await?;
        Ok(signer)
    }

    /// Unseals the stored signing key of the log named `origin`, checks the published verifier
    /// key against it (publishing it if a crash left it out), and returns the signer.
    ///
    /// # Errors
    /// [`Error::SigningKeyMissing`]; [`Error::KeyDestroyed`] if the org key that wrapped it was
    /// destroyed; [`Error::Crypto`] if the sealed key does not open (altered, another org, or
    /// another origin); [`Error::VerifierKeyMismatch`]; key-ring and store errors.
    pub async fn load(&self, origin: &str) -> Result<CheckpointSigner> {
        let key = self.sealed_key()?;
        let sealed = match self.store.get(&key).await {
            Ok(bytes) => bytes,
            Err(coffer_store::Error::NotFound { .. }) => {
                return Err(Error::SigningKeyMissing {
                    key: key.into_string(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let plaintext = open(&self.keys, &self.org, &self.context(&key, origin), &sealed).await?;
        if plaintext.len() != 32 {
            return Err(Error::Crypto("opening the signing key"));
        }
        let mut seed = SecretBox::new(Box::new([0u8; 32]));
        seed.expose_secret_mut().copy_from_slice(&plaintext);
        drop(plaintext);
        let signer = CheckpointSigner::new(origin, &seed).map_err(coffer_audit::Error::from)?;
        drop(seed);
        self.publish_verifier(&signer.verifier()).await?;
        Ok(signer)
    }

    /// [`load`](Self::load) if a sealed key is stored, [`create`](Self::create) otherwise.
    ///
    /// # Errors
    /// As those two.
    pub async fn load_or_create(&self, origin: &str) -> Result<CheckpointSigner> {
        match self.load(origin).await {
            Err(Error::SigningKeyMissing { .. }) => match self.create(origin).await {
                // Another process created it in between: use theirs.
                Err(Error::SigningKeyExists { .. }) => self.load(origin).await,
                other => other,
            },
            other => other,
        }
    }

    /// The verifier key published in the store (no key ring needed).
    ///
    /// # Errors
    /// [`Error::Store`] (`NotFound` if none is published); [`Error::Audit`] if it is not a
    /// verifier key.
    pub async fn published_verifier(&self) -> Result<NoteVerifier> {
        let bytes = self.store.get(&self.verifier_key()?).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Error::Audit(coffer_audit::Error::BadKey(
                "published verifier key is not UTF-8".into(),
            ))
        })?;
        NoteVerifier::from_vkey(text.trim()).map_err(|e| Error::Audit(coffer_audit::Error::from(e)))
    }

    /// Publishes `verifier` create-only, or checks the published one equals it.
    async fn publish_verifier(&self, verifier: &NoteVerifier) -> Result<()> {
        let key = self.verifier_key()?;
        let text = format!("{}\n", verifier.to_vkey());
        let existing = match self
            .store
            .put(&key, Bytes::from(text.clone()), &PutOptions::create_only())
            .await
        {
            Ok(_) => return Ok(()),
            Err(coffer_store::Error::AlreadyExists { .. }) => self.store.get(&key).await?,
            Err(e) => return Err(e.into()),
        };
        if existing.as_ref() == text.as_bytes() {
            Ok(())
        } else {
            Err(Error::VerifierKeyMismatch {
                key: key.into_string(),
            })
        }
    }
}
