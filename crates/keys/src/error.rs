//! The crate's one error type.

use std::path::PathBuf;

use crate::ring::KeyState;

/// Everything that can go wrong in the key hierarchy.
///
/// Every failure a caller might act on has its own variant: an unknown org, an unknown or
/// destroyed key version, a KMS that is unreachable or refuses, a lost race with another
/// writer. What fails to *authenticate* is deliberately one variant, [`Error::Unwrap`], whatever
/// the cause (wrong encryption context, wrong key, a flipped bit): AES-GCM and AWS KMS cannot tell
/// those apart, and a caller that could would hold an oracle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No key ring exists for this org (never created, or its ring objects are gone).
    #[error("no key ring for org {org}")]
    UnknownOrg {
        /// The org asked for.
        org: String,
    },

    /// A key ring for this org already exists; [`KeyManager::create_ring`] refuses to replace
    /// it.
    ///
    /// [`KeyManager::create_ring`]: crate::KeyManager::create_ring
    #[error("org {org} already has a key ring")]
    RingExists {
        /// The org asked for.
        org: String,
    },

    /// The org's key ring has no key-encryption-key version with this number.
    #[error("org {org} has no key version {version}")]
    UnknownVersion {
        /// The org.
        org: String,
        /// The version asked for.
        version: u32,
    },

    /// The key version was destroyed (crypto-shredded): whatever was wrapped under it is gone
    /// for good.
    #[error("key version {version} of org {org} was destroyed")]
    VersionDestroyed {
        /// The org.
        org: String,
        /// The destroyed version.
        version: u32,
    },

    /// The key version is below the ring's `min_decryption_version`, so it may not decrypt
    /// (the key material is kept: lowering the minimum makes it usable again).
    #[error("key version {version} of org {org} is below the minimum decryption version {minimum}")]
    VersionDisabled {
        /// The org.
        org: String,
        /// The version asked for.
        version: u32,
        /// The ring's current minimum.
        minimum: u32,
    },

    /// The org's key ring has no active version for new writes (its primary was retired or the
    /// ring was shredded); rotate to make a new one.
    #[error("org {org} has no active key version for new writes")]
    NoActiveVersion {
        /// The org.
        org: String,
    },

    /// A lifecycle operation that the version's state does not allow (retiring a destroyed
    /// version, destroying the active primary, lowering the minimum below a destroyed version).
    #[error("cannot {action} key version {version} of org {org}: it is {state}")]
    InvalidTransition {
        /// The org.
        org: String,
        /// The version.
        version: u32,
        /// The state it is in.
        state: KeyState,
        /// What was asked.
        action: &'static str,
    },

    /// A version retired less than one cache TTL ago cannot be destroyed yet: other processes
    /// sharing the ring may still hold it as their primary in their caches and wrap new data
    /// under it, which the destroy would make unreadable.
    #[error(
        "key version {version} of org {org} was retired too recently to destroy; \
         retry in {retry_after_secs} s"
    )]
    RetiredTooRecently {
        /// The org.
        org: String,
        /// The version.
        version: u32,
        /// Seconds until it may be destroyed.
        retry_after_secs: u64,
    },

    /// An argument outside what the operation accepts (an org id that is not one, a zero
    /// rotation period, a minimum above the primary version...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A wrapped key did not authenticate under this key and encryption context: the context
    /// differs, the wrapped bytes were altered, or it belongs to another key.
    #[error("wrapped key failed to authenticate")]
    Unwrap,

    /// Bytes that should be a wrapped key or a key-ring object are not well formed (wrong magic,
    /// unsupported format version, cut short).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// A persisted key ring authenticated but does not describe a valid ring (a version listed
    /// twice, a primary that is not active...). Someone with the root key wrote it, or it is a
    /// bug: it is never silently repaired.
    #[error("key ring of org {org} is inconsistent: {reason}")]
    CorruptRing {
        /// The org.
        org: String,
        /// Which invariant is broken.
        reason: String,
    },

    /// The KMS has no key with this id (or alias).
    #[error("KMS key {key_id} not found")]
    KmsKeyNotFound {
        /// The key id or alias asked for.
        key_id: String,
    },

    /// The KMS refused: no permission, the key is disabled or pending deletion, or it cannot be
    /// used this way.
    #[error("KMS denied the request: {detail}")]
    KmsDenied {
        /// What the KMS said.
        detail: String,
    },

    /// The KMS could not be reached or failed in a way that may pass (timeout, connection
    /// refused, throttling, internal error).
    #[error("KMS unavailable: {detail}")]
    KmsUnavailable {
        /// What failed.
        detail: String,
    },

    /// The KMS answered something this crate cannot use (a data key of the wrong length, a
    /// missing field, a request it rejected as invalid).
    #[error("unexpected KMS response: {detail}")]
    KmsProtocol {
        /// What was wrong.
        detail: String,
    },

    /// Another writer committed a new generation of this org's key ring first; nothing of this
    /// operation was written. Reload (the next call does) and retry if it still applies.
    #[error("key ring of org {org} changed concurrently: generation {generation} already exists")]
    Conflict {
        /// The org.
        org: String,
        /// The generation both writers tried to create.
        generation: u64,
    },

    /// A rewrap cursor was started for a primary version that is no longer the primary (the
    /// ring rotated meanwhile); start a new rewrap.
    #[error(
        "rewrap cursor of org {org} targets version {target} but the primary is now {primary:?}"
    )]
    StaleRewrap {
        /// The org.
        org: String,
        /// The version the cursor rewraps to.
        target: u32,
        /// The current primary, if any.
        primary: Option<u32>,
    },

    /// A lifecycle change was committed but older copies of the ring that still hold erased
    /// key material could not be deleted; run [`KeyManager::purge_history`] once the store
    /// allows it.
    ///
    /// [`KeyManager::purge_history`]: crate::KeyManager::purge_history
    #[error("key ring of org {org} committed, but older copies could not be erased: {source}")]
    ErasureIncomplete {
        /// The org.
        org: String,
        /// The change that was committed, for the audit log.
        event: Box<crate::KeyEvent>,
        /// Why the store refused.
        #[source]
        source: coffer_store::Error,
    },

    /// The local master key could not be loaded.
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),

    /// The object store failed.
    #[error("key ring storage failed: {0}")]
    Store(#[from] coffer_store::Error),

    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random(#[source] getrandom::Error),
}

/// Why a local master key could not be loaded (see [`LocalKms`](crate::LocalKms)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MasterKeyError {
    /// The environment variable is not set (or not Unicode).
    #[error(
        "master key variable {var} is not set; put a base64 32-byte key in it \
         (`openssl rand -base64 32` makes one)"
    )]
    MissingEnv {
        /// The variable.
        var: String,
    },

    /// The text is not standard base64.
    #[error(
        "master key from {source_name} is not valid base64; expected 32 random bytes in \
         standard base64 (`openssl rand -base64 32` makes one)"
    )]
    Encoding {
        /// Where the key came from (variable name or file path).
        source_name: String,
    },

    /// The key decodes to the wrong number of bytes.
    #[error(
        "master key from {source_name} is {len} bytes; it must be exactly 32 \
         (`openssl rand -base64 32` makes one)"
    )]
    WrongLength {
        /// Where the key came from.
        source_name: String,
        /// The decoded length.
        len: usize,
    },

    /// The key file could not be read.
    #[error("cannot read master key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The key file can be read or written by users other than its owner.
    #[error(
        "master key file {path} has mode {mode:o}: group and others must have no access \
         (run `chmod 600 {path}`)",
        path = path.display()
    )]
    LaxPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The key id is empty, too long or has characters outside `A-Za-z0-9._:/-`.
    #[error("invalid master key id {0:?}: 1-128 characters of A-Z a-z 0-9 . _ : / -")]
    InvalidId(String),
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
