//! The crate's one error type.

/// Everything that can go wrong in `coffer-engine`, in the repository's words.
///
/// What fails to *authenticate* (a sealed object under the wrong key or context, altered
/// bytes, a wrapped data key that does not unwrap) is one opaque [`Error::Crypto`] naming
/// only the operation, so no caller can build an oracle from the difference.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Checkpoint retention was asked of a store without object lock; nothing was configured.
    #[error("the {backend} store has no object lock, so checkpoints cannot be retained")]
    ObjectLockUnavailable {
        /// The store's backend name.
        backend: &'static str,
    },

    /// An argument outside what the operation accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A sealed signing key is already stored; it is never replaced.
    #[error("a sealed audit signing key already exists at {key}")]
    SigningKeyExists {
        /// The object key.
        key: String,
    },

    /// No sealed signing key is stored where one was expected.
    #[error("no sealed audit signing key at {key}")]
    SigningKeyMissing {
        /// The object key.
        key: String,
    },

    /// The verifier key published in the store is not the one of the sealed signing key:
    /// someone replaced it, or it belongs to another log.
    #[error("the verifier key at {key} does not match the sealed signing key")]
    VerifierKeyMismatch {
        /// The object key of the published verifier key.
        key: String,
    },

    /// The org key version that protects the object was destroyed (crypto-shredded): the
    /// object can never be opened again.
    #[error("the key protecting this object was destroyed (org {org} was crypto-shredded)")]
    KeyDestroyed {
        /// The org whose key is gone.
        org: String,
    },

    /// `init` found a repository already there.
    #[error("a Coffer repository already exists here")]
    RepositoryExists,

    /// There is no repository config where one was expected.
    #[error("no Coffer repository here (no `config` object); create one with `coffer init`")]
    NotARepository,

    /// The repository holds no org with this id.
    #[error("the repository holds no org {org}")]
    UnknownOrg {
        /// The org id asked for.
        org: String,
    },

    /// No snapshot with this number.
    #[error("no snapshot {seq}")]
    UnknownSnapshot {
        /// The snapshot number.
        seq: u64,
    },

    /// Another run committed this snapshot number first; nothing of this run is visible.
    #[error("snapshot {seq} was committed by another run first")]
    Conflict {
        /// The contested snapshot number.
        seq: u64,
    },

    /// A content-named object does not hash to its name: it was altered or swapped.
    #[error("{key} does not match its content name: altered or replaced")]
    Tampered {
        /// The object key.
        key: String,
    },

    /// A stored repository object is malformed (it authenticated, so this is a bug or a
    /// format this version misreads, not tampering).
    #[error("{what} is corrupt: {reason}")]
    Corrupt {
        /// The object (e.g. "index segment", "snapshot 42").
        what: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A stored object is in a format version this crate does not read.
    #[error("{what} format version {version} is not supported by this version of Coffer")]
    UnsupportedVersion {
        /// The kind of object.
        what: &'static str,
        /// The version found.
        version: u32,
    },

    /// Compressing or decompressing a block failed (including decompression limits).
    #[error("compression: {0}")]
    Compress(#[source] coffer_compress::Error),

    /// Sealing or opening failed. Deliberately says nothing more than which operation.
    #[error("{0} failed")]
    Crypto(&'static str),

    /// Key management failed (unknown org, KMS unreachable or refusing, ring storage).
    #[error("key management: {0}")]
    Keys(#[source] coffer_keys::Error),

    /// The Salesforce connector failed (auth, limits, API errors, transport).
    #[error("salesforce: {0}")]
    Salesforce(#[source] Box<coffer_salesforce::Error>),

    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] coffer_store::Error),

    /// The audit log or its verifier failed.
    #[error("audit: {0}")]
    Audit(#[from] coffer_audit::Error),

    /// Work handed to a worker thread (block compression) did not come back: the worker
    /// panicked or the runtime is shutting down.
    #[error("a worker thread failed: {0}")]
    Worker(String),
}

impl From<coffer_keys::Error> for Error {
    fn from(e: coffer_keys::Error) -> Self {
        match e {
            coffer_keys::Error::VersionDestroyed { org, .. } => Error::KeyDestroyed { org },
            // Authentication failures stay opaque, whatever their cause.
            coffer_keys::Error::Unwrap => Error::Crypto("unwrapping the data key"),
            other => Error::Keys(other),
        }
    }
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
