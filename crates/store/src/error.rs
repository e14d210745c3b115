//! The one error type of this crate.

use std::fmt;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store operation failed, in the store's own words.
///
/// Backends map their native failures (HTTP status and S3 error codes, `io::ErrorKind`) onto
/// these variants, so callers can act on the meaning (`NotFound` → restore nothing,
/// `AlreadyExists` → somebody else committed first, `Unavailable` → try again) without knowing
/// which backend they talk to. [`Error::is_transient`] is what the retry layer consults.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key (or the requested version of it) does not exist.
    #[error("object not found: {key}")]
    NotFound {
        /// The key that was asked for.
        key: String,
    },

    /// A create-only write found the key already present; nothing was written.
    #[error("object already exists: {key}")]
    AlreadyExists {
        /// The key that was asked for.
        key: String,
    },

    /// A precondition other than "does not exist yet" did not hold.
    #[error("precondition failed for {key}: {detail}")]
    PreconditionFailed {
        /// The key that was asked for.
        key: String,
        /// Which precondition failed.
        detail: String,
    },

    /// The store refused the operation: credentials lack the permission, an object-lock
    /// retention or legal hold protects the version, or a path would leave the store's root.
    #[error("permission denied for {key}: {detail}")]
    PermissionDenied {
        /// The key that was asked for.
        key: String,
        /// What refused it.
        detail: String,
    },

    /// A write to a store outside the regions the data is pinned to; nothing was written.
    #[error(
        "residency violation: the store is in region {store_region}, the data may only be \
         written to {allowed}"
    )]
    ResidencyViolation {
        /// The region the store is tagged with.
        store_region: String,
        /// The regions writes are allowed in, as a list.
        allowed: String,
    },

    /// A residency region name that is not one (see [`crate::Region`]).
    #[error("invalid region name {name:?}: 1-64 characters of a-z, 0-9 and '-'")]
    InvalidRegion {
        /// The rejected name.
        name: String,
    },

    /// The key is not one every backend can store safely (see [`crate::ObjectKey`]).
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key, as given.
        key: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// The requested byte range is empty or starts at or past the end of the object.
    #[error("invalid range {start}..{end} for {key:?} (object size {size:?})")]
    InvalidRange {
        /// The key that was asked for.
        key: String,
        /// First byte requested.
        start: u64,
        /// One past the last byte requested.
        end: u64,
        /// The object's size, when known.
        size: Option<u64>,
    },

    /// The key clashes with the store's layout: on a file system, a key cannot be both an
    /// object and the directory of other objects (`a` and `a/b`).
    #[error("key conflicts with another object in the store: {key}: {detail}")]
    Conflict {
        /// The key that was asked for.
        key: String,
        /// What it clashes with.
        detail: String,
    },

    /// This backend (or this configuration of it) does not offer the operation.
    #[error("{backend} does not support {operation}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// The operation or option refused.
        operation: &'static str,
    },

    /// The service could not be reached or answered with a server-side failure that is
    /// worth retrying (timeouts, connection resets, HTTP 500/503, conditional-write conflicts).
    #[error("store unavailable: {detail}")]
    Unavailable {
        /// What failed.
        detail: String,
    },

    /// The service asked us to slow down (HTTP 429, S3 `SlowDown`).
    #[error("store rate limit reached: {detail}")]
    RateLimited {
        /// What the service said.
        detail: String,
    },

    /// Data read back did not match its checksum or its announced size.
    #[error("integrity check failed for {key}: {detail}")]
    Integrity {
        /// The key that was read.
        key: String,
        /// What did not match.
        detail: String,
    },

    /// A replicated write reached the primary but not the secondary store.
    #[error("{key} was written to the primary store but not to the secondary: {source}")]
    ReplicationIncomplete {
        /// The key that was written.
        key: String,
        /// Why the secondary write failed.
        #[source]
        source: Box<Error>,
    },

    /// A local I/O failure with no better meaning (disk full, read-only file system...).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A backend failure with no better meaning (misconfiguration, unexpected reply).
    #[error("{backend} error: {detail}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// What it said.
        detail: String,
    },
}

impl Error {
    /// Whether trying the same operation again may succeed without anyone changing anything.
    ///
    /// True for [`Error::Unavailable`] and [`Error::RateLimited`] only: a missing key, a
    /// failed precondition or a denied permission will fail the same way every time, and a
    /// residency violation must never be "retried into" success.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::RateLimited { .. })
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// The object key this error names, for layers that rename keys (`Prefixed`).
    pub(crate) fn key_mut(&mut self) -> Option<&mut String> {
        match self {
            Error::NotFound { key }
            | Error::AlreadyExists { key }
            | Error::PreconditionFailed { key, .. }
            | Error::PermissionDenied { key, .. }
            | Error::InvalidKey { key, .. }
            | Error::InvalidRange { key, .. }
            | Error::Conflict { key, .. }
            | Error::Integrity { key, .. }
            | Error::ReplicationIncomplete { key, .. } => Some(key),
            _ => None,
        }
    }

    pub(crate) fn not_found(key: impl fmt::Display) -> Self {
        Error::NotFound {
            key: key.to_string(),
        }
    }

    pub(crate) fn already_exists(key: impl fmt::Display) -> Self {
        Error::AlreadyExists {
            key: key.to_string(),
        }
    }

    pub(crate) fn io(path: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_service_trouble_is_transient() {
        assert!(
            Error::Unavailable {
                detail: "503".into()
            }
            .is_transient()
        );
        assert!(
            Error::RateLimited {
                detail: "SlowDown".into()
            }
            .is_transient()
        );
        assert!(!Error::not_found("k").is_transient());
        assert!(!Error::already_exists("k").is_transient());
        assert!(
            !Error::ResidencyViolation {
                store_region: "us".into(),
                allowed: "eu".into()
            }
            .is_transient()
        );
        assert!(
            !Error::PermissionDenied {
                key: "k".into(),
                detail: "locked".into()
            }
            .is_transient()
        );
    }
}
