//! Where log lines go: the [`AuditSink`] trait, a segmented file sink and a fan-out.
//!
//! A sink receives batches of canonical lines in sequence order and must make each batch
//! durable before `append` returns. The log writer fails closed on a sink error: the caller
//! must refuse the audited action.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::Error;

/// A batch of consecutive log entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogBatch {
    first_seq: u64,
    /// Each entry's canonical bytes, without the newline.
    entries: Vec<Vec<u8>>,
}

impl LogBatch {
    /// An empty batch whose first entry will be `first_seq`.
    pub fn new(first_seq: u64) -> Self {
        Self {
            first_seq,
            entries: Vec::new(),
        }
    }

    /// Appends the next entry's canonical bytes.
    pub fn push(&mut self, canonical: Vec<u8>) {
        self.entries.push(canonical);
    }

    /// Sequence number of the first entry.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `(seq, canonical bytes)` of each entry.
    pub fn entries(&self) -> impl Iterator<Item = (u64, &[u8])> {
        (self.first_seq..).zip(self.entries.iter().map(Vec::as_slice))
    }

    /// The batch as log-file bytes: each entry followed by `\n`.
    pub fn to_lines(&self) -> Vec<u8> {
        let total: usize = self.entries.iter().map(|e| e.len() + 1).sum();
        let mut out = Vec::with_capacity(total);
        for e in &self.entries {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        out
    }
}

/// A durable destination for log entries.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// A short name for error messages.
    fn name(&self) -> &str;

    /// Makes `batch` durable. Batches arrive in sequence order without gaps; a sink rejects
    /// one that does not continue where it stands ([`Error::OutOfSequence`]).
    async fn append(&self, batch: &LogBatch) -> Result<(), Error>;

    /// The whole log as stored: canonical lines each ending in `\n`, in sequence order.
    async fn read_log(&self) -> Result<Vec<u8>, Error>;
}

/// Settings of a [`FileSink`].
#[derive(Debug, Clone, Copy)]
pub struct FileSinkOptions {
    /// Start a new segment once the current one holds this many entries.
    pub entries_per_segment: u64,
}

impl Default for FileSinkOptions {
    fn default() -> Self {
        Self {
            entries_per_segment: 1_000_000,
        }
    }
}

/// The file name of the segment whose first entry is `first_seq`.
pub fn segment_file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.log")
}

/// Parses a [`segment_file_name`].
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    (digits.len() == 20 && digits.bytes().all(|c| c.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

struct Segment {
    file: tokio::fs::File,
    entries: u64,
    len: u64,
}

struct FileState {
    next_seq: u64,
    current: Option<Segment>,
    poisoned: bool,
}

/// Appends to segment files `<first seq, 20 digits>.log` in a directory; one `write` and
/// one `fsync` per batch.
///
/// On a failed write the segment is truncated back to its length before the batch; if that
/// also fails the sink is poisoned and refuses every later batch, so a half-written batch is
/// never followed by more entries.
pub struct FileSink {
    dir: PathBuf,
    name: String,
    options: FileSinkOptions,
    state: Mutex<FileState>,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The segment files of `dir`, ascending by first sequence number.
pub(crate) fn list_segments_sync(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_segment_file_name) {
            out.push((first, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(first, _)| *first);
    Ok(out)
}

/// Reads a segmented log directory (blocking): the concatenation of its segments in order.
/// The verifier then checks that sequence numbers run on across segment boundaries.
pub fn read_log_dir(dir: &Path) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for (_, path) in list_segments_sync(dir).map_err(|e| Error::io("list log segments", e))? {
        let bytes = std::fs::read(&path).map_err(|e| Error::io("read log segment", e))?;
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

impl FileSink {
    /// Opens (creating if needed) a log directory and positions at its end.
    ///
    /// A final line without its newline is a batch that never finished its `fsync`, so it was
    /// never acknowledged: it is cut off. Every complete line stays.
    pub async fn open(dir: impl Into<PathBuf>, options: FileSinkOptions) -> Result<Self, Error> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io("create log directory", e))?;
        let listing = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || list_segments_sync(&dir))
                .await
                .map_err(|e| Error::io("list log segments", std::io::Error::other(e)))?
                .map_err(|e| Error::io("list log segments", e))?
        };
        let mut state = FileState {
            next_seq: 0,
            current: None,
            poisoned: false,
        };
        if let Some((first_seq, path)) = listing.last() {
            let bytes = tokio::fs::read(path)
                .await
                .map_err(|e| Error::io("read last log segment", e))?;
            let complete = bytes.iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
            let entries = bytes[..complete].iter().filter(|&&c| c == b'\n').count() as u64;
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .await
                .map_err(|e| Error::io("open last log segment", e))?;
            if complete < bytes.len() {
                file.set_len(complete as u64)
                    .await
                    .map_err(|e| Error::io("cut torn log line", e))?;
                file.sync_all()
                    .await
                    .map_err(|e| Error::io("sync log segment", e))?;
            }
            file.seek(std::io::SeekFrom::Start(complete as u64))
                .await
                .map_err(|e| Error::io("seek log segment", e))?;
            state.next_seq = first_seq + entries;
            state.current = Some(Segment {
                file,
                entries,
                len: complete as u64,
            });
        }
        Ok(Self {
            name: format!("file:{}", dir.display()),
            dir,
            options,
            state: Mutex::new(state),
        })
    }

    /// The next sequence number this sink expects.
    pub async fn next_seq(&self) -> u64 {
        self.state.lock().await.next_seq
    }

    async fn new_segment(&self, first_seq: u64) -> Result<Segment, Error> {
        let path = self.dir.join(segment_file_name(first_seq));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| Error::io("create log segment", e))?;
        crate::fsutil::sync_dir(&self.dir)
            .await
            .map_err(|e| Error::io("sync log directory", e))?;
        Ok(Segment {
            file,
            entries: 0,
            len: 0,
        })
    }
}

