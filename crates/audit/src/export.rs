//! Exports: a verifiable JSON Lines format, and CSV, CEF and RFC 5424 syslog renderings for
//! spreadsheets and SIEMs. Every export is itself recorded as an `audit.export.<format>`
//! event whose detail carries the export's SHA-256, so the log vouches for what left it.
//!
//! The JSON Lines export stands on its own: a header with the signed checkpoint, one line per
//! selected event with its leaf index, leaf hash and inclusion proof, and a trailer with the
//! entry count and a SHA-256 of everything before it. [`verify_export`] checks it with only
//! the log's public key; [`verify_export_pair`] checks that a later export extends an earlier
//! one (consistency proof). CSV, CEF and syslog lines carry each event's leaf index and hash
//! so a row can be matched to its verified JSON Lines entry, but are not verifiable alone.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::checkpoint::{Checkpoint, NoteVerifier};
use crate::checkpoint_store::load_all;
use crate::event::{ACTION_ERASURE, ACTION_EXPORT_PREFIX, Event, Outcome};
use crate::log::{AuditLog, EventDraft};
use crate::merkle::{Hash, MerkleTree, verify_consistency, verify_inclusion};
use crate::pii::Opening;
use crate::verify::{Failure, FailureKind, Options, scan_log, verify_log};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportFormat {
    /// Verifiable JSON Lines.
    JsonLines,
    /// RFC 4180 CSV with spreadsheet formula injection neutralised.
    Csv,
    /// ArcSight Common Event Format, one event per line.
    Cef,
    /// RFC 5424 syslog messages, one per line.
    Syslog,
}

impl ExportFormat {
    /// The name used in the export event's action (`audit.export.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::JsonLines => "jsonl",
            ExportFormat::Csv => "csv",
            ExportFormat::Cef => "cef",
            ExportFormat::Syslog => "syslog",
        }
    }
}

/// Which events to export and how.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The format.
    pub format: ExportFormat,
    /// Only events of this org (all if `None`).
    pub org: Option<String>,
    /// Only events with `seq` in this range (all if `None`).
    pub seqs: Option<std::ops::Range<u64>>,
    /// Include personal data (the openings) where still available.
    pub include_personal: bool,
    /// For JSON Lines: add a consistency proof from this earlier tree size (the size of a
    /// previous export), so the two exports can be checked against each other.
    pub consistency_from: Option<u64>,
    /// Syslog HOSTNAME field (`-` if `None`).
    pub hostname: Option<String>,
}

impl ExportRequest {
    /// Every event, without personal data.
    pub fn all(format: ExportFormat) -> Self {
        Self {
            format,
            org: None,
            seqs: None,
            include_personal: false,
            consistency_from: None,
            hostname: None,
        }
    }
}

/// What is known about an exported event's personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Personal {
    /// The event has no personal fields.
    None,
    /// The opening is included.
    Included,
    /// The opening exists but was not requested.
    Withheld,
    /// The opening was erased (an erasure event names this event).
    Erased,
    /// The opening is missing and no erasure event explains it.
    Missing,
}

struct Row<'a> {
    index: u64,
    leaf: Hash,
    canonical: &'a [u8],
    event: Event,
    opening: Option<Opening>,
    personal: Personal,
}

