//! `Prefixed`: a store seen through one folder of another (`s3://bucket/prefix`).

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Result};
use crate::key::{ObjectKey, validate_prefix};
use crate::object_store::ObjectStore;
use crate::types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutOptions,
    PutOutcome, VersionId, VersionInfo,
};

/// Wraps a store so that every key lives under a fixed root folder: key `k` is stored as
/// `root/k`, listings see only what is under `root/` and report keys without it.
///
/// This is how a repository shares a bucket with other data (`s3://bucket/prefix`).
/// - The root is validated as a key (no empty, `.` or `..` segments, no leading `/`), so a
///   prefixed store cannot reach outside its folder, and two roots where one is a string
///   prefix of the other (`a` and `ab`) never see each other's keys: the separator is part of
///   the mapping.
/// - A key that is valid on its own but too long once the root is added is refused with
///   [`Error::InvalidKey`] naming the full key, before the inner store is called.
/// - Errors name keys as the caller knows them, without the root.
#[derive(Debug, Clone)]
pub struct Prefixed<S> {
    inner: S,
    /// The root with its trailing `/`.
    root: String,
}

impl<S: ObjectStore> Prefixed<S> {
    /// Wraps `inner` so that every key lives under `root` (one or more key segments, no leading
    /// or trailing `/`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when `root` is not a valid key.
    pub fn new(inner: S, root: &str) -> Result<Self> {
        let root = ObjectKey::new(root)?;
        Ok(Prefixed {
            inner,
            root: format!("{}/", root.as_str()),
        })
    }

