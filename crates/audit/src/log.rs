//! The log writer: assigns sequence numbers and timestamps, commits to personal data, writes
//! batches to a sink (failing closed), and signs checkpoints every N entries, every T
//! seconds (via [`AuditLog::tick`]) and at shutdown.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::Error;
use crate::checkpoint::{Checkpoint, CheckpointSigner, NoteVerifier};
use crate::checkpoint_store::{CheckpointStore, load_all};
use crate::event::{ACTION_ERASURE, Actor, Event, MAX_ID_LEN, Outcome, Target, check_text};
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::pii::{Opening, PayloadStore};
use crate::sink::{AuditSink, LogBatch};
use crate::time::Timestamp;
use crate::verify::{Failure, Options, verify_log_state};

/// Source of the server time stamped on events.
pub trait Clock: Send + Sync {
    /// The current UTC time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// When to sign checkpoints.
#[derive(Debug, Clone, Copy)]
pub struct AuditConfig {
    /// Sign once this many entries are not yet covered by a checkpoint.
    pub checkpoint_every_entries: u64,
    /// Sign when this long has passed since the last checkpoint and entries are uncovered.
    pub checkpoint_interval: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every_entries: 1_000,
            checkpoint_interval: Duration::from_secs(60),
        }
    }
}

/// What the caller knows about an action; the log adds sequence number and time, and turns
/// the personal fields into commitments.
#[derive(Clone)]
pub struct EventDraft {
    /// Identity provider of the actor (`system` for the service itself).
    pub idp: String,
    /// The acting user's name (personal).
    pub user: Option<String>,
    /// Action name (`backup.start`, `key.destroy`, ...).
    pub action: String,
    /// What was acted upon.
    pub target: Target,
    /// Source IP of the request (personal); stored in canonical form.
    pub source_ip: Option<IpAddr>,
    /// How it ended.
    pub outcome: Outcome,
    /// Request id.
    pub request_id: Option<String>,
    /// Short, non-personal free text.
    pub detail: Option<String>,
}

impl std::fmt::Debug for EventDraft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventDraft")
            .field("idp", &self.idp)
            .field("user", &self.user.as_ref().map(|_| "<redacted>"))
            .field("action", &self.action)
            .field("target", &self.target)
            .field("source_ip", &self.source_ip.as_ref().map(|_| "<redacted>"))
            .field("outcome", &self.outcome)
            .field("request_id", &self.request_id)
            .field("detail", &self.detail)
            .finish()
    }
}

impl EventDraft {
    /// A system action with no user, target or source.
    pub fn new(action: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            idp: "system".into(),
            user: None,
            action: action.into(),
            target: Target::default(),
            source_ip: None,
            outcome,
            request_id: None,
            detail: None,
        }
    }

    /// Sets the actor.
    pub fn user(mut self, idp: impl Into<String>, user: impl Into<String>) -> Self {
        self.idp = idp.into();
        self.user = Some(user.into());
        self
    }

    /// Sets the source IP.
    pub fn source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(ip);
        self
    }

    /// Sets the target.
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// Sets the request id.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Sets the detail text.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// Proof that an event was made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The event's sequence number (its leaf index).
    pub seq: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
}

struct State {
    frontier: Frontier,
    last_ts: Timestamp,
    checkpointed: u64,
    last_checkpoint: Instant,
    closed: bool,
}

