//! Who a key belongs to ([`OrgId`]) and what it may be used for ([`EncryptionContext`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest org id accepted.
pub const MAX_ORG_ID_LEN: usize = 64;

/// The id of a tenant that owns a key ring: a Salesforce org id (`00D...`) or any other
/// tenant name of 1-64 characters from `A-Z a-z 0-9 _ -`.
///
/// The character set is what makes an org id safe as one path segment of an object key
/// (`keyrings/<org>/...`) on every store backend, and unambiguous inside an encryption context.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    /// Validates `id`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if it is empty, longer than [`MAX_ORG_ID_LEN`] or has a
    /// character outside `A-Z a-z 0-9 _ -`.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if id.is_empty() || id.len() > MAX_ORG_ID_LEN || !id.chars().all(valid_char) {
            return Err(Error::InvalidArgument(format!(
                "org id {id:?} must be 1-{MAX_ORG_ID_LEN} characters of A-Z a-z 0-9 _ -"
            )));
        }
        Ok(OrgId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        OrgId::new(value)
    }
}

impl From<OrgId> for String {
    fn from(org: OrgId) -> String {
        org.0
    }
}

impl std::str::FromStr for OrgId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        OrgId::new(s)
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgId({:?})", self.0)
    }
}

/// Non-secret key-value pairs bound to a wrapped key: it unwraps only when the same pairs are
/// presented again.
///
/// Same model as AWS KMS's `EncryptionContext`: an unordered map of strings (kept sorted here,
/// so equal maps encode equally). For a data key, bind what the object *is*:
/// [`EncryptionContext::object`] makes the conventional `org`, `path`, `purpose` triple. The
/// pairs are not secret (AWS logs them in CloudTrail); never put record data in them.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// The context of a data key: `org`, object `path` and `purpose` (`pack`, `index`,
    /// `manifest`...).
    pub fn object(org: &OrgId, path: &str, purpose: &str) -> Self {
        Self::new()
            .with("org", org.as_str())
            .with("path", path)
            .with("purpose", purpose)
    }

    /// Adds (or replaces) one pair.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The canonical, unambiguous byte encoding used as AEAD associated data: the pair count,
    /// then each key and value, sorted by key, each as a big-endian `u32` length and its UTF-8
    /// bytes (`docs/format/keyring.md`). Length prefixes make `{"ab": "c"}` and `{"a": "bc"}`
    /// encode differently.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            4 + self
                .0
                .iter()
                .map(|(k, v)| 8 + k.len() + v.len())
                .sum::<usize>(),
        );
        self.write_canonical(&mut out);
        out
    }

    pub(crate) fn write_canonical(&self, out: &mut Vec<u8>) {
        put_len(out, self.0.len());
        for (key, value) in &self.0 {
            put_len(out, key.len());
            out.extend_from_slice(key.as_bytes());
            put_len(out, value.len());
            out.extend_from_slice(value.as_bytes());
        }
    }

    /// The pairs as a map (AWS KMS takes the context as one).
    #[cfg(feature = "aws-kms")]
    pub(crate) fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// Appends `len` as a big-endian `u32`. Lengths here are of in-memory strings; one past
/// `u32::MAX` cannot be a context anyone means, so it saturates rather than wraps (a saturated
/// length still differs from every honest encoding of a shorter string).
fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
}

impl fmt::Debug for EncryptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for EncryptionContext {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        EncryptionContext(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_are_path_safe() {
        assert!(OrgId::new("00D5g000004SAMPLE").is_ok());
        assert!(OrgId::new("tenant_7-eu").is_ok());
        for bad in ["", "a/b", "..", "a b", "é", &"x".repeat(65)] {
            assert!(
                matches!(OrgId::new(bad), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn canonical_encoding_is_unambiguous_and_order_free() {
        let a = EncryptionContext::new().with("ab", "c");
        let b = EncryptionContext::new().with("a", "bc");
        assert_ne!(a.canonical_bytes(), b.canonical_bytes());

        let x = EncryptionContext::new().with("k1", "v1").with("k2", "v2");
        let y = EncryptionContext::new().with("k2", "v2").with("k1", "v1");
        assert_eq!(x.canonical_bytes(), y.canonical_bytes());
        assert_eq!(
            EncryptionContext::new().with("k", "v").canonical_bytes(),
            [0, 0, 0, 1, 0, 0, 0, 1, b'k', 0, 0, 0, 1, b'v']
        );
    }

    #[test]
    fn object_context_names_org_path_and_purpose() {
        let org = OrgId::new("00D000000000001").unwrap();
        let ctx = EncryptionContext::object(&org, "packs/0001", "pack");
        assert_eq!(ctx.get("org"), Some("00D000000000001"));
        assert_eq!(ctx.get("path"), Some("packs/0001"));
        assert_eq!(ctx.get("purpose"), Some("pack"));
        assert_eq!(ctx.len(), 3);
    }
}