/// Produces an export and records it in the log (fail closed: if the export event cannot be
/// recorded, no export is returned).
pub async fn export(
    log: &AuditLog,
    request: &ExportRequest,
    requested_by: EventDraft,
) -> Result<Vec<u8>, Error> {
    log.checkpoint_now().await?;
    let bytes = log.sink().read_log().await?;
    let notes: Vec<Vec<u8>> = load_all(log.checkpoint_store().as_ref())
        .await?
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let verifier = log.verifier();
    let report = verify_log(
        &bytes,
        &notes,
        &verifier,
        None,
        Options {
            allow_unanchored_tail: true,
        },
    );
    if let Some(failure) = report.failure {
        return Err(Error::Tampered(failure));
    }
    let size = report.latest_checkpoint.unwrap_or(0);
    let note = notes
        .iter()
        .find(|n| verifier.open(n).is_ok_and(|cp| cp.size == size))
        .ok_or_else(|| Error::Export("no checkpoint to anchor the export".into()))?;
    let note_text = String::from_utf8(note.clone())
        .map_err(|_| Error::Export("checkpoint is not UTF-8".into()))?;

    // Collect leaves, canonical lines and erasures up to the checkpoint.
    let mut tree = MerkleTree::new();
    let mut selected: Vec<(u64, Hash, std::ops::Range<usize>, Event)> = Vec::new();
    let mut erased = BTreeSet::new();
    let mut offset = 0usize;
    let scanned = scan_log(&bytes, |event, leaf| {
        let len = event_line_len(&bytes[offset..]);
        let range = offset..offset + len;
        offset += len + 1;
        if event.seq >= size {
            // Entries after the anchoring checkpoint are not part of this export.
            return Ok(());
        }
        tree.push(*leaf);
        if let Some(t) = event
            .target
            .event
            .filter(|_| event.action == ACTION_ERASURE)
        {
            erased.insert(t);
        }
        let wanted = request
            .org
            .as_ref()
            .is_none_or(|o| event.target.org.as_ref() == Some(o))
            && request.seqs.as_ref().is_none_or(|r| r.contains(&event.seq));
        if wanted {
            selected.push((event.seq, *leaf, range, event.clone()));
        }
        Ok(())
    });
    scanned.map_err(Error::Tampered)?;
    let mut rows = Vec::with_capacity(selected.len());
    for (index, leaf, range, event) in selected {
        let has_personal = event.actor.user.is_some() || event.ip.is_some();
        let (opening, personal) = if !has_personal {
            (None, Personal::None)
        } else {
            match log.payload_store().get(index).await? {
                Some(p) if request.include_personal => {
                    (Some(Opening::from_bytes(&p)?), Personal::Included)
                }
                Some(_) => (None, Personal::Withheld),
                None if erased.contains(&index) => (None, Personal::Erased),
                None => (None, Personal::Missing),
            }
        };
        rows.push(Row {
            index,
            leaf,
            canonical: &bytes[range],
            event,
            opening,
            personal,
        });
    }
    let checkpoint = verifier.open(note)?;
    let out = match request.format {
        ExportFormat::JsonLines => render_jsonl(&checkpoint, &note_text, &tree, &rows, request)?,
        ExportFormat::Csv => render_csv(&rows),
        ExportFormat::Cef => render_cef(&rows),
        ExportFormat::Syslog => render_syslog(&rows, request.hostname.as_deref()),
    };
    let digest = hex::encode(Sha256::digest(&out));
    let mut draft = requested_by;
    draft.action = format!("{ACTION_EXPORT_PREFIX}{}", request.format.name());
    draft.detail = Some(format!(
        "sha256={digest} entries={} tree_size={size}",
        rows.len()
    ));
    log.record(draft).await?;
    Ok(out)
}

fn event_line_len(rest: &[u8]) -> usize {
    rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len())
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u64,
    origin: String,
    checkpoint: String,
    entries: u64,
    consistency: Option<Consistency>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Consistency {
    from_size: u64,
    proof: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    index: u64,
    leaf_hash: String,
    proof: Vec<String>,
    event: Box<RawValue>,
    personal: Personal,
    opening: Option<Box<RawValue>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    end: bool,
    entries: u64,
    sha256: String,
}

const FORMAT_NAME: &str = "coffer-audit-export";

fn json_line<T: Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, value).map_err(|e| Error::Export(e.to_string()))?;
    out.push(b'\n');
    Ok(())
}

