//! The event schema and its canonical serialisation (one JSON object per log line).
//!
//! The byte form is specified in `docs/format/audit.md`. It is a fixed-order, whitespace-free
//! subset of JSON: the writer emits exactly one byte string per event, and the parser accepts
//! exactly that string and nothing else (no other key order, spacing, escapes or number
//! spellings). So an event has one leaf hash, and re-encoding a parsed event gives back the
//! bytes that were hashed: a verifier never has to trust a re-serialiser.
//!
//! Personal fields (the acting user and the source IP) never appear in clear: the event holds
//! [`Commitment`]s to them, and the values themselves live in a separately stored, erasable
//! payload (see [`crate::pii`]).

use std::fmt;

use crate::time::Timestamp;

/// The schema version written in every event (`"v":1`).
pub const SCHEMA_VERSION: u64 = 1;

/// Action recorded when a payload of personal data is erased; `target.event` names the event.
pub const ACTION_ERASURE: &str = "audit.erasure";

/// Prefix of the actions recorded when the log is exported (`audit.export.jsonl`, ...).
pub const ACTION_EXPORT_PREFIX: &str = "audit.export.";

/// Longest accepted action name, in bytes.
pub const MAX_ACTION_LEN: usize = 64;
/// Longest accepted identifier (identity provider, org, object, record, key, request id).
pub const MAX_ID_LEN: usize = 256;
/// Longest accepted free-text detail, in bytes.
pub const MAX_DETAIL_LEN: usize = 1024;

/// How the audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// The action was carried out.
    Success,
    /// The action was attempted and failed.
    Failure,
    /// The action was refused (authorisation, policy, re-authentication, ...).
    Denied,
}

impl Outcome {
    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "success" => Some(Outcome::Success),
            "failure" => Some(Outcome::Failure),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 32-byte commitment to a personal value (an HMAC-SHA-256 tag; see [`crate::pii`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Commitment(pub [u8; 32]);

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Commitment({})", hex::encode(self.0))
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    /// The identity provider that authenticated the actor (`local`, `oidc:<issuer>`,
    /// `system`, ...). Not personal: it names a system, not a person.
    pub idp: String,
    /// Commitment to the user name; `None` for system actors.
    pub user: Option<Commitment>,
}

/// What was acted upon. Every part is optional; identifiers are opaque ids, never record data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Target {
    /// Salesforce org id (or Coffer's name for the connected org).
    pub org: Option<String>,
    /// Object type (`Account`, `ContentVersion`, ...) or repository object.
    pub object: Option<String>,
    /// Record id.
    pub record: Option<String>,
    /// Key id (for key management actions).
    pub key: Option<String>,
    /// Sequence number of another audit event (erasure events name the event whose payload
    /// they erased).
    pub event: Option<u64>,
}

/// One audit event, as committed to by the log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// Position in the log, from 0, dense: it is also the Merkle leaf index.
    pub seq: u64,
    /// When the server recorded the event (its own clock, UTC, never decreasing in a log).
    pub ts: Timestamp,
    /// Who acted.
    pub actor: Actor,
    /// What was done: a dotted lower-case name such as `backup.start` or `key.destroy`.
    pub action: String,
    /// What it was done to.
    pub target: Target,
    /// Commitment to the canonical source IP address, if the action came over the network.
    pub ip: Option<Commitment>,
    /// How it ended.
    pub outcome: Outcome,
    /// The request id that ties the event to service logs.
    pub request_id: Option<String>,
    /// Short free text, never personal (for example an export's digest).
    pub detail: Option<String>,
}

/// Why a field value cannot go into an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// A string is empty where a value is required, or is empty instead of absent.
    #[error("field `{0}` is empty (omit it instead)")]
    Empty(&'static str),
    /// A string is longer than its limit.
    #[error("field `{field}` is longer than {max} bytes")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its limit in bytes.
        max: usize,
    },
    /// A string contains a control character (rejected so that no export format can be
    /// injected through an event).
    #[error("field `{0}` contains a control character")]
    ControlCharacter(&'static str),
    /// The action name is not a dotted lower-case identifier.
    #[error("action `{0}` must match [a-z][a-z0-9_-]*(\\.[a-z0-9_-]+)*")]
    BadAction(String),
}

