//! Where signed checkpoints are kept: a store separate from the primary log.
//!
//! A checkpoint held apart from the log is what turns "the log hashes to this root" into
//! "the log is the one that was signed": whoever can rewrite the log cannot also rewrite the
//! checkpoints, so recomputing the log or cutting its tail shows. Writes are create-only.
//!
//! Two implementations live here: [`DirCheckpointStore`] (create-only files in a directory)
//! and [`MemoryCheckpointStore`]. The adapter over `coffer_store::ObjectStore` (S3 with object
//! lock in compliance mode, so not even the bucket owner can delete a checkpoint before its
//! retention date) is `coffer_engine::audit_trail::StoreCheckpoints`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::Error;

/// A create-only store of signed checkpoints keyed by tree size.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// Stores the signed checkpoint for `size`. Fails with [`Error::AlreadyExists`] if one is
    /// already there: a checkpoint is never replaced.
    async fn put(&self, size: u64, note: &[u8]) -> Result<(), Error>;
    /// The checkpoint for `size`, if any.
    async fn get(&self, size: u64) -> Result<Option<Vec<u8>>, Error>;
    /// Every stored size, ascending.
    async fn list(&self) -> Result<Vec<u64>, Error>;
}

/// Every checkpoint of a store, ascending by size.
pub async fn load_all(store: &dyn CheckpointStore) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    for size in store.list().await? {
        if let Some(note) = store.get(size).await? {
            out.push((size, note));
        }
    }
    Ok(out)
}

/// Checkpoints in memory.
#[derive(Debug, Default)]
pub struct MemoryCheckpointStore {
    map: Mutex<BTreeMap<u64, Vec<u8>>>,
}

impl MemoryCheckpointStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Vec<u8>>> {
        // Every operation is a single map call, so a poisoned lock still guards consistent data.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl CheckpointStore for MemoryCheckpointStore {
    async fn put(&self, size: u64, note: &[u8]) -> Result<(), Error> {
        let mut map = self.lock();
        if map.contains_key(&size) {
            return Err(Error::AlreadyExists(format!("checkpoint at size {size}")));
        }
        map.insert(size, note.to_vec());
        Ok(())
    }

    async fn get(&self, size: u64) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.lock().get(&size).cloned())
    }

    async fn list(&self) -> Result<Vec<u64>, Error> {
        Ok(self.lock().keys().copied().collect())
    }
}

/// Checkpoints as files `<size, 20 digits>.checkpoint` in a directory, created with
/// `O_EXCL` so an existing checkpoint cannot be overwritten through this store, and synced
/// (file and directory) before `put` returns.
#[derive(Debug, Clone)]
pub struct DirCheckpointStore {
    dir: PathBuf,
}

/// The file name of the checkpoint for `size` in a [`DirCheckpointStore`].
pub fn checkpoint_file_name(size: u64) -> String {
    format!("{size:020}.checkpoint")
}

/// Parses a [`checkpoint_file_name`].
pub fn parse_checkpoint_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".checkpoint")?;
    (digits.len() == 20 && digits.bytes().all(|c| c.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

impl DirCheckpointStore {
    /// A store in `dir`, created if missing.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io("create checkpoint directory", e))?;
        Ok(Self { dir })
    }
}

#[async_trait]
impl CheckpointStore for DirCheckpointStore {
    async fn put(&self, size: u64, note: &[u8]) -> Result<(), Error> {
        let path = self.dir.join(checkpoint_file_name(size));
        crate::fsutil::create_new_durable(&self.dir, &path, note)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    Error::AlreadyExists(format!("checkpoint at size {size}"))
                }
                _ => Error::io("write checkpoint", e),
            })
    }

    async fn get(&self, size: u64) -> Result<Option<Vec<u8>>, Error> {
        match tokio::fs::read(self.dir.join(checkpoint_file_name(size))).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read checkpoint", e)),
        }
    }

    async fn list(&self) -> Result<Vec<u64>, Error> {
        let mut sizes: Vec<u64> = crate::fsutil::list_names(&self.dir)
            .await
            .map_err(|e| Error::io("list checkpoints", e))?
            .iter()
            .filter_map(|n| parse_checkpoint_file_name(n))
            .collect();
        sizes.sort_unstable();
        Ok(sizes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn conformance(store: &dyn CheckpointStore) {
        assert!(store.list().await.unwrap().is_empty());
        store.put(1000, b"first").await.unwrap();
        store.put(10, b"earlier").await.unwrap();
        assert!(matches!(
            store.put(1000, b"forged").await,
            Err(Error::AlreadyExists(_))
        ));
        assert_eq!(store.get(1000).await.unwrap().unwrap(), b"first");
        assert_eq!(store.get(5).await.unwrap(), None);
        assert_eq!(
            load_all(store).await.unwrap(),
            vec![(10, b"earlier".to_vec()), (1000, b"first".to_vec())]
        );
    }

    #[tokio::test]
    async fn memory_store_conforms() {
        conformance(&MemoryCheckpointStore::new()).await;
    }

    #[tokio::test]
    async fn directory_store_conforms_and_ignores_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("README"), b"not a checkpoint").unwrap();
        conformance(&DirCheckpointStore::open(dir.path()).await.unwrap()).await;
        assert_eq!(
            parse_checkpoint_file_name("00000000000000001000.checkpoint"),
            Some(1000)
        );
        assert_eq!(parse_checkpoint_file_name("1000.checkpoint"), None);
    }
}