fn render_jsonl(
    checkpoint: &Checkpoint,
    note: &str,
    tree: &MerkleTree,
    rows: &[Row<'_>],
    request: &ExportRequest,
) -> Result<Vec<u8>, Error> {
    let consistency = match request.consistency_from {
        Some(from) => Some(Consistency {
            from_size: from,
            proof: tree
                .consistency_proof(from, checkpoint.size)?
                .iter()
                .map(hex::encode)
                .collect(),
        }),
        None => None,
    };
    let mut out = Vec::new();
    json_line(
        &mut out,
        &Header {
            format: FORMAT_NAME.into(),
            version: 1,
            origin: checkpoint.origin.clone(),
            checkpoint: note.to_owned(),
            entries: rows.len() as u64,
            consistency,
        },
    )?;
    for row in rows {
        let event = std::str::from_utf8(row.canonical)
            .ok()
            .and_then(|s| RawValue::from_string(s.to_owned()).ok())
            .ok_or_else(|| Error::Export("event is not JSON".into()))?;
        let opening = match &row.opening {
            Some(o) => Some(
                String::from_utf8(o.to_bytes().to_vec())
                    .ok()
                    .and_then(|s| RawValue::from_string(s).ok())
                    .ok_or_else(|| Error::Export("opening is not JSON".into()))?,
            ),
            None => None,
        };
        json_line(
            &mut out,
            &Entry {
                index: row.index,
                leaf_hash: hex::encode(row.leaf),
                proof: tree
                    .inclusion_proof(row.index, checkpoint.size)?
                    .iter()
                    .map(hex::encode)
                    .collect(),
                event,
                personal: row.personal,
                opening,
            },
        )?;
    }
    let digest = hex::encode(Sha256::digest(&out));
    json_line(
        &mut out,
        &Trailer {
            end: true,
            entries: rows.len() as u64,
            sha256: digest,
        },
    )?;
    Ok(out)
}

/// What a verified JSON Lines export contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    /// The signed checkpoint the export is anchored to.
    pub checkpoint: Checkpoint,
    /// Leaf indices of the exported events, ascending.
    pub indices: Vec<u64>,
    /// Exported events whose personal data is erased.
    pub erased: Vec<u64>,
    /// Exported events whose opening was included and verified.
    pub openings_verified: u64,
    /// The consistency proof the export carries, if any: (earlier size, proof).
    pub consistency: Option<(u64, Vec<Hash>)>,
}

fn bad(line: u64, detail: impl Into<String>) -> Failure {
    Failure::new(FailureKind::BadExport, Some(line), detail)
}

fn parse_hash(line: u64, s: &str) -> Result<Hash, Failure> {
    let mut h = [0u8; 32];
    if s.len() != 64 || !s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad(line, "hash is not 64 lower-case hex digits"));
    }
    hex::decode_to_slice(s, &mut h).map_err(|_| bad(line, "bad hex"))?;
    Ok(h)
}

/// Parses one line as `T` and insists that re-encoding gives the same bytes, so no byte of an
/// export can change without the change being visible.
fn strict_line<T: Serialize + for<'de> Deserialize<'de>>(
    line_no: u64,
    line: &[u8],
) -> Result<T, Failure> {
    let value: T = serde_json::from_slice(line).map_err(|e| bad(line_no, e.to_string()))?;
    let again = serde_json::to_vec(&value).map_err(|e| bad(line_no, e.to_string()))?;
    if again != line {
        return Err(bad(line_no, "line is not in canonical form"));
    }
    Ok(value)
}

