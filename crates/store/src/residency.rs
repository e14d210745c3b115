//! `ResidencyLayer`: refuses writes to a store outside the regions the data is pinned to.

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::key::ObjectKey;
use crate::object_store::ObjectStore;
use crate::types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutOptions,
    PutOutcome, VersionId, VersionInfo,
};

/// A data-residency region name, such as `eu-central-1` or `eu`.
///
/// Lowercase ASCII letters, digits and `-`, 1 to 64 characters; input is lowercased, so
/// `EU-West-1` and `eu-west-1` are the same region.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(String);

impl Region {
    /// Validates and normalises a region name.
    pub fn new(name: impl AsRef<str>) -> Result<Self> {
        let name = name.as_ref().trim().to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Error::InvalidRegion { name });
        }
        Ok(Region(name))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({:?})", self.0)
    }
}

/// Wraps a store tagged with the region it lives in, and lets writes through only when that
/// region is one the data may be stored in.
///
/// - `put` and `put_stream` to a store outside the allowed regions fail with
///   [`Error::ResidencyViolation`] before anything reaches the inner store (a streaming
///   write's input is not even polled).
/// - An empty set of allowed regions allows nothing: residency fails closed.
/// - Reads, listings and deletes pass: they place no data in the region, and deleting data
///   that is somewhere it should not be must stay possible. Legal holds pass for the same
///   reason (they change retention, not location).
#[derive(Debug, Clone)]
pub struct ResidencyLayer<S> {
    inner: S,
    store_region: Region,
    allowed: BTreeSet<Region>,
}

impl<S: ObjectStore> ResidencyLayer<S> {
    /// Wraps `inner`, a store located in `store_region`, for data that may only be written
    /// to `allowed_regions`.
    pub fn new(
        inner: S,
        store_region: Region,
        allowed_regions: impl IntoIterator<Item = Region>,
    ) -> Self {
        ResidencyLayer {
            inner,
            store_region,
            allowed: allowed_regions.into_iter().collect(),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The region the store is tagged with.
    pub fn store_region(&self) -> &Region {
        &self.store_region
    }

    /// Whether writes through this layer are allowed.
    pub fn allows_writes(&self) -> bool {
        self.allowed.contains(&self.store_region)
    }

    fn check_write(&self) -> Result<()> {
        if self.allows_writes() {
            return Ok(());
        }
        let allowed = if self.allowed.is_empty() {
            "no region".to_owned()
        } else {
            self.allowed
                .iter()
                .map(Region::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Error::ResidencyViolation {
            store_region: self.store_region.to_string(),
            allowed,
        })
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for ResidencyLayer<S> {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome> {
        self.check_write()?;
        self.inner.put(key, data, options).await
    }

    async fn put_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        self.check_write()?;
        self.inner.put_stream(key, data, options).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        self.inner.get(key).await
    }

    async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader> {
        self.inner.get_stream(key).await
    }

    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
        self.inner.get_range(key, range).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        self.inner.head(key).await
    }

    async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage> {
        self.inner.list_page(prefix, token).await
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.inner.delete(key).await
    }

    async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<VersionInfo>> {
        self.inner.list_versions(key).await
    }

    async fn get_version(&self, key: &ObjectKey, version: &VersionId) -> Result<Bytes> {
        self.inner.get_version(key, version).await
    }

    async fn delete_version(&self, key: &ObjectKey, version: &VersionId) -> Result<()> {
        self.inner.delete_version(key, version).await
    }

    async fn set_legal_hold(&self, key: &ObjectKey, version: &VersionId, on: bool) -> Result<()> {
        self.inner.set_legal_hold(key, version, on).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_are_normalised_and_checked() {
        assert_eq!(Region::new(" EU-West-1 ").unwrap().as_str(), "eu-west-1");
        for bad in ["", "eu west", "eu/1", "é", &"a".repeat(65)] {
            assert!(Region::new(bad).is_err(), "{bad:?}");
        }
    }
}
