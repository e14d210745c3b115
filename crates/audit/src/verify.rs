//! The verifier: synchronous, no I/O, given bytes and a trusted key, names the first bad entry.
//!
//! It checks, in order:
//! 1. every checkpoint: strict parse, Ed25519 signature by the trusted key, origin equal to
//!    the key name, no two checkpoints of one size with different roots;
//! 2. every log line: complete, canonical, `seq` equal to its position, timestamps never
//!    decreasing; the running Merkle root equals each checkpoint's root when the log reaches
//!    that checkpoint's size;
//! 3. no checkpoint is larger than the log (a cut tail), and, unless allowed, no entries lie
//!    after the last checkpoint (they are not yet protected by a signature);
//! 4. if openings of personal data are supplied: each one matches its event's commitments;
//!    an event whose opening is missing is fine only if a later `audit.erasure` event names it
//!    ("verified, payload erased"), and is reported as tampering otherwise.
//!
//! What a checkpoint proves is bounded by what it signed: a change inside the entries
//! between two checkpoints is detected, and reported as the first entry after the last
//! checkpoint that still matched, because the signed roots cannot say which entry of that
//! span changed. Structural faults (a malformed line, a gap, a reordering) are pinpointed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::checkpoint::{Checkpoint, NoteVerifier};
use crate::event::{ACTION_ERASURE, Event};
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::pii::Opening;
use crate::time::Timestamp;

/// Read access to openings of personal data, by event sequence number.
pub trait PayloadSource {
    /// The stored opening of event `seq`, if there is one.
    fn payload(&self, seq: u64) -> Option<&[u8]>;
}

impl PayloadSource for BTreeMap<u64, Vec<u8>> {
    fn payload(&self, seq: u64) -> Option<&[u8]> {
        self.get(&seq).map(Vec::as_slice)
    }
}

/// What the verifier is asked to accept.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Accept entries after the last checkpoint (a log that was not shut down cleanly has
    /// some). They are counted in [`Report::unanchored`] either way.
    pub allow_unanchored_tail: bool,
}

/// The kind of the first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// A checkpoint is malformed or its signature does not verify.
    BadCheckpoint,
    /// A checkpoint names another log.
    OriginMismatch,
    /// Two validly signed checkpoints of the same size disagree: the signer equivocated or
    /// its key is compromised.
    ForkedCheckpoints,
    /// The last line has no terminating newline (a torn or cut write).
    TruncatedLine,
    /// A line is not a canonical event.
    MalformedEntry,
    /// An entry's sequence number is not its position (deletion, insertion, reordering).
    OutOfSequence,
    /// An entry's timestamp is earlier than its predecessor's.
    TimestampRegression,
    /// The entries up to a checkpoint's size do not hash to its root (content changed or
    /// the log was recomputed).
    RootMismatch,
    /// A checkpoint covers more entries than the log has: the tail was cut.
    Truncated,
    /// Entries after the last checkpoint, when those are not allowed.
    UnanchoredTail,
    /// An opening of personal data does not match its event.
    PayloadMismatch,
    /// An event's opening is missing and no erasure event accounts for it.
    PayloadMissing,
    /// An export file is malformed or inconsistent with its checkpoint.
    BadExport,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::BadCheckpoint => "bad checkpoint",
            FailureKind::OriginMismatch => "checkpoint of another log",
            FailureKind::ForkedCheckpoints => "forked checkpoints",
            FailureKind::TruncatedLine => "truncated line",
            FailureKind::MalformedEntry => "malformed entry",
            FailureKind::OutOfSequence => "entry out of sequence",
            FailureKind::TimestampRegression => "timestamp goes backwards",
            FailureKind::RootMismatch => "entries do not match the signed root",
            FailureKind::Truncated => "log truncated",
            FailureKind::UnanchoredTail => "entries after the last checkpoint",
            FailureKind::PayloadMismatch => "personal-data payload does not match its event",
            FailureKind::PayloadMissing => "personal-data payload missing without erasure event",
            FailureKind::BadExport => "bad export",
        })
    }
}

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of problem.
    pub kind: FailureKind,
    /// The first entry (sequence number / line number from 0) that cannot be trusted, when
    /// the problem is about entries.
    pub first_bad_entry: Option<u64>,
    /// Human-readable detail.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first_bad_entry {
            Some(n) => write!(f, "{} at entry {n}: {}", self.kind, self.detail),
            None => write!(f, "{}: {}", self.kind, self.detail),
        }
    }
}