#[async_trait]
impl AuditSink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn append(&self, batch: &LogBatch) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        if state.poisoned {
            return Err(Error::SinkPoisoned(self.name.clone()));
        }
        if batch.first_seq() != state.next_seq {
            return Err(Error::OutOfSequence {
                expected: state.next_seq,
                got: batch.first_seq(),
            });
        }
        if batch.is_empty() {
            return Ok(());
        }
        let roll = state
            .current
            .as_ref()
            .is_none_or(|s| s.entries >= self.options.entries_per_segment);
        if roll {
            // The old segment was synced with its last batch; dropping it closes it.
            state.current = Some(self.new_segment(batch.first_seq()).await?);
        }
        let bytes = batch.to_lines();
        let Some(segment) = state.current.as_mut() else {
            return Err(Error::SinkFailed {
                sink: self.name.clone(),
                reason: "no open segment".into(),
            });
        };
        let before = segment.len;
        let written = async {
            segment.file.write_all(&bytes).await?;
            segment.file.sync_data().await
        }
        .await;
        match written {
            Ok(()) => {
                segment.len += bytes.len() as u64;
                segment.entries += batch.len() as u64;
                state.next_seq += batch.len() as u64;
                Ok(())
            }
            Err(e) => {
                let rolled_back = async {
                    segment.file.set_len(before).await?;
                    segment.file.seek(std::io::SeekFrom::Start(before)).await?;
                    segment.file.sync_data().await
                }
                .await;
                if rolled_back.is_err() {
                    state.poisoned = true;
                }
                Err(Error::SinkFailed {
                    sink: self.name.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }

    async fn read_log(&self) -> Result<Vec<u8>, Error> {
        // Hold the lock so no batch is half-visible.
        let _state = self.state.lock().await;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || read_log_dir(&dir))
            .await
            .map_err(|e| Error::io("read log", std::io::Error::other(e)))?
    }
}

/// How many sinks of a [`FanOut`] must accept a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FanOutPolicy {
    /// Every sink (the strict choice: a sink that missed a batch is out of step for good).
    All,
    /// At least one sink; the others' failures are tolerated. The action is refused only if
    /// no sink could write.
    AtLeastOne,
}

/// Writes every batch to several sinks.
pub struct FanOut {
    sinks: Vec<Arc<dyn AuditSink>>,
    policy: FanOutPolicy,
}

impl std::fmt::Debug for FanOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        f.debug_struct("FanOut")
            .field("sinks", &names)
            .field("policy", &self.policy)
            .finish()
    }
}

impl FanOut {
    /// A fan-out over `sinks` (reads come from the first that answers).
    pub fn new(sinks: Vec<Arc<dyn AuditSink>>, policy: FanOutPolicy) -> Self {
        Self { sinks, policy }
    }
}

#[async_trait]
impl AuditSink for FanOut {
    fn name(&self) -> &str {
        "fan-out"
    }