/// Checks a free string field against the schema's rules.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.is_empty() {
        return Err(FieldError::Empty(field));
    }
    if value.len() > max {
        return Err(FieldError::TooLong { field, max });
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::ControlCharacter(field));
    }
    Ok(())
}

/// Checks an action name.
pub(crate) fn check_action(action: &str) -> Result<(), FieldError> {
    check_text("action", action, MAX_ACTION_LEN)?;
    let bad = || FieldError::BadAction(action.to_owned());
    let mut segments = action.split('.');
    let first = segments.next().ok_or_else(bad)?;
    if !first.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(bad());
    }
    for segment in std::iter::once(first).chain(segments) {
        if segment.is_empty()
            || !segment
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
        {
            return Err(bad());
        }
    }
    Ok(())
}

impl Event {
    /// Checks every field against the schema; the writer and the parser both call it, so a
    /// log can only ever hold valid events.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_text("actor.idp", &self.actor.idp, MAX_ID_LEN)?;
        check_action(&self.action)?;
        let ids = [
            ("target.org", &self.target.org),
            ("target.object", &self.target.object),
            ("target.record", &self.target.record),
            ("target.key", &self.target.key),
            ("request_id", &self.request_id),
        ];
        for (field, value) in ids {
            if let Some(value) = value {
                check_text(field, value, MAX_ID_LEN)?;
            }
        }
        if let Some(detail) = &self.detail {
            check_text("detail", detail, MAX_DETAIL_LEN)?;
        }
        Ok(())
    }

    /// Appends the canonical encoding (without a newline) to `out`.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"v\":");
        write_u64(out, SCHEMA_VERSION);
        out.extend_from_slice(b",\"seq\":");
        write_u64(out, self.seq);
        out.extend_from_slice(b",\"ts\":\"");
        self.ts.write_canonical(out);
        out.extend_from_slice(b"\",\"actor\":{\"idp\":");
        write_str(out, &self.actor.idp);
        out.extend_from_slice(b",\"user\":");
        write_commitment(out, self.actor.user.as_ref());
        out.extend_from_slice(b"},\"action\":");
        write_str(out, &self.action);
        out.extend_from_slice(b",\"target\":{\"org\":");
        write_opt_str(out, self.target.org.as_deref());
        out.extend_from_slice(b",\"object\":");
        write_opt_str(out, self.target.object.as_deref());
        out.extend_from_slice(b",\"record\":");
        write_opt_str(out, self.target.record.as_deref());
        out.extend_from_slice(b",\"key\":");
        write_opt_str(out, self.target.key.as_deref());
        out.extend_from_slice(b",\"event\":");
        match self.target.event {
            Some(n) => write_u64(out, n),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b"},\"ip\":");
        write_commitment(out, self.ip.as_ref());
        out.extend_from_slice(b",\"outcome\":\"");
        out.extend_from_slice(self.outcome.as_str().as_bytes());
        out.extend_from_slice(b"\",\"request_id\":");
        write_opt_str(out, self.request_id.as_deref());
        out.extend_from_slice(b",\"detail\":");
        write_opt_str(out, self.detail.as_deref());
        out.push(b'}');
    }

    /// The canonical encoding as a fresh vector.
    pub fn to_canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(320);
        self.write_canonical(&mut out);
        out
    }

    /// The Merkle leaf hash of this event, `SHA-256(0x00 || canonical bytes)`.
    pub fn leaf_hash(&self) -> crate::Hash {
        crate::merkle::leaf_hash(&self.to_canonical())
    }

    /// Parses one canonical event (no trailing newline). Anything that is not exactly what
    /// [`Event::write_canonical`] would produce is rejected.
    pub fn parse(bytes: &[u8]) -> Result<Event, ParseError> {
        let mut p = Parser { b: bytes, pos: 0 };
        p.lit(b"{\"v\":")?;
        if p.u64()? != SCHEMA_VERSION {
            return Err(p.err("unsupported schema version"));
        }
        p.lit(b",\"seq\":")?;
        let seq = p.u64()?;
        p.lit(b",\"ts\":")?;
        let ts_at = p.pos;
        let ts_text = p.string()?;
        let ts = Timestamp::parse(&ts_text).ok_or(ParseError {
            offset: ts_at,
            reason: "timestamp is not canonical RFC 3339 UTC with microseconds",
        })?;
        p.lit(b",\"actor\":{\"idp\":")?;
        let idp = p.string()?;
        p.lit(b",\"user\":")?;
        let user = p.opt_commitment()?;
        p.lit(b"},\"action\":")?;
        let action = p.string()?;
        p.lit(b",\"target\":{\"org\":")?;
        let org = p.opt_string()?;
        p.lit(b",\"object\":")?;
        let object = p.opt_string()?;
        p.lit(b",\"record\":")?;
        let record = p.opt_string()?;
        p.lit(b",\"key\":")?;
        let key = p.opt_string()?;
        p.lit(b",\"event\":")?;
        let event = if p.null() { None } else { Some(p.u64()?) };
        p.lit(b"},\"ip\":")?;
        let ip = p.opt_commitment()?;
        p.lit(b",\"outcome\":")?;
        let outcome_at = p.pos;
        let outcome = Outcome::parse(&p.string()?).ok_or(ParseError {
            offset: outcome_at,
            reason: "unknown outcome",
        })?;
        p.lit(b",\"request_id\":")?;
        let request_id = p.opt_string()?;
        p.lit(b",\"detail\":")?;
        let detail = p.opt_string()?;
        p.lit(b"}")?;
        if p.pos != bytes.len() {
            return Err(p.err("trailing bytes after the event"));
        }
        let event = Event {
            seq,
            ts,
            actor: Actor { idp, user },
            action,
            target: Target {
                org,
                object,
                record,
                key,
                event,
            },
            ip,
            outcome,
            request_id,
            detail,
        };
        event.validate().map_err(|e| ParseError {
            offset: 0,
            reason: field_reason(&e),
        })?;
        Ok(event)
    }
}