/// Verifies a JSON Lines export with only the log's public key. `first_bad_entry` in a
/// failure is the export's line number (0 is the header).
pub fn verify_export(bytes: &[u8], verifier: &NoteVerifier) -> Result<ExportReport, Failure> {
    if !bytes.ends_with(b"\n") {
        return Err(bad(0, "export does not end in a newline (truncated)"));
    }
    let body = &bytes[..bytes.len() - 1];
    let lines: Vec<&[u8]> = body.split(|&c| c == b'\n').collect();
    let Some((header_line, rest)) = lines.split_first() else {
        return Err(bad(0, "empty export"));
    };
    let Some((trailer_line, entry_lines)) = rest.split_last() else {
        return Err(bad(1, "no trailer: export truncated"));
    };
    let header: Header = strict_line(0, header_line)?;
    if header.format != FORMAT_NAME || header.version != 1 {
        return Err(bad(0, "not a coffer-audit export version 1"));
    }
    let checkpoint = verifier
        .open(header.checkpoint.as_bytes())
        .map_err(|e| Failure::new(FailureKind::BadCheckpoint, Some(0), e.to_string()))?;
    if checkpoint.origin != header.origin || checkpoint.origin != verifier.name() {
        return Err(Failure::new(
            FailureKind::OriginMismatch,
            Some(0),
            "export header names another log",
        ));
    }
    let mut report = ExportReport {
        checkpoint,
        indices: Vec::with_capacity(entry_lines.len()),
        erased: Vec::new(),
        openings_verified: 0,
        consistency: None,
    };
    if let Some(c) = &header.consistency {
        let proof = c
            .proof
            .iter()
            .map(|h| parse_hash(0, h))
            .collect::<Result<Vec<_>, _>>()?;
        report.consistency = Some((c.from_size, proof));
    }
    for (i, line) in entry_lines.iter().enumerate() {
        let line_no = i as u64 + 1;
        let entry: Entry = strict_line(line_no, line)?;
        if report
            .indices
            .last()
            .is_some_and(|&last| entry.index <= last)
        {
            return Err(bad(line_no, "entries are not in increasing index order"));
        }
        let event_bytes = entry.event.get().as_bytes();
        let event = Event::parse(event_bytes)
            .map_err(|e| Failure::new(FailureKind::MalformedEntry, Some(line_no), e.to_string()))?;
        if event.seq != entry.index {
            return Err(bad(line_no, "event sequence number differs from its index"));
        }
        let leaf = crate::merkle::leaf_hash(event_bytes);
        if parse_hash(line_no, &entry.leaf_hash)? != leaf {
            return Err(bad(line_no, "leaf hash does not match the event"));
        }
        let proof = entry
            .proof
            .iter()
            .map(|h| parse_hash(line_no, h))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(
            entry.index,
            report.checkpoint.size,
            &leaf,
            &proof,
            &report.checkpoint.root,
        )
        .map_err(|e| Failure::new(FailureKind::RootMismatch, Some(line_no), e.to_string()))?;
        let has_personal = event.actor.user.is_some() || event.ip.is_some();
        match (entry.personal, &entry.opening) {
            (Personal::None, None) if !has_personal => {}
            (Personal::Included, Some(raw)) if has_personal => {
                let opening = Opening::from_bytes(raw.get().as_bytes()).map_err(|e| {
                    Failure::new(FailureKind::PayloadMismatch, Some(line_no), e.to_string())
                })?;
                if !opening.opens(&event) {
                    return Err(Failure::new(
                        FailureKind::PayloadMismatch,
                        Some(line_no),
                        "opening does not match the event's commitments",
                    ));
                }
                report.openings_verified += 1;
            }
            (Personal::Erased, None) if has_personal => report.erased.push(entry.index),
            (Personal::Withheld | Personal::Missing, None) if has_personal => {}
            _ => return Err(bad(line_no, "personal-data status does not fit the event")),
        }
        report.indices.push(entry.index);
    }
    if header.entries != report.indices.len() as u64 {
        return Err(bad(
            0,
            "header entry count differs from the entries present",
        ));
    }
    let trailer_no = lines.len() as u64 - 1;
    let trailer: Trailer = strict_line(trailer_no, trailer_line)?;
    let covered = bytes.len() - 1 - trailer_line.len();
    let digest = hex::encode(Sha256::digest(&bytes[..covered]));
    if !trailer.end || trailer.entries != header.entries || trailer.sha256 != digest {
        return Err(bad(trailer_no, "trailer does not match the export"));
    }
    Ok(report)
}

/// Verifies two exports and that the later one's tree extends the earlier one's (the later
/// export must carry a consistency proof from the earlier export's size).
pub fn verify_export_pair(
    older: &[u8],
    newer: &[u8],
    verifier: &NoteVerifier,
) -> Result<(ExportReport, ExportReport), Failure> {
    let old = verify_export(older, verifier)?;
    let new = verify_export(newer, verifier)?;
    let Some((from, proof)) = &new.consistency else {
        return Err(bad(0, "the later export carries no consistency proof"));
    };
    if *from != old.checkpoint.size {
        return Err(bad(0, "the consistency proof starts at another size"));
    }
    verify_consistency(
        old.checkpoint.size,
        new.checkpoint.size,
        &old.checkpoint.root,
        &new.checkpoint.root,
        proof,
    )
    .map_err(|e| Failure::new(FailureKind::RootMismatch, Some(0), e.to_string()))?;
    Ok((old, new))
}

