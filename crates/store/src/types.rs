//! The values that cross the [`crate::ObjectStore`] seam.

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::key::ObjectKey;

/// A stream of chunks: the body of a streaming write, or of a streaming read.
///
/// Chunks may have any size; backends re-chunk as they need (S3 into multipart parts), so the
/// memory a transfer uses is bounded by the backend's buffer, never by the object's size.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// Whether a write may replace an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PutMode {
    /// Replace whatever is there (a new version, on a versioned store).
    #[default]
    Overwrite,
    /// Write only if the key does not exist yet (`If-None-Match: *`); otherwise fail with
    /// [`Error::AlreadyExists`] and write nothing. Of several concurrent create-only writers
    /// to one key, exactly one succeeds.
    CreateOnly,
}

/// How strictly an object-lock retention protects a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetentionMode {
    /// S3 governance mode: principals with `s3:BypassGovernanceRetention` could lift it. This
    /// crate never sends the bypass header, so through it the version is as protected as in
    /// compliance mode.
    Governance,
    /// S3 compliance mode: nobody, not even the account root, can delete the version or
    /// shorten the retention before it expires.
    Compliance,
}

/// An object-lock retention: the version cannot be deleted before `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Governance or compliance.
    pub mode: RetentionMode,
    /// When the protection ends.
    pub until: SystemTime,
}

impl Retention {
    /// Whether the retention still protects the version at `now`.
    pub fn is_active(&self, now: SystemTime) -> bool {
        self.until > now
    }
}

/// How to write an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOptions {
    /// Overwrite, or create only.
    pub mode: PutMode,
    /// An object-lock retention for the new version; backends without object lock refuse the
    /// write with [`Error::Unsupported`] rather than store the object unprotected.
    pub retention: Option<Retention>,
    /// Put the new version under legal hold (no deletion until the hold is released).
    pub legal_hold: bool,
}

impl PutOptions {
    /// Overwrite whatever is there, no lock.
    pub fn overwrite() -> Self {
        Self::default()
    }

    /// Create only: fail with [`Error::AlreadyExists`] if the key exists.
    pub fn create_only() -> Self {
        PutOptions {
            mode: PutMode::CreateOnly,
            ..Self::default()
        }
    }

    /// Adds an object-lock retention.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Puts the new version under legal hold.
    pub fn with_legal_hold(mut self) -> Self {
        self.legal_hold = true;
        self
    }

    /// Whether the write asks for any object-lock protection.
    pub fn wants_lock(&self) -> bool {
        self.retention.is_some() || self.legal_hold
    }
}

/// A backend's identifier of one version of an object (opaque).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionId(String);

impl VersionId {
    /// Wraps a backend's version identifier.
    pub fn new(id: impl Into<String>) -> Self {
        VersionId(id.into())
    }

    /// The identifier as the backend spelled it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionId({:?})", self.0)
    }
}

/// What a successful write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// Bytes written.
    pub size: u64,
    /// The backend's entity tag, if it has them.
    pub etag: Option<String>,
    /// The new version, on a versioned store.
    pub version: Option<VersionId>,
}

/// What a store knows about an object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: ObjectKey,
    /// Size in bytes.
    pub size: u64,
    /// When it was last written, if the backend says.
    pub last_modified: Option<SystemTime>,
    /// The backend's entity tag, if it has them.
    pub etag: Option<String>,
    /// The current version, on a versioned store (not filled in by listings).
    pub version: Option<VersionId>,
}

/// One entry of an object's version history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// The version's identifier.
    pub version: VersionId,
    /// Whether this is the current version.
    pub is_latest: bool,
    /// Whether this version is a delete marker (the object reads as absent while it is latest).
    pub is_delete_marker: bool,
    /// Size in bytes (0 for delete markers).
    pub size: u64,
    /// When the version was written, if the backend says.
    pub last_modified: Option<SystemTime>,
}

/// A half-open byte range `start..end` of an object.
///
/// `end` past the object's size is cut to the size (as HTTP ranges are); a `start` at or past
/// the size is an [`Error::InvalidRange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    start: u64,
    end: u64,
}

impl ByteRange {
    /// The range `start..end`; empty or reversed ranges are refused.
    pub fn new(start: u64, end: u64) -> Result<Self> {
        if start >= end {
            return Err(Error::InvalidRange {
                key: String::new(),
                start,
                end,
                size: None,
            });
        }
        Ok(ByteRange { start, end })
    }

    /// First byte.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The range cut to an object of `size` bytes, as `(start, len)`; refuses a start at or
    /// past the end.
    pub fn clamp_to(&self, key: &ObjectKey, size: u64) -> Result<(u64, u64)> {
        if self.start >= size {
            return Err(Error::InvalidRange {
                key: key.to_string(),
                start: self.start,
                end: self.end,
                size: Some(size),
            });
        }
        Ok((self.start, self.end.min(size) - self.start))
    }
}

impl TryFrom<std::ops::Range<u64>> for ByteRange {
    type Error = Error;

    fn try_from(range: std::ops::Range<u64>) -> Result<Self> {
        ByteRange::new(range.start, range.end)
    }
}

/// Where the next page of a listing starts (opaque; backend-specific).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PageToken(String);

impl PageToken {
    /// Wraps a backend's continuation marker.
    pub fn new(token: impl Into<String>) -> Self {
        PageToken(token.into())
    }

    /// The marker as the backend spelled it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PageToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PageToken({:?})", self.0)
    }
}

/// One page of a listing, in ascending byte order of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    /// The objects on this page.
    pub objects: Vec<ObjectMeta>,
    /// The token for the next page; `None` on the last page.
    pub next: Option<PageToken>,
}

/// What a store offers beyond the basic operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// Keeps every version of every object (`list_versions`, `get_version`, `delete_version`).
    pub versions: bool,
    /// Honors object-lock retention and legal hold.
    pub object_lock: bool,
}

impl Capabilities {
    /// No versions, no lock.
    pub fn basic() -> Self {
        Self::default()
    }

    /// Versions and object lock.
    pub fn versioned_with_lock() -> Self {
        Capabilities {
            versions: true,
            object_lock: true,
        }
    }

    /// Versions, no lock.
    pub fn versioned() -> Self {
        Capabilities {
            versions: true,
            object_lock: false,
        }
    }
}

/// An open streaming read: the object's metadata, then its bytes.
pub struct ObjectReader {
    /// The object being read.
    pub meta: ObjectMeta,
    /// Its bytes, in order.
    pub stream: ByteStream,
}

impl fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectReader")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}