fn field_reason(e: &FieldError) -> &'static str {
    match e {
        FieldError::Empty(_) => "a string field is empty",
        FieldError::TooLong { .. } => "a string field is too long",
        FieldError::ControlCharacter(_) => "a string field contains a control character",
        FieldError::BadAction(_) => "the action name is malformed",
    }
}

/// Where and why a line is not a canonical event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a canonical event at byte {offset}: {reason}")]
pub struct ParseError {
    /// Byte offset in the line where parsing stopped.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes a JSON string. Only `"` and `\` need escaping: validated text has no control
/// characters, and everything else is written as raw UTF-8.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &c in s.as_bytes() {
        if c == b'"' || c == b'\\' {
            out.push(b'\\');
        }
        out.push(c);
    }
    out.push(b'"');
}

fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_commitment(out: &mut Vec<u8>, c: Option<&Commitment>) {
    match c {
        Some(c) => {
            out.push(b'"');
            out.extend_from_slice(hex::encode(c.0).as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// A cursor over a canonical line.
struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> ParseError {
        ParseError {
            offset: self.pos,
            reason,
        }
    }

    fn lit(&mut self, expected: &[u8]) -> Result<(), ParseError> {
        if self.b[self.pos..].starts_with(expected) {
            self.pos += expected.len();
            Ok(())
        } else {
            Err(self.err("unexpected bytes (fields must appear in canonical order and spelling)"))
        }
    }

    fn null(&mut self) -> bool {
        if self.b[self.pos..].starts_with(b"null") {
            self.pos += 4;
            true
        } else {
            false
        }
    }

    fn u64(&mut self) -> Result<u64, ParseError> {
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(&c) = self.b.get(self.pos) {
            if !c.is_ascii_digit() {
                break;
            }
            if self.pos > start && self.b[start] == b'0' {
                return Err(self.err("number has a leading zero"));
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .ok_or_else(|| self.err("number does not fit in 64 bits"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("expected a number"));
        }
        Ok(value)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        if self.b.get(self.pos) != Some(&b'"') {
            return Err(self.err("expected a string"));
        }
        self.pos += 1;
        let mut raw = Vec::new();
        loop {
            // Copy the run of ordinary bytes in one go; stop at a quote, backslash or control.
            let run = self.b[self.pos..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(self.b.len() - self.pos);
            raw.extend_from_slice(&self.b[self.pos..self.pos + run]);
            self.pos += run;
            match self.b.get(self.pos) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => match self.b.get(self.pos + 1) {
                    Some(&c @ (b'"' | b'\\')) => {
                        raw.push(c);
                        self.pos += 2;
                    }
                    _ => return Err(self.err("only \\\" and \\\\ escapes are canonical")),
                },
                Some(&c) if c < 0x20 => return Err(self.err("control byte in string")),
                Some(&c) => {
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(raw).map_err(|_| self.err("string is not UTF-8"))
    }

    fn opt_string(&mut self) -> Result<Option<String>, ParseError> {
        if self.null() {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    fn opt_commitment(&mut self) -> Result<Option<Commitment>, ParseError> {
        if self.null() {
            return Ok(None);
        }
        let at = self.pos;
        let text = self.string()?;
        let bad = ParseError {
            offset: at,
            reason: "commitment is not 64 lower-case hex digits",
        };
        if text.len() != 64 || !text.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(|_| bad)?;
        Ok(Some(Commitment(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Event {
        Event {
            seq: 7,
            ts: Timestamp::from_unix_micros(1_700_000_000_123_456).unwrap(),
            actor: Actor {
                idp: "oidc:https://login.example.com".into(),
                user: Some(Commitment([0xab; 32])),
            },
            action: "record.restore".into(),
            target: Target {
                org: Some("00D000000000001".into()),
                object: Some("Account".into()),
                record: Some("001000000000001AAA".into()),
                key: None,
                event: None,
            },
            ip: None,
            outcome: Outcome::Success,
            request_id: Some("req-\"quoted\"\\slash-é".into()),
            detail: None,
        }
    }

    #[test]
    fn canonical_form_is_exactly_as_documented() {
        let e = sample();
        let text = String::from_utf8(e.to_canonical()).unwrap();
        let expected = concat!(
            r#"{"v":1,"seq":7,"ts":"2023-11-14T22:13:20.123456Z","#,
            r#""actor":{"idp":"oidc:https://login.example.com","user":"#,
            r#""abababababababababababababababababababababababababababababababab"},"#,
            r#""action":"record.restore","target":{"org":"00D000000000001","object":"Account","#,
            r#""record":"001000000000001AAA","key":null,"event":null},"ip":null,"#,
            r#""outcome":"success","request_id":"req-\"quoted\"\\slash-é","detail":null}"#
        );
        assert_eq!(text, expected);
        assert_eq!(Event::parse(text.as_bytes()).unwrap(), e);
    }

    #[test]
    fn non_canonical_spellings_are_rejected() {
        let good = String::from_utf8(sample().to_canonical()).unwrap();
        let variants = [
            good.replace("\"seq\":7", "\"seq\":07"),
            good.replace("\"seq\":7", "\"seq\": 7"),
            good.replace("Account", "\\u0041ccount"),
            good.replace("abab", "ABAB"),
            good.replace("\"v\":1", "\"v\":2"),
            good.replace("success", "Success"),
            good.replace(".123456Z", "Z"),
            good.replace("\"key\":null,", ""),
            good.replace("record.restore", "Record.restore"),
            good.replace("record.restore", "record..restore"),
            good.replace("\"Account\"", "\"\""),
            good.replace("Account", "Acc\u{7f}ount"),
            format!("{good} "),
            format!(" {good}"),
        ];
        for v in variants {
            assert!(Event::parse(v.as_bytes()).is_err(), "accepted: {v}");
        }
    }

    #[test]
    fn validation_limits() {
        let mut e = sample();
        e.detail = Some("x".repeat(MAX_DETAIL_LEN + 1));
        assert!(matches!(e.validate(), Err(FieldError::TooLong { .. })));
        e.detail = Some("line\nbreak".into());
        assert_eq!(e.validate(), Err(FieldError::ControlCharacter("detail")));
        e.detail = Some(String::new());
        assert_eq!(e.validate(), Err(FieldError::Empty("detail")));
        for ok in ["a", "backup.start", "audit.export.jsonl", "key.destroy-v2"] {
            assert!(check_action(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", ".a", "a.", "a b", "A", "a.B"] {
            assert!(check_action(bad).is_err(), "{bad}");
        }
    }
}