/// A tamper-evident audit log.
pub struct AuditLog {
    signer: CheckpointSigner,
    sink: Arc<dyn AuditSink>,
    checkpoints: Arc<dyn CheckpointStore>,
    payloads: Arc<dyn PayloadStore>,
    clock: Arc<dyn Clock>,
    config: AuditConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("origin", &self.signer.name())
            .field("sink", &self.sink.name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AuditLog`].
pub struct AuditLogBuilder {
    signer: CheckpointSigner,
    sink: Arc<dyn AuditSink>,
    checkpoints: Arc<dyn CheckpointStore>,
    payloads: Arc<dyn PayloadStore>,
    clock: Arc<dyn Clock>,
    config: AuditConfig,
}

impl AuditLogBuilder {
    /// Overrides the checkpoint policy.
    pub fn config(mut self, config: AuditConfig) -> Self {
        self.config = config;
        self
    }

    /// Overrides the clock (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Opens the log: reads what the sink holds, verifies it against the stored checkpoints,
    /// and signs a checkpoint for any entries a crash left unsigned.
    ///
    /// A log that does not verify is not resumed: [`Error::Tampered`] carries the verifier's
    /// finding, and appending to it would bury the evidence.
    pub async fn open(self) -> Result<AuditLog, Error> {
        let log = self.sink.read_log().await?;
        let notes: Vec<Vec<u8>> = load_all(self.checkpoints.as_ref())
            .await?
            .into_iter()
            .map(|(_, note)| note)
            .collect();
        let verifier = self.signer.verifier();
        let options = Options {
            allow_unanchored_tail: true,
        };
        let (report, frontier, last_ts) = verify_log_state(&log, &notes, &verifier, None, options);
        if let Some(failure) = report.failure {
            return Err(Error::Tampered(failure));
        }
        let checkpointed = report.latest_checkpoint.unwrap_or(0);
        let audit = AuditLog {
            signer: self.signer,
            sink: self.sink,
            checkpoints: self.checkpoints,
            payloads: self.payloads,
            clock: self.clock,
            config: self.config,
            state: Mutex::new(State {
                frontier,
                last_ts: last_ts.unwrap_or(Timestamp::EPOCH),
                checkpointed,
                last_checkpoint: Instant::now(),
                closed: false,
            }),
        };
        {
            let mut state = audit.state.lock().await;
            if state.frontier.size() > state.checkpointed {
                audit.write_checkpoint(&mut state).await?;
            }
        }
        Ok(audit)
    }
}

impl AuditLog {
    /// Starts building a log over a sink, a checkpoint store and a payload store. The
    /// signer's name is the log's origin.
    pub fn builder(
        signer: CheckpointSigner,
        sink: Arc<dyn AuditSink>,
        checkpoints: Arc<dyn CheckpointStore>,
        payloads: Arc<dyn PayloadStore>,
    ) -> AuditLogBuilder {
        AuditLogBuilder {
            signer,
            sink,
            checkpoints,
            payloads,
            clock: Arc::new(SystemClock),
            config: AuditConfig::default(),
        }
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// The verifier for this log's checkpoints (give it to third parties).
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// Number of entries.
    pub async fn size(&self) -> u64 {
        self.state.lock().await.frontier.size()
    }

    /// The sink the log writes to.
    pub fn sink(&self) -> &Arc<dyn AuditSink> {
        &self.sink
    }

    /// The checkpoint store.
    pub fn checkpoint_store(&self) -> &Arc<dyn CheckpointStore> {
        &self.checkpoints
    }

    /// The store of personal-data openings.
    pub fn payload_store(&self) -> &Arc<dyn PayloadStore> {
        &self.payloads
    }

    /// Records one event. On `Err` the event is not in the log (or, if only the checkpoint
    /// failed, is in the log but not yet signed): the caller must refuse the action.
    pub async fn record(&self, draft: EventDraft) -> Result<Receipt, Error> {
        let mut receipts = self.record_batch(vec![draft]).await?;
        receipts.pop().ok_or(Error::Closed)
    }

    /// Records several events with one sink write (one `fsync` for the file sink).
    pub async fn record_batch(&self, drafts: Vec<EventDraft>) -> Result<Vec<Receipt>, Error> {
        let mut state = self.state.lock().await;
        self.append_locked(&mut state, drafts).await
    }

    async fn append_locked(
        &self,
        state: &mut State,
        drafts: Vec<EventDraft>,
    ) -> Result<Vec<Receipt>, Error> {
        if state.closed {
            return Err(Error::Closed);
        }
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let ts = self.clock.now().max(state.last_ts);
        let first = state.frontier.size();
        let mut batch = LogBatch::new(first);
        let mut openings = Vec::new();
        let mut receipts = Vec::with_capacity(drafts.len());
        for (seq, draft) in (first..).zip(drafts) {
            if let Some(user) = &draft.user {
                check_text("actor.user", user, MAX_ID_LEN)?;
            }
            let opening = Opening::new(draft.user, draft.source_ip)?;
            let event = Event {
                seq,
                ts,
                actor: Actor {
                    idp: draft.idp,
                    user: opening.as_ref().and_then(Opening::user_commitment),
                },
                action: draft.action,
                target: draft.target,
                ip: opening.as_ref().and_then(Opening::ip_commitment),
                outcome: draft.outcome,
                request_id: draft.request_id,
                detail: draft.detail,
            };
            event.validate()?;
            let canonical = event.to_canonical();
            receipts.push(Receipt {
                seq,
                leaf_hash: leaf_hash(&canonical),
            });
            batch.push(canonical);
            if let Some(opening) = opening {
                openings.push((seq, opening));
            }
        }
        // Openings first: an event must never be durable while its personal data is not.
        let mut stored = Vec::new();
        for (seq, opening) in &openings {
            if let Err(e) = self.put_payload(*seq, opening).await {
                self.discard_payloads(&stored).await;
                return Err(e);
            }
            stored.push(*seq);
        }
        if let Err(e) = self.sink.append(&batch).await {
            self.discard_payloads(&stored).await;
            return Err(e);
        }
        for r in &receipts {
            state.frontier.push(r.leaf_hash);
        }
        state.last_ts = ts;
        let uncovered = state.frontier.size() - state.checkpointed;
        if uncovered >= self.config.checkpoint_every_entries
            || state.last_checkpoint.elapsed() >= self.config.checkpoint_interval
        {
            self.write_checkpoint(state).await?;
        }
        Ok(receipts)
    }

    /// Stores an opening; a leftover from a batch that failed before reaching the sink (its
    /// sequence number was never used) is replaced.
    async fn put_payload(&self, seq: u64, opening: &Opening) -> Result<(), Error> {
        let bytes = opening.to_bytes();
        match self.payloads.put(seq, &bytes).await {
            Err(Error::AlreadyExists(_)) => {
                self.payloads.erase(seq).await?;
                self.payloads.put(seq, &bytes).await
            }
            other => other,
        }
    }

    async fn discard_payloads(&self, seqs: &[u64]) {
        for seq in seqs {
            // Best effort: a leftover is replaced by `put_payload` when the number is reused.
            let _ = self.payloads.erase(*seq).await;
        }
    }

    async fn write_checkpoint(&self, state: &mut State) -> Result<(), Error> {
        let size = state.frontier.size();
        let checkpoint = Checkpoint {
            origin: self.signer.name().to_owned(),
            size,
            root: state.frontier.root(),
        };
        let note = self.signer.sign(&checkpoint)?;
        match self.checkpoints.put(size, note.as_bytes()).await {
            Ok(()) => {}
            Err(Error::AlreadyExists(_)) => {
                // Only acceptable if the stored one signs the same tree.
                let existing = self.checkpoints.get(size).await?.unwrap_or_default();
                let stored = self.signer.verifier().open(&existing)?;
                if stored != checkpoint {
                    return Err(Error::Tampered(Failure::new(
                        crate::verify::FailureKind::ForkedCheckpoints,
                        None,
                        format!("a different checkpoint of size {size} is already stored"),
                    )));
                }
            }
            Err(e) => return Err(e),
        }
        state.checkpointed = size;
        state.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Signs a checkpoint if entries are uncovered; returns the size signed, if any.
    pub async fn checkpoint_now(&self) -> Result<Option<u64>, Error> {
        let mut state = self.state.lock().await;
        if state.frontier.size() == state.checkpointed {
            return Ok(None);
        }
        self.write_checkpoint(&mut state).await?;
        Ok(Some(state.checkpointed))
    }

    /// Signs a checkpoint if the interval has passed and entries are uncovered. The host calls
    /// this periodically (for example every second) so an idle log is still signed within T.
    pub async fn tick(&self) -> Result<Option<u64>, Error> {
        let mut state = self.state.lock().await;
        if state.closed
            || state.frontier.size() == state.checkpointed
            || state.last_checkpoint.elapsed() < self.config.checkpoint_interval
        {
            return Ok(None);
        }
        self.write_checkpoint(&mut state).await?;
        Ok(Some(state.checkpointed))
    }

    /// Erases the personal data of event `seq`: first records an `audit.erasure` event naming
    /// it (by `requested_by`), then deletes the opening. Every proof still verifies; the
    /// verifier reports the event as "verified, payload erased".
    pub async fn erase_payload(
        &self,
        seq: u64,
        requested_by: EventDraft,
    ) -> Result<Receipt, Error> {
        let mut state = self.state.lock().await;
        if seq >= state.frontier.size() {
            return Err(Error::UnknownEvent(seq));
        }
        let mut draft = requested_by;
        draft.action = ACTION_ERASURE.to_owned();
        draft.target = Target {
            event: Some(seq),
            ..Target::default()
        };
        let receipt = self
            .append_locked(&mut state, vec![draft])
            .await?
            .pop()
            .ok_or(Error::Closed)?;
        self.payloads.erase(seq).await?;
        Ok(receipt)
    }

    /// Signs a final checkpoint and refuses further events.
    pub async fn shutdown(&self) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        if state.closed {
            return Ok(());
        }
        if state.frontier.size() > state.checkpointed {
            self.write_checkpoint(&mut state).await?;
        }
        state.closed = true;
        Ok(())
    }

    /// Runs [`AuditLog::tick`] every `period` until the log is shut down; returns the first
    /// error (the host should then stop accepting audited actions).
    pub async fn run_ticker(self: Arc<Self>, period: Duration) -> Result<(), Error> {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            if self.state.lock().await.closed {
                return Ok(());
            }
            self.tick().await?;
        }
    }
}