fn personal_text(row: &Row<'_>, value: fn(&Opening) -> Option<&str>, committed: bool) -> String {
    if !committed {
        return String::new();
    }
    match (&row.opening, row.personal) {
        (Some(o), _) => value(o).unwrap_or_default().to_owned(),
        (None, Personal::Erased) => "[erased]".into(),
        (None, Personal::Missing) => "[missing]".into(),
        _ => "[withheld]".into(),
    }
}

fn user_of(o: &Opening) -> Option<&str> {
    o.user.as_deref()
}

fn ip_of(o: &Opening) -> Option<&str> {
    o.ip.as_deref()
}

/// The columns every tabular rendering shares, in order.
fn columns(row: &Row<'_>) -> [(&'static str, String); 16] {
    let e = &row.event;
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    [
        ("index", row.index.to_string()),
        ("leaf_hash", hex::encode(row.leaf)),
        ("seq", e.seq.to_string()),
        ("timestamp", e.ts.to_string()),
        ("idp", e.actor.idp.clone()),
        ("user", personal_text(row, user_of, e.actor.user.is_some())),
        ("action", e.action.clone()),
        ("org", opt(&e.target.org)),
        ("object", opt(&e.target.object)),
        ("record", opt(&e.target.record)),
        ("key", opt(&e.target.key)),
        (
            "target_event",
            e.target.event.map(|n| n.to_string()).unwrap_or_default(),
        ),
        ("source_ip", personal_text(row, ip_of, e.ip.is_some())),
        ("outcome", e.outcome.as_str().to_owned()),
        ("request_id", opt(&e.request_id)),
        ("detail", opt(&e.detail)),
    ]
}

