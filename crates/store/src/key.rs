//! Object keys: the one place that decides which names a store accepts.
//!
//! Every backend takes an [`ObjectKey`], which can only be built through [`ObjectKey::new`],
//! so `Memory`, `LocalFs` and `S3` refuse exactly the same names with the same
//! [`Error::InvalidKey`]. The rules are the intersection of what is safe everywhere: a key is
//! a relative, `/`-separated path that maps one-to-one onto a file below a directory, and is a
//! valid S3 key.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Longest key accepted, in bytes: S3's limit.
pub const MAX_KEY_LEN: usize = 1024;

/// Longest single `/`-separated segment, in bytes: the usual file-name limit (`NAME_MAX`).
pub const MAX_SEGMENT_LEN: usize = 255;

/// A validated object key such as `orgs/00D5e000000abc/packs/1f3a`.
///
/// Rules, each one closing a way out of a store's root or a way to make two backends disagree:
/// - not empty, at most [`MAX_KEY_LEN`] bytes, each segment at most [`MAX_SEGMENT_LEN`];
/// - no leading or trailing `/` (absolute paths, "directory" keys) and no empty segment (`a//b`);
/// - no `.` or `..` segment (path traversal);
/// - no NUL, no other ASCII control character and no `\` (a path separator on some systems).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key`.
    ///
    /// ```
    /// use coffer_store::ObjectKey;
    /// assert!(ObjectKey::new("packs/00/ab12").is_ok());
    /// assert!(ObjectKey::new("../etc/passwd").is_err());
    /// assert!(ObjectKey::new("/etc/passwd").is_err());
    /// ```
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        check(&key, false)?;
        Ok(ObjectKey(key))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's `/`-separated segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Consumes the key, returning its string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

// Ordering, equality and hashing are those of the string, so maps keyed by `ObjectKey` can be
// searched with a `&str`.
impl std::borrow::Borrow<str> for ObjectKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for ObjectKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ObjectKey::new(s)
    }
}

impl TryFrom<&str> for ObjectKey {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self> {
        ObjectKey::new(s)
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        ObjectKey::new(s)
    }
}

/// Validates a listing prefix: the empty string (everything), or the start of a key under the
/// same rules, where the last segment may be partial or empty (`packs/`, `packs/1f`).
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    check(prefix, true)
}

fn check(key: &str, is_prefix: bool) -> Result<()> {
    let invalid = |reason| {
        Err(Error::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("empty key");
    }
    if key.len() > MAX_KEY_LEN {
        return invalid("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return invalid("absolute path (leading '/')");
    }
    if key.chars().any(|c| c == '\0') {
        return invalid("contains NUL");
    }
    if key.chars().any(|c| c.is_ascii_control()) {
        return invalid("contains a control character");
    }
    if key.contains('\\') {
        return invalid("contains '\\'");
    }
    let segments: Vec<&str> = key.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        // A prefix may end in '/' (its last segment is then empty) or in a partial segment,
        // which may legitimately be "." or ".." only as the start of a longer name; we refuse
        // those too, since they can match nothing valid and look like traversal.
        if segment.is_empty() {
            if is_prefix && i == last {
                continue;
            }
            return invalid(if i == last {
                "trailing '/'"
            } else {
                "empty segment ('//')"
            });
        }
        if *segment == "." || *segment == ".." {
            return invalid("'.' or '..' segment");
        }
        if segment.len() > MAX_SEGMENT_LEN {
            return invalid("segment longer than 255 bytes");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for key in [
            "a",
            "a/b/c",
            "orgs/00D/packs/ff.pack",
            "..a",
            "a..",
            "a.b/.c",
            "x y",
        ] {
            assert!(ObjectKey::new(key).is_ok(), "{key}");
        }
        let long_ok = format!("{}/{}", "a".repeat(255), "b".repeat(255));
        assert!(ObjectKey::new(long_ok).is_ok());
    }

    #[test]
    fn rejects_escapes_and_oddities() {
        let too_long = "a/".repeat(600);
        let long_segment = "s".repeat(256);
        for key in [
            "",
            "/",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            "./a",
            "a/./b",
            "a//b",
            "a/",
            "a\0b",
            "a\nb",
            "a\\..\\b",
            too_long.as_str(),
            long_segment.as_str(),
        ] {
            match ObjectKey::new(key) {
                Err(Error::InvalidKey { .. }) => {}
                other => panic!("{key:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn prefixes_may_end_open() {
        for p in ["", "a", "a/", "a/b", "a/b/", "a/b/c1"] {
            assert!(validate_prefix(p).is_ok(), "{p}");
        }
        for p in ["/", "/a", "../", "a/../", "a//", "a\0"] {
            assert!(validate_prefix(p).is_err(), "{p}");
        }
    }
}