    async fn append(&self, batch: &LogBatch) -> Result<(), Error> {
        let mut failures = Vec::new();
        for sink in &self.sinks {
            if let Err(e) = sink.append(batch).await {
                failures.push(format!("{}: {e}", sink.name()));
            }
        }
        let accepted = self.sinks.len() - failures.len();
        let ok = match self.policy {
            FanOutPolicy::All => failures.is_empty() && accepted > 0,
            FanOutPolicy::AtLeastOne => accepted > 0,
        };
        if ok {
            Ok(())
        } else if failures.is_empty() {
            Err(Error::AllSinksFailed(vec!["no sinks configured".into()]))
        } else {
            Err(Error::AllSinksFailed(failures))
        }
    }

    async fn read_log(&self) -> Result<Vec<u8>, Error> {
        let mut failures = Vec::new();
        for sink in &self.sinks {
            match sink.read_log().await {
                Ok(log) => return Ok(log),
                Err(e) => failures.push(format!("{}: {e}", sink.name())),
            }
        }
        Err(Error::AllSinksFailed(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(first: u64, n: u64) -> LogBatch {
        let mut b = LogBatch::new(first);
        for i in first..first + n {
            b.push(format!("entry-{i}").into_bytes());
        }
        b
    }

    #[tokio::test]
    async fn file_sink_segments_reopens_and_cuts_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let options = FileSinkOptions {
            entries_per_segment: 3,
        };
        let sink = FileSink::open(dir.path(), options).await.unwrap();
        sink.append(&batch(0, 2)).await.unwrap();
        sink.append(&batch(2, 2)).await.unwrap();
        sink.append(&batch(4, 1)).await.unwrap();
        assert!(matches!(
            sink.append(&batch(9, 1)).await,
            Err(Error::OutOfSequence {
                expected: 5,
                got: 9
            })
        ));
        let names: Vec<u64> = list_segments_sync(dir.path())
            .unwrap()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(names, vec![0, 4]);
        let expected: Vec<u8> = (0..5)
            .flat_map(|i| format!("entry-{i}\n").into_bytes())
            .collect();
        assert_eq!(sink.read_log().await.unwrap(), expected);
        drop(sink);

        // A crash mid-batch leaves a line without its newline.
        let last = dir.path().join(segment_file_name(4));
        let mut torn = std::fs::read(&last).unwrap();
        torn.extend_from_slice(b"entry-5 half");
        std::fs::write(&last, torn).unwrap();
        let sink = FileSink::open(dir.path(), options).await.unwrap();
        assert_eq!(sink.next_seq().await, 5);
        sink.append(&batch(5, 1)).await.unwrap();
        let mut expected = expected;
        expected.extend_from_slice(b"entry-5\n");
        assert_eq!(sink.read_log().await.unwrap(), expected);
    }

    struct Broken;

    #[async_trait]
    impl AuditSink for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        async fn append(&self, _: &LogBatch) -> Result<(), Error> {
            Err(Error::SinkFailed {
                sink: "broken".into(),
                reason: "disk on fire".into(),
            })
        }
        async fn read_log(&self) -> Result<Vec<u8>, Error> {
            Err(Error::SinkFailed {
                sink: "broken".into(),
                reason: "disk on fire".into(),
            })
        }
    }

    #[tokio::test]
    async fn fan_out_policies() {
        let dir = tempfile::tempdir().unwrap();
        let good: Arc<dyn AuditSink> = Arc::new(
            FileSink::open(dir.path(), FileSinkOptions::default())
                .await
                .unwrap(),
        );
        let broken: Arc<dyn AuditSink> = Arc::new(Broken);

        let lenient = FanOut::new(vec![broken.clone(), good.clone()], FanOutPolicy::AtLeastOne);
        lenient.append(&batch(0, 1)).await.unwrap();
        assert_eq!(lenient.read_log().await.unwrap(), b"entry-0\n");

        let strict = FanOut::new(vec![good.clone(), broken.clone()], FanOutPolicy::All);
        assert!(matches!(
            strict.append(&batch(1, 1)).await,
            Err(Error::AllSinksFailed(_))
        ));

        let none = FanOut::new(vec![broken.clone()], FanOutPolicy::AtLeastOne);
        let err = none.append(&batch(2, 1)).await.unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
        let empty = FanOut::new(Vec::new(), FanOutPolicy::AtLeastOne);
        assert!(empty.append(&batch(0, 1)).await.is_err());
    }
}