/// Neutralises a CSV field that a spreadsheet would run as a formula (OWASP "CSV Injection"):
/// a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'` in front.
pub fn csv_field(value: &str) -> String {
    let neutral = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if neutral.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

fn render_csv(rows: &[Row<'_>]) -> Vec<u8> {
    let mut out = String::new();
    // RFC 4180: CRLF line ends, header row.
    let header: Vec<&str> = match rows.first() {
        Some(r) => columns(r).iter().map(|(k, _)| *k).collect(),
        None => COLUMN_NAMES.to_vec(),
    };
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in rows {
        let fields: Vec<String> = columns(row).iter().map(|(_, v)| csv_field(v)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

const COLUMN_NAMES: [&str; 16] = [
    "index",
    "leaf_hash",
    "seq",
    "timestamp",
    "idp",
    "user",
    "action",
    "org",
    "object",
    "record",
    "key",
    "target_event",
    "source_ip",
    "outcome",
    "request_id",
    "detail",
];

/// CEF header field escaping: `\` and `|`.
fn cef_header(value: &str) -> String {
    value.replace('\\', "\\\\").replace('|', "\\|")
}

/// CEF extension value escaping: `\`, `=`, and line breaks.
fn cef_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

fn severity(outcome: Outcome) -> (u8, u8) {
    // (CEF 0-10, syslog severity)
    match outcome {
        Outcome::Success => (3, 6),
        Outcome::Failure => (6, 4),
        Outcome::Denied => (8, 5),
    }
}

fn render_cef(rows: &[Row<'_>]) -> Vec<u8> {
    let mut out = String::new();
    for row in rows {
        let e = &row.event;
        let (sev, _) = severity(e.outcome);
        out.push_str(&format!(
            "CEF:0|Coffer|coffer-audit|{}|{}|{}|{sev}|",
            cef_header(env!("CARGO_PKG_VERSION")),
            cef_header(&e.action),
            cef_header(&e.action),
        ));
        let mut ext = vec![
            ("rt", (e.ts.unix_micros() / 1000).to_string()),
            ("externalId", e.seq.to_string()),
            ("act", e.action.clone()),
            ("outcome", e.outcome.as_str().to_owned()),
            ("cs1Label", "idp".to_owned()),
            ("cs1", e.actor.idp.clone()),
            ("cs2Label", "leafHash".to_owned()),
            ("cs2", hex::encode(row.leaf)),
        ];
        if e.actor.user.is_some() {
            ext.push(("suser", personal_text(row, user_of, true)));
        }
        if let (Some(ip), true) = (row.opening.as_ref().and_then(ip_of), e.ip.is_some()) {
            ext.push(("src", ip.to_owned()));
        }
        let optional = [
            ("cs3Label", "org", &e.target.org),
            ("cs4Label", "object", &e.target.object),
            ("cs5Label", "record", &e.target.record),
            ("cs6Label", "requestId", &e.request_id),
        ];
        for (label_key, label, value) in optional {
            if let Some(v) = value {
                ext.push((label_key, label.to_owned()));
                ext.push((&label_key[..3], v.clone()));
            }
        }
        if let Some(k) = &e.target.key {
            ext.push(("fname", k.clone()));
        }
        if let Some(d) = &e.detail {
            ext.push(("msg", d.clone()));
        }
        let ext: Vec<String> = ext
            .iter()
            .map(|(k, v)| format!("{k}={}", cef_value(v)))
            .collect();
        out.push_str(&ext.join(" "));
        out.push('\n');
    }
    out.into_bytes()
}

/// RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]`.
fn sd_value(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// RFC 5424 header fields are printable US-ASCII without spaces.
fn header_token(value: &str, max: usize) -> String {
    let t: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if t.is_empty() { "-".into() } else { t }
}

/// The SD-ID of Coffer's structured data. 32473 is the private enterprise number reserved
/// for documentation (RFC 5612); it stands in until Coffer registers its own.
pub const SYSLOG_SD_ID: &str = "coffer@32473";

fn render_syslog(rows: &[Row<'_>], hostname: Option<&str>) -> Vec<u8> {
    // Facility 13 ("log audit").
    const FACILITY: u8 = 13;
    let host = header_token(hostname.unwrap_or("-"), 255);
    let mut out = String::new();
    for row in rows {
        let e = &row.event;
        let (_, sev) = severity(e.outcome);
        let pri = u16::from(FACILITY) * 8 + u16::from(sev);
        let mut params = vec![
            ("seq", e.seq.to_string()),
            ("leaf", hex::encode(row.leaf)),
            ("action", e.action.clone()),
            ("outcome", e.outcome.as_str().to_owned()),
            ("idp", e.actor.idp.clone()),
        ];
        if e.actor.user.is_some() {
            params.push(("user", personal_text(row, user_of, true)));
        }
        if e.ip.is_some() {
            params.push(("ip", personal_text(row, ip_of, true)));
        }
        for (k, v) in [
            ("org", &e.target.org),
            ("object", &e.target.object),
            ("record", &e.target.record),
            ("key", &e.target.key),
            ("request_id", &e.request_id),
            ("detail", &e.detail),
        ] {
            if let Some(v) = v {
                params.push((k, v.clone()));
            }
        }
        if let Some(t) = e.target.event {
            params.push(("target_event", t.to_string()));
        }
        let sd: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", sd_value(v)))
            .collect();
        out.push_str(&format!(
            "<{pri}>1 {} {host} coffer - audit [{SYSLOG_SD_ID} {}] {} {}\n",
            e.ts,
            sd.join(" "),
            header_token(&e.action, 64),
            e.outcome.as_str(),
        ));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("+cmd"), "'+cmd");
        assert_eq!(csv_field("-2"), "'-2");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv_field("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
    }

    #[test]
    fn cef_and_syslog_escaping() {
        assert_eq!(cef_header("a|b\\c"), "a\\|b\\\\c");
        assert_eq!(cef_value("k=v\\x\ny"), "k\\=v\\\\x\\ny");
        assert_eq!(sd_value("a\"b]c\\"), "a\\\"b\\]c\\\\");
        assert_eq!(header_token("a b\u{e9}c", 64), "abc");
        assert_eq!(header_token("", 64), "-");
    }
}
