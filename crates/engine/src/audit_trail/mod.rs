//! The audit trail's storage, composed from `coffer-audit`, `coffer-store`, `coffer-keys` and
//! `coffer-envelope` (which `coffer-audit` may not depend on).
//!
//! - [`StoreCheckpoints`]: signed checkpoints as create-only objects in any
//!   [`ObjectStore`](coffer_store::ObjectStore), optionally under an object-lock retention in
//!   compliance mode, so not even the bucket owner can delete or replace one before it expires.
//! - [`SealedPayloads`]: the openings of personal data, each sealed with the envelope under its
//!   own data key bound to (org, object path, `audit-payload`, sequence number). Erasure deletes
//!   the object and every stored version of it; the wrapped data key lives only inside that
//!   object, so the payload is crypto-shredded with it.
//! - [`SigningKeyVault`]: the Ed25519 checkpoint-signing seed, sealed under a data key of the
//!   org's key ring (purpose `audit-signing`) and stored create-only, with the public verifier
//!   key published beside it in clear. Rotating the org's key-encryption key keeps it loadable;
//!   crypto-shredding the org makes loading fail with [`Error::KeyDestroyed`].
//! - [`verify_trail`]: loads checkpoints and openings from these stores and runs the offline
//!   verifier.
//!
//! Object names and encryption contexts are specified in `docs/format/audit.md`
//! ("Where the trail lives").
//!
//! Errors crossing the `coffer-audit` traits ([`coffer_audit::CheckpointStore`],
//! [`coffer_audit::PayloadStore`]) must be [`coffer_audit::Error`]s: a create-only write that
//! finds an object becomes `AlreadyExists`, a payload that fails to open becomes
//! `MalformedPayload` (opaque), and any other failure becomes `Io` whose source is this
//! crate's [`Error`] (reachable through `std::error::Error::source`).

mod checkpoints;
mod payloads;
mod signing;

use std::collections::BTreeMap;

use coffer_audit::verify::{Options, PayloadSource, Report, verify_log};
use coffer_audit::{CheckpointStore, NoteVerifier, PayloadStore};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sealed::{open, seal};

pub use checkpoints::StoreCheckpoints;
pub use payloads::SealedPayloads;
pub use signing::{SEALED_SEED_NAME, SigningKeyVault, VERIFIER_KEY_NAME};

/// The conventional folder of an org's checkpoints (`docs/format/audit.md`, section 7).
pub const CHECKPOINT_PREFIX: &str = "audit/checkpoints/";
/// The conventional folder of an org's sealed personal-data openings.
pub const PAYLOAD_PREFIX: &str = "audit/payloads/";
/// The conventional folder of an org's sealed signing key and its verifier key.
pub const SIGNING_KEY_PREFIX: &str = "audit/key/";

/// Encryption-context purpose of a sealed personal-data opening.
pub const PURPOSE_PAYLOAD: &str = "audit-payload";
/// Encryption-context purpose of the sealed checkpoint-signing seed.
pub const PURPOSE_SIGNING: &str = "audit-signing";

/// `prefix` as a folder: empty, or validated and ending in exactly one `/`.
fn folder(prefix: &str) -> Result<String> {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let folder = format!("{trimmed}/");
    coffer_store::validate_prefix(&folder)?;
    Ok(folder)
}

/// The numbers of the objects directly under `prefix` whose names `parse` accepts, ascending.
/// Anything else in the folder is not ours and is ignored.
async fn list_numbered(
    store: &dyn coffer_store::ObjectStore,
    prefix: &str,
    parse: fn(&str) -> Option<u64>,
    what: &'static str,
) -> Result<Vec<u64>, coffer_audit::Error> {
    use futures::TryStreamExt;
    let objects: Vec<_> = store
        .list(prefix)
        .try_collect()
        .await
        .map_err(|e| to_audit(what, e))?;
    let mut numbers: Vec<u64> = objects
        .iter()
        .filter_map(|meta| meta.key.as_str().strip_prefix(prefix))
        .filter_map(parse)
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// A failure of this crate, carried through a `coffer-audit` trait.
fn to_audit(context: &'static str, e: impl Into<Error>) -> coffer_audit::Error {
    match e.into() {
        Error::Audit(inner) => inner,
        other => coffer_audit::Error::Io {
            context,
            source: std::io::Error::other(other),
        },
    }
}

/// Decrypted openings of personal data, by event sequence number, wiped on drop: what the
/// offline verifier checks commitments against.
#[derive(Default)]
pub struct Openings(BTreeMap<u64, Zeroizing<Vec<u8>>>);

impl std::fmt::Debug for Openings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data stays out of logs: only the sequence numbers.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Openings {
    /// Reads every opening a payload store holds.
    ///
    /// # Errors
    /// The store's errors (for a [`SealedPayloads`], a payload that does not open is
    /// [`coffer_audit::Error::MalformedPayload`]).
    pub async fn load(store: &dyn PayloadStore) -> Result<Self> {
        let mut out = BTreeMap::new();
        for seq in store.list().await? {
            if let Some(opening) = store.get(seq).await? {
                out.insert(seq, opening);
            }
        }
        Ok(Openings(out))
    }

    /// Number of openings.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl PayloadSource for Openings {
    fn payload(&self, seq: u64) -> Option<&[u8]> {
        self.0.get(&seq).map(|p| p.as_slice())
    }
}

/// Verifies `log` (the concatenated log segments) against every checkpoint in `checkpoints`,
/// trusting only `verifier`, and, if `payloads` is given, every stored opening against its
/// event's commitments (an erased one is reported as "verified, payload erased").
///
/// # Errors
/// Only failures to *read* the stores; everything the verifier finds is in the [`Report`].
pub async fn verify_trail(
    log: &[u8],
    checkpoints: &dyn CheckpointStore,
    verifier: &NoteVerifier,
    payloads: Option<&dyn PayloadStore>,
    options: Options,
) -> Result<Report> {
    let notes: Vec<Vec<u8>> = coffer_audit::checkpoint_store::load_all(checkpoints)
        .await?
        .into_iter()
        .map(|(_, note)| note)
        .collect();
    let openings = match payloads {
        Some(store) => Some(Openings::load(store).await?),
        None => None,
    };
    Ok(verify_log(
        log,
        &notes,
        verifier,
        openings.as_ref().map(|o| o as &dyn PayloadSource),
        options,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_become_folders() {
        assert_eq!(folder("").unwrap(), "");
        assert_eq!(folder("/").unwrap(), "");
        assert_eq!(folder("audit/acme").unwrap(), "audit/acme/");
        assert_eq!(folder("audit/acme//").unwrap(), "audit/acme/");
        assert!(matches!(folder("../up"), Err(Error::Store(_))));
        assert!(matches!(folder("/abs"), Err(Error::Store(_))));
    }

    #[test]
    fn foreign_failures_cross_the_audit_seam_with_their_source() {
        let e = to_audit("read checkpoint", Error::Crypto("opening"));
        let coffer_audit::Error::Io { context, source } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(*context, "read checkpoint");
        assert_eq!(source.to_string(), "opening failed");
        let inner = coffer_audit::Error::AlreadyExists("x".into());
        assert!(matches!(
            to_audit("put", Error::Audit(inner)),
            coffer_audit::Error::AlreadyExists(_)
        ));
    }
}
