//! Small durable-file helpers shared by the directory-backed stores and the file sink.

use std::io;
use std::path::Path;

use tokio::io::AsyncWriteExt;

/// Writes `bytes` to a new file at `path` (failing with `AlreadyExists` if it exists), syncs
/// the file, then syncs the directory so the new name itself survives a crash.
pub(crate) async fn create_new_durable(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await?;
    let written = async {
        file.write_all(bytes).await?;
        file.sync_all().await
    }
    .await;
    if let Err(e) = written {
        // Leave no half-written file behind to block a retry.
        drop(file);
        let _ = tokio::fs::remove_file(path).await;
        return Err(e);
    }
    sync_dir(dir).await
}

/// Syncs a directory's entries to stable storage.
pub(crate) async fn sync_dir(dir: &Path) -> io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

/// The UTF-8 names of the entries of `dir`.
pub(crate) async fn list_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut entries = tokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        if let Ok(name) = entry.file_name().into_string() {
            out.push(name);
        }
    }
    Ok(out)
}
