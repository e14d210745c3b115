//! The [`ObjectStore`] trait: the seam every backend and every layer implements.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::key::ObjectKey;
use crate::types::{
    ByteRange, ByteStream, Capabilities, ListPage, ObjectMeta, ObjectReader, PageToken, PutOptions,
    PutOutcome, VersionId, VersionInfo,
};

/// An asynchronous key-value store of immutable-ish byte objects: S3's model, reduced to what
/// a backup repository needs.
///
/// Every backend passes the same conformance suite (`coffer_store::conformance`, behind the
/// `conformance` feature), so the semantics below hold for all of them:
///
/// - Writes are atomic: a reader sees the old object or the whole new one, never a part, and a
///   write that fails (including a streaming write whose input stream fails) leaves nothing.
/// - [`PutMode::CreateOnly`](crate::PutMode::CreateOnly) is a true precondition: of concurrent
///   create-only writers to one key, exactly one succeeds; the others get
///   [`Error::AlreadyExists`].
/// - Listings are flat (no delimiter), ordered by the bytes of the key, and paginated.
/// - `delete` is idempotent: deleting a missing key succeeds. On a versioned store it adds a
///   delete marker; [`delete_version`](ObjectStore::delete_version) removes a version for good
///   and is refused while a retention or a legal hold protects it.
/// - Operations a backend cannot honor fail with [`Error::Unsupported`]; nothing is silently
///   downgraded (a write asking for a retention on a store without object lock is refused).
#[async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// A short name for the backend, used in errors (`"memory"`, `"local-fs"`, `"s3"`).
    fn backend(&self) -> &'static str;

    /// What this store offers beyond the basic operations.
    fn capabilities(&self) -> Capabilities;

    /// Writes `data` under `key`.
    async fn put(&self, key: &ObjectKey, data: Bytes, options: &PutOptions) -> Result<PutOutcome>;

    /// Writes the chunks of `data` under `key` without holding the whole object in memory.
    ///
    /// If `data` yields an error, the write is abandoned, nothing becomes visible and that
    /// error is returned.
    async fn put_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: &PutOptions,
    ) -> Result<PutOutcome>;

    /// Reads the whole current version of `key`.
    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let reader = self.get_stream(key).await?;
        let capacity = usize::try_from(reader.meta.size).unwrap_or(0);
        let mut out = BytesMut::with_capacity(capacity);
        let mut stream = reader.stream;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }

    /// Opens the current version of `key` for a streaming read.
    async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader>;

    /// Reads `range` of the current version of `key`.
    async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes>;

    /// The metadata of the current version of `key`.
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta>;

    /// One page of the keys starting with `prefix` (validated with
    /// [`validate_prefix`](crate::validate_prefix)), continuing after `token`.
    async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage>;

    /// Every object whose key starts with `prefix`, fetched page by page as the stream is
    /// consumed.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
        list_by_pages(self, prefix)
    }

    /// Deletes the current version of `key` (idempotent; a delete marker on versioned stores).
    async fn delete(&self, key: &ObjectKey) -> Result<()>;

    /// Every version of `key`, newest first, delete markers included.
    async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<VersionInfo>>;

    /// Reads one version of `key`.
    async fn get_version(&self, key: &ObjectKey, version: &VersionId) -> Result<Bytes>;

    /// Removes one version of `key` for good; refused with [`Error::PermissionDenied`] while
    /// a retention or legal hold protects it.
    async fn delete_version(&self, key: &ObjectKey, version: &VersionId) -> Result<()>;

    /// Places (`on = true`) or releases a legal hold on one version of `key`.
    async fn set_legal_hold(&self, key: &ObjectKey, version: &VersionId, on: bool) -> Result<()>;
}

/// The default [`ObjectStore::list`]: a stream that asks for the next page when the previous
/// one is used up. Layers that forward `list_page` get a correct `list` from it.
pub fn list_by_pages<'a, S: ObjectStore + ?Sized>(
    store: &'a S,
    prefix: &'a str,
) -> BoxStream<'a, Result<ObjectMeta>> {
    enum State {
        Start,
        After(PageToken),
        Done,
    }
    futures::stream::unfold(State::Start, move |state| async move {
        let token = match state {
            State::Start => None,
            State::After(token) => Some(token),
            State::Done => return None,
        };
        match store.list_page(prefix, token.as_ref()).await {
            Ok(page) => {
                let next = match page.next {
                    Some(token) => State::After(token),
                    None => State::Done,
                };
                Some((
                    futures::stream::iter(page.objects.into_iter().map(Ok)).boxed(),
                    next,
                ))
            }
            Err(err) => Some((
                futures::stream::once(async { Err(err) }).boxed(),
                State::Done,
            )),
        }
    })
    .flatten()
    .boxed()
}

/// Collects a byte stream into one buffer (for backends that must see the whole object).
pub(crate) async fn collect_stream(mut data: ByteStream) -> Result<Bytes> {
    let mut out = BytesMut::new();
    while let Some(chunk) = data.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.freeze())
}

/// The error every backend returns for a version operation it does not have.
pub(crate) fn unsupported(backend: &'static str, operation: &'static str) -> Error {
    Error::Unsupported { backend, operation }
}

macro_rules! forward_object_store {
    ($target:ty) => {
        #[async_trait]
        impl<T: ObjectStore + ?Sized> ObjectStore for $target {
            fn backend(&self) -> &'static str {
                (**self).backend()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            async fn put(
                &self,
                key: &ObjectKey,
                data: Bytes,
                options: &PutOptions,
            ) -> Result<PutOutcome> {
                (**self).put(key, data, options).await
            }
            async fn put_stream(
                &self,
                key: &ObjectKey,
                data: ByteStream,
                options: &PutOptions,
            ) -> Result<PutOutcome> {
                (**self).put_stream(key, data, options).await
            }
            async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
                (**self).get(key).await
            }
            async fn get_stream(&self, key: &ObjectKey) -> Result<ObjectReader> {
                (**self).get_stream(key).await
            }
            async fn get_range(&self, key: &ObjectKey, range: ByteRange) -> Result<Bytes> {
                (**self).get_range(key, range).await
            }
            async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
                (**self).head(key).await
            }
            async fn list_page(&self, prefix: &str, token: Option<&PageToken>) -> Result<ListPage> {
                (**self).list_page(prefix, token).await
            }
            fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta>> {
                (**self).list(prefix)
            }
            async fn delete(&self, key: &ObjectKey) -> Result<()> {
                (**self).delete(key).await
            }
            async fn list_versions(&self, key: &ObjectKey) -> Result<Vec<VersionInfo>> {
                (**self).list_versions(key).await
            }
            async fn get_version(&self, key: &ObjectKey, version: &VersionId) -> Result<Bytes> {
                (**self).get_version(key, version).await
            }
            async fn delete_version(&self, key: &ObjectKey, version: &VersionId) -> Result<()> {
                (**self).delete_version(key, version).await
            }
            async fn set_legal_hold(
                &self,
                key: &ObjectKey,
                version: &VersionId,
                on: bool,
            ) -> Result<()> {
                (**self).set_legal_hold(key, version, on).await
            }
        }
    };
}

// Shared and boxed stores, and borrowed ones, are stores too, so layers can wrap
// `Arc<dyn ObjectStore>` as easily as a concrete backend.
forward_object_store!(Arc<T>);
forward_object_store!(Box<T>);
forward_object_store!(&T);