    /// The root folder, without its trailing `/`.
    pub fn root(&self) -> &str {
        self.root.trim_end_matches('/')
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn outer_to_inner(&self, key: &ObjectKey) -> Result<ObjectKey> {
        ObjectKey::new(format!("{}{}", self.root, key.as_str()))
    }

    fn inner_to_outer(&self, key: &ObjectKey) -> Result<ObjectKey> {
        match key.as_str().strip_prefix(&self.root) {
            Some(rest) => ObjectKey::new(rest),
            // The inner store answered for a key outside the root it was asked about: a
            // backend bug, reported rather than passed on as someone else's key.
            None => Err(Error::InvalidKey {
                key: key.as_str().to_owned(),
                reason: "listed outside the store's root folder",
            }),
        }
    }

    /// Renames the key an error names back to the caller's view of it.
    fn outer_error(&self, mut error: Error) -> Error {
        if let Some(key) = error.key_mut()
            && let Some(rest) = key.strip_prefix(&self.root)
        {
            *key = rest.to_owned();
        }
        error
    }

    fn meta_to_outer(&self, mut meta: ObjectMeta) -> Result<ObjectMeta> {
        meta.key = self.inner_to_outer(&meta.key)?;
        Ok(meta)
    }
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for Prefixed<S> {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome> {
        self.inner
            .put(&self.outer_to_inner(key)?, data, options)
            .await
            .map_err(|e| self.outer_error(e))
    }

    async fn put_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome> {
        self.inner
            .put_stream(&self.outer_to_inner(key)?, data, options)
            .await
            .map_err(|e| self.outer_error(e))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        self.inner
            .get(&self.outer_to_inner(key)?)
            .await
            .map_err(|e| self.outer_error(e))
    }

    async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader> {
        let mut reader = self
            .inner
            .get_stream(&self.outer_to_inner(key)?)
            .await
            .map_err(|e| self.outer_error(e))?;
        reader.meta = self.meta_to_outer(reader.meta)?;
        Ok(reader)
    }

    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
        self.inner
            .get_range(&self.outer_to_inner(key)?, range)
            .await
            .map_err(|e| self.outer_error(e))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let meta = self
            .inner
            .head(&self.outer_to_inner(key)?)
            .await
            .map_err(|e| self.outer_error(e))?;
        self.meta_to_outer(meta)
    }

    async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage> {
        // Validate the caller's prefix on its own: `root/` + `/x` must not become a valid
        // inner prefix by accident, nor `..` climb out of the root.
        validate_prefix(prefix)?;
        let page = self
            .inner
            .list_page(&format!("{}{prefix}", self.root), token)
            .await
            .map_err(|e| self.outer_error(e))?;
        Ok(ListPage {
            objects: page
                .objects
                .into_iter()
                .map(|meta| self.meta_to_outer(meta))
                .collect::<Result<_>>()?,
            next: page.next,
        })
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.inner
            .delete(&self.outer_to_inner(key)?)
            .await
            .map_err(|e| self.outer_error(e))
    }

    async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<VersionInfo>> {
        self.inner
            .list_versions(&self.outer_to_inner(key)?)
            .await
            .map_err(|e| self.outer_error(e))
    }

    async fn get_version(&self, key: &ObjectKey, version: &VersionId) -> Result<Bytes> {
        self.inner
            .get_version(&self.outer_to_inner(key)?, version)
            .await
            .map_err(|e| self.outer_error(e))
    }

    async fn delete_version(&self, key: &ObjectKey, version: &VersionId) -> Result<()> {
        self.inner
            .delete_version(&self.outer_to_inner(key)?, version)
            .await
            .map_err(|e| self.outer_error(e))
    }

    async fn set_legal_hold(&self, key: &ObjectKey, version: &VersionId, on: bool) -> Result<()> {
        self.inner
            .set_legal_hold(&self.outer_to_inner(key)?, version, on)
            .await
            .map_err(|e| self.outer_error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Memory;

    fn key(s: &str) -> ObjectKey {
        ObjectKey::new(s).unwrap()
    }

    #[test]
    fn roots_are_validated() {
        for bad in ["", "/abs", "a/", "a//b", "../up", "a/.."] {
            assert!(
                matches!(
                    Prefixed::new(Memory::new(), bad),
                    Err(Error::InvalidKey { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(Prefixed::new(Memory::new(), "a/b").unwrap().root(), "a/b");
    }

    #[tokio::test]
    async fn keys_map_under_the_root_and_back() {
        let inner = Memory::new();
        let store = Prefixed::new(&inner, "repos/acme").unwrap();
        store
            .put(
                &key("x/1"),
                Bytes::from_static(b"one"),
                &PutOptions::overwrite(),
            )
            .await
            .unwrap();
        assert_eq!(inner.get(&key("repos/acme/x/1")).await.unwrap(), "one");
        assert_eq!(store.head(&key("x/1")).await.unwrap().key, key("x/1"));
        let reader = store.get_stream(&key("x/1")).await.unwrap();
        assert_eq!(reader.meta.key, key("x/1"));

        // A sibling whose name extends the root is not inside it.
        inner
            .put(
                &key("repos/acme2/x/1"),
                Bytes::from_static(b"other"),
                &PutOptions::overwrite(),
            )
            .await
            .unwrap();
        let listed: Vec<_> = store
            .list_page("", None)
            .await
            .unwrap()
            .objects
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(listed, [key("x/1")]);
        assert!(matches!(
            store.list_page("../", None).await,
            Err(Error::InvalidKey { .. })
        ));
    }

    #[tokio::test]
    async fn a_key_too_long_with_the_root_is_refused_before_the_store() {
        let inner = Memory::new();
        let store = Prefixed::new(&inner, "root").unwrap();
        // A key of exactly the maximum length: valid alone, too long under `root/`.
        let mut long = String::new();
        while long.len() + 101 <= crate::MAX_KEY_LEN {
            if !long.is_empty() {
                long.push('/');
            }
            long.push_str(&"k".repeat(100));
        }
        long.push('/');
        long.push_str(&"k".repeat(crate::MAX_KEY_LEN - long.len()));
        let long = key(&long);
        let refused = store
            .put(&long, Bytes::from_static(b"x"), &PutOptions::overwrite())
            .await;
        assert!(matches!(refused, Err(Error::InvalidKey { .. })));
        assert!(inner.list_page("", None).await.unwrap().objects.is_empty());
    }
}
