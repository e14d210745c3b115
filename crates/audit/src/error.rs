//! The crate's error type.

use crate::event::FieldError;
use crate::merkle::ProofError;

/// Everything that can go wrong in `coffer-audit`, in the audit domain's words.
///
/// Verification results are not errors: the verifier returns a
/// [`Report`](crate::verify::Report) that names the first bad entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An event could not be recorded because a field breaks the schema.
    #[error("invalid audit event: {0}")]
    InvalidEvent(#[from] FieldError),
    /// A log line is not a canonical event.
    #[error("malformed log entry {index}: {source}")]
    MalformedEntry {
        /// Zero-based line number in the log.
        index: u64,
        /// What was wrong.
        source: crate::event::ParseError,
    },
    /// A checkpoint (signed note) is malformed or does not verify.
    #[error("checkpoint rejected: {0}")]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// A key given to the crate is unusable.
    #[error("bad key: {0}")]
    BadKey(String),
    /// A Merkle proof could not be produced or did not verify.
    #[error("proof failed: {0}")]
    Proof(#[from] ProofError),
    /// A stored opening of personal data is malformed.
    #[error("malformed personal-data payload: {0}")]
    MalformedPayload(String),
    /// A create-only write found something already there.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// An audit sink could not make a batch durable. The caller must treat the audited
    /// action as refused (fail closed).
    #[error("audit sink {sink} failed: {reason}")]
    SinkFailed {
        /// The sink's name.
        sink: String,
        /// Why.
        reason: String,
    },
    /// A sink hit an error it could not roll back and refuses every further write.
    #[error("audit sink {0} is poisoned by an earlier failure and accepts no more writes")]
    SinkPoisoned(String),
    /// Not enough sinks of a fan-out accepted the batch.
    #[error("no audit sink accepted the batch ({})", .0.join("; "))]
    AllSinksFailed(Vec<String>),
    /// The log's content does not continue where the writer expects (a sink out of step).
    #[error("log out of sequence: expected event {expected}, got {got}")]
    OutOfSequence {
        /// The sequence number the sink expected next.
        expected: u64,
        /// The one it was given.
        got: u64,
    },
    /// The stored log or its checkpoints do not verify; the log is not resumed or exported.
    #[error("audit log does not verify: {0}")]
    Tampered(crate::verify::Failure),
    /// An operation names an event the log does not have.
    #[error("no audit event {0}")]
    UnknownEvent(u64),
    /// The log was shut down; nothing more can be recorded.
    #[error("the audit log is closed")]
    Closed,
    /// An export could not be produced or parsed.
    #[error("export: {0}")]
    Export(String),
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A SQL sink operation failed.
    #[error("SQL sink: {0}")]
    Sql(String),
    /// The operating system's random source failed.
    #[error("random source unavailable: {0}")]
    Random(String),
}

impl Error {
    pub(crate) fn io(context: &'static str, source: std::io::Error) -> Self {
        Self::Io { context, source }
    }
}