impl Failure {
    pub(crate) fn new(kind: FailureKind, entry: Option<u64>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            first_bad_entry: entry,
            detail: detail.into(),
        }
    }
}

/// The outcome of verifying personal-data openings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadSummary {
    /// Whether openings were checked at all.
    pub checked: bool,
    /// Events whose opening is present and matches.
    pub verified: u64,
    /// Events whose opening was erased, with an erasure event recorded: verified, payload
    /// erased.
    pub erased: Vec<u64>,
    /// Events with an erasure event whose opening is still present (erasure not completed).
    pub erasure_pending: Vec<u64>,
}

/// The verifier's findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The log's origin (the trusted key's name).
    pub origin: String,
    /// Entries read (up to the first failure, if any).
    pub entries: u64,
    /// Merkle root of the entries read.
    pub root: Hash,
    /// Checkpoints whose root was matched against the log.
    pub checkpoints_verified: u64,
    /// Size of the largest verified checkpoint.
    pub latest_checkpoint: Option<u64>,
    /// Entries after the largest checkpoint.
    pub unanchored: u64,
    /// Personal-data results.
    pub payloads: PayloadSummary,
    /// The first failure, or `None` if everything verified.
    pub failure: Option<Failure>,
}

impl Report {
    /// Whether the log verified.
    pub fn is_verified(&self) -> bool {
        self.failure.is_none()
    }

    /// A JSON rendering for machines (`coffer audit verify --json`).
    pub fn to_json(&self) -> String {
        let failure = self.failure.as_ref().map(|f| {
            serde_json::json!({
                "kind": f.kind.to_string(),
                "first_bad_entry": f.first_bad_entry,
                "detail": f.detail,
            })
        });
        serde_json::json!({
            "verified": self.is_verified(),
            "origin": self.origin,
            "entries": self.entries,
            "root": hex::encode(self.root),
            "checkpoints_verified": self.checkpoints_verified,
            "latest_checkpoint": self.latest_checkpoint,
            "unanchored": self.unanchored,
            "payloads": {
                "checked": self.payloads.checked,
                "verified": self.payloads.verified,
                "erased": self.payloads.erased,
                "erasure_pending": self.payloads.erasure_pending,
            },
            "failure": failure,
        })
        .to_string()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => writeln!(f, "verified: log {}", self.origin)?,
            Some(failure) => writeln!(f, "FAILED: {failure}")?,
        }
        writeln!(f, "entries: {}", self.entries)?;
        writeln!(f, "root: {}", hex::encode(self.root))?;
        writeln!(
            f,
            "checkpoints verified: {} (latest at size {})",
            self.checkpoints_verified,
            self.latest_checkpoint
                .map_or_else(|| "none".to_owned(), |s| s.to_string())
        )?;
        if self.unanchored > 0 {
            writeln!(f, "entries after the last checkpoint: {}", self.unanchored)?;
        }
        if self.payloads.checked {
            writeln!(
                f,
                "personal data: {} verified, {} verified with payload erased, {} erasures pending",
                self.payloads.verified,
                self.payloads.erased.len(),
                self.payloads.erasure_pending.len()
            )?;
        }
        Ok(())
    }
}

/// Opens every checkpoint, sorted by size and deduplicated.
pub(crate) fn open_checkpoints(
    notes: &[Vec<u8>],
    verifier: &NoteVerifier,
) -> Result<Vec<Checkpoint>, Failure> {
    let mut by_size: BTreeMap<u64, Checkpoint> = BTreeMap::new();
    for (i, note) in notes.iter().enumerate() {
        let cp = verifier.open(note).map_err(|e| {
            Failure::new(
                FailureKind::BadCheckpoint,
                None,
                format!("checkpoint #{i}: {e}"),
            )
        })?;
        if cp.origin != verifier.name() {
            return Err(Failure::new(
                FailureKind::OriginMismatch,
                None,
                format!(
                    "checkpoint #{i} is for {:?}, expected {:?}",
                    cp.origin,
                    verifier.name()
                ),
            ));
        }
        if let Some(existing) = by_size.get(&cp.size) {
            if existing.root != cp.root {
                return Err(Failure::new(
                    FailureKind::ForkedCheckpoints,
                    None,
                    format!(
                        "two signed checkpoints of size {} with different roots",
                        cp.size
                    ),
                ));
            }
            continue;
        }
        by_size.insert(cp.size, cp);
    }
    Ok(by_size.into_values().collect())
}

/// Reads a log's lines in order, checking structure, calling `each` with every entry.
/// Stops at the first failure or when `each` fails.
pub(crate) fn scan_log(
    log: &[u8],
    mut each: impl FnMut(&Event, &Hash) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut index: u64 = 0;
    let mut last_ts: Option<Timestamp> = None;
    let mut rest = log;
    while !rest.is_empty() {
        let Some(end) = rest.iter().position(|&c| c == b'\n') else {
            return Err(Failure::new(
                FailureKind::TruncatedLine,
                Some(index),
                "the last line has no newline",
            ));
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        let event = Event::parse(line)
            .map_err(|e| Failure::new(FailureKind::MalformedEntry, Some(index), e.to_string()))?;
        if event.seq != index {
            return Err(Failure::new(
                FailureKind::OutOfSequence,
                Some(index),
                format!("line {index} holds event {}", event.seq),
            ));
        }
        if last_ts.is_some_and(|t| event.ts < t) {
            return Err(Failure::new(
                FailureKind::TimestampRegression,
                Some(index),
                format!("{} is earlier than the previous entry", event.ts),
            ));
        }
        last_ts = Some(event.ts);
        each(&event, &leaf_hash(line))?;
        index += 1;
    }
    Ok(())
}

/// Verifies a log (`log`: canonical lines, each ending in `\n`, segments concatenated in
/// order) against signed checkpoints, trusting only `verifier`.
pub fn verify_log(
    log: &[u8],
    checkpoints: &[Vec<u8>],
    verifier: &NoteVerifier,
    payloads: Option<&dyn PayloadSource>,
    options: Options,
) -> Report {
    verify_log_state(log, checkpoints, verifier, payloads, options).0
}

/// [`verify_log`], also returning the tree and the last timestamp read (for resuming a log).
pub(crate) fn verify_log_state(
    log: &[u8],
    checkpoints: &[Vec<u8>],
    verifier: &NoteVerifier,
    payloads: Option<&dyn PayloadSource>,
    options: Options,
) -> (Report, Frontier, Option<Timestamp>) {
    let mut last_ts = None;
    let mut frontier = Frontier::new();
    let report = verify_into(
        log,
        checkpoints,
        verifier,
        payloads,
        options,
        &mut frontier,
        &mut last_ts,
    );
    (report, frontier, last_ts)
}

fn verify_into(
    log: &[u8],
    checkpoints: &[Vec<u8>],
    verifier: &NoteVerifier,
    payloads: Option<&dyn PayloadSource>,
    options: Options,
    frontier: &mut Frontier,
    last_ts: &mut Option<Timestamp>,
) -> Report {
    let mut report = Report {
        origin: verifier.name().to_owned(),
        entries: 0,
        root: crate::merkle::empty_root(),
        checkpoints_verified: 0,
        latest_checkpoint: None,
        unanchored: 0,
        payloads: PayloadSummary::default(),
        failure: None,
    };
    let cps = match open_checkpoints(checkpoints, verifier) {
        Ok(cps) => cps,
        Err(f) => {
            report.failure = Some(f);
            return report;
        }
    };
    let mut next_cp = cps.iter().peekable();
    // The empty checkpoint (size 0) is matched before any entry.
    let mut anchored: u64 = 0;
    let mut personal: Vec<u64> = Vec::new();
    let mut erased: BTreeSet<u64> = BTreeSet::new();
    let mut check_due =
        |frontier: &Frontier, report: &mut Report, anchored: &mut u64| -> Result<(), Failure> {
            while let Some(cp) = next_cp.next_if(|cp| cp.size == frontier.size()) {
                if frontier.root() != cp.root {
                    return Err(Failure::new(
                        FailureKind::RootMismatch,
                        Some(*anchored),
                        format!(
                            "entries {}..{} do not hash to the root signed at size {}",
                            *anchored, cp.size, cp.size
                        ),
                    ));
                }
                report.checkpoints_verified += 1;
                report.latest_checkpoint = Some(cp.size);
                *anchored = cp.size;
            }
            Ok(())
        };
    let scanned = check_due(frontier, &mut report, &mut anchored).and_then(|()| {
        scan_log(log, |event, leaf| {
            frontier.push(*leaf);
            *last_ts = Some(event.ts);
            if event.actor.user.is_some() || event.ip.is_some() {
                personal.push(event.seq);
            }
            if event.action == ACTION_ERASURE
                && let Some(target) = event.target.event.filter(|t| *t < event.seq)
            {
                erased.insert(target);
            }
            check_due(frontier, &mut report, &mut anchored)
        })
    });
    report.entries = frontier.size();
    report.root = frontier.root();
    if let Err(f) = scanned {
        report.failure = Some(f);
        return report;
    }
    if let Some(cp) = next_cp.next() {
        report.failure = Some(Failure::new(
            FailureKind::Truncated,
            Some(report.entries),
            format!(
                "a checkpoint signed {} entries but the log has {}",
                cp.size, report.entries
            ),
        ));
        return report;
    }
    report.unanchored = report.entries - anchored;
    if report.unanchored > 0 && !options.allow_unanchored_tail {
        report.failure = Some(Failure::new(
            FailureKind::UnanchoredTail,
            Some(anchored),
            format!(
                "{} entries are not covered by any signed checkpoint",
                report.unanchored
            ),
        ));
        return report;
    }
    if let Some(source) = payloads {
        report.payloads.checked = true;
        // Re-scan only the events with personal fields; the log already verified.
        let mut wanted = personal.iter().copied().peekable();
        let result = scan_log(log, |event, _| {
            if wanted.next_if_eq(&event.seq).is_none() {
                return Ok(());
            }
            check_payload(
                event,
                source.payload(event.seq),
                &erased,
                &mut report.payloads,
            )
        });
        if let Err(f) = result {
            report.failure = Some(f);
        }
    }
    report
}

fn check_payload(
    event: &Event,
    payload: Option<&[u8]>,
    erased: &BTreeSet<u64>,
    summary: &mut PayloadSummary,
) -> Result<(), Failure> {
    let seq = event.seq;
    match payload {
        Some(bytes) => {
            let opening = Opening::from_bytes(bytes).map_err(|e| {
                Failure::new(FailureKind::PayloadMismatch, Some(seq), e.to_string())
            })?;
            if !opening.opens(event) {
                return Err(Failure::new(
                    FailureKind::PayloadMismatch,
                    Some(seq),
                    "the stored personal data is not what the event committed to",
                ));
            }
            if erased.contains(&seq) {
                summary.erasure_pending.push(seq);
            } else {
                summary.verified += 1;
            }
        }
        None if erased.contains(&seq) => summary.erased.push(seq),
        None => {
            return Err(Failure::new(
                FailureKind::PayloadMissing,
                Some(seq),
                "no personal-data payload and no erasure event for it",
            ));
        }
    }
    Ok(())
}
