//! The crate's one error type, and the parser for Salesforce error bodies.
//!
//! Errors name what went wrong in Salesforce's words (`errorCode`, `message`, `fields`) and
//! never carry tokens. The client adds no record values: decode errors name the column and
//! row, not the cell, and unparseable bodies are not echoed. Salesforce's own `message` may
//! quote a value the request sent (e.g. `STRING_TOO_LONG`); callers that log errors should
//! treat [`Error::Api`] messages as request data.

use serde::Deserialize;

/// Everything that can go wrong talking to Salesforce.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Authentication failed: an OAuth error (`invalid_grant`, ...) or a session that stays
    /// invalid after one refresh. Retrying with the same credentials will not help.
    #[error("authentication failed: {error}: {description}")]
    Auth {
        /// The OAuth `error` code (`invalid_grant`, `unsupported_grant_type`) or the REST
        /// `errorCode` (`INVALID_SESSION_ID`).
        error: String,
        /// The OAuth `error_description` or REST message.
        description: String,
    },
    /// Salesforce refused the call because the org's rolling 24-hour API limit is spent
    /// (HTTP 403 `REQUEST_LIMIT_EXCEEDED`). Resume from the last checkpoint later.
    #[error("Salesforce API request limit exceeded: {message}")]
    LimitExceeded {
        /// Salesforce's message.
        message: String,
    },
    /// The client stopped on its own because the org's API usage reached the configured share
    /// of the daily limit. Nothing failed; resume from the last checkpoint later.
    #[error("API budget reached: {used} of {max} daily requests used (stop share {share})")]
    BudgetReached {
        /// Requests used in the rolling 24 hours, as last reported by `Sforce-Limit-Info`.
        used: u64,
        /// The org's daily limit.
        max: u64,
        /// The configured share of `max` at which the client stops.
        share: f64,
    },
    /// A query ran longer than Salesforce allows (`QUERY_TIMEOUT`). Extraction splits its
    /// window and retries; this surfaces only when the window cannot be split further.
    #[error("query timed out: {message}")]
    QueryTimeout {
        /// Salesforce's message.
        message: String,
    },
    /// The entity cannot be read the requested way (Bulk `INVALIDENTITY`, or an object that
    /// is not queryable/replicateable).
    #[error("entity {object} is not supported: {message}")]
    EntityNotSupported {
        /// The sObject name.
        object: String,
        /// Why.
        message: String,
    },
    /// A Bulk API 2.0 query job ended `Failed` or `Aborted`.
    #[error("bulk query job {job_id} ended {state}: {message}")]
    BulkJobFailed {
        /// The job Id.
        job_id: String,
        /// `Failed` or `Aborted`.
        state: String,
        /// The job's `errorMessage`.
        message: String,
    },
    /// The deleted-records history no longer reaches back to the cursor
    /// (`earliestDateAvailable` is after it, or the start date is out of range): deletes may
    /// have been missed, so the caller must run a full reconciliation.
    #[error("full resync required for {object}: delete history starts after the cursor")]
    FullResyncRequired {
        /// The sObject name.
        object: String,
    },
    /// Any other error Salesforce reported.
    #[error("Salesforce API error {status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// `errorCode` (empty when the body was not a Salesforce error array).
        code: String,
        /// `message`.
        message: String,
        /// `fields` named by the error.
        fields: Vec<String>,
    },
    /// The network failed (connect, TLS, timeout, reset) after the retries were spent.
    #[cfg(feature = "client")]
    #[error("transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// A response did not have the documented shape.
    #[error("cannot decode {what}: {detail}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed (never a record value).
        detail: String,
    },
    /// The configuration is unusable (bad URL, plain HTTP to a non-loopback host, bad key).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Reading a streamed body failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether retrying the same request later may succeed (5xx, 503, transport).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api { status, code, .. } => {
                *status >= 500 || code == "SERVER_UNAVAILABLE" || code == "UNABLE_TO_LOCK_ROW"
            }
            #[cfg(feature = "client")]
            Error::Transport(e) => e.is_timeout() || e.is_connect() || e.is_request(),
            _ => false,
        }
    }

    pub(crate) fn decode(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Decode {
            what,
            detail: detail.into(),
        }
    }
}

/// One entry of a Salesforce REST error array:
/// `[{"message":"…","errorCode":"INVALID_SESSION_ID","fields":["…"]}]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiErrorEntry {
    /// The error code (`INVALID_SESSION_ID`, `MALFORMED_QUERY`, ...).
    #[serde(rename = "errorCode", alias = "exceptionCode", default)]
    pub error_code: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Fields the error refers to.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Parses an error body into its first entry. Salesforce sends a JSON array; Bulk 1.0 and some
/// gateways send a single object. Anything else yields an entry whose message says the body
/// was not a Salesforce error (the body itself is not echoed: it could hold data).
#[cfg_attr(not(feature = "client"), allow(dead_code))] // wire helper of `Client`
pub(crate) fn parse_api_error(body: &[u8]) -> ApiErrorEntry {
    if let Ok(mut entries) = serde_json::from_slice::<Vec<ApiErrorEntry>>(body)
        && !entries.is_empty()
    {
        return entries.swap_remove(0);
    }
    if let Ok(entry) = serde_json::from_slice::<ApiErrorEntry>(body)
        && !entry.error_code.is_empty()
    {
        return entry;
    }
    ApiErrorEntry {
        error_code: String::new(),
        message: format!("non-Salesforce error body ({} bytes)", body.len()),
        fields: Vec::new(),
    }
}

/// Maps an HTTP error status and body to the typed error.
#[cfg_attr(not(feature = "client"), allow(dead_code))] // wire helper of `Client`
pub(crate) fn classify(status: u16, body: &[u8], object: Option<&str>) -> Error {
    let entry = parse_api_error(body);
    match (status, entry.error_code.as_str()) {
        (403, "REQUEST_LIMIT_EXCEEDED") => Error::LimitExceeded {
            message: entry.message,
        },
        (401, _) | (_, "INVALID_SESSION_ID") => Error::Auth {
            error: if entry.error_code.is_empty() {
                "HTTP 401".to_owned()
            } else {
                entry.error_code
            },
            description: entry.message,
        },
        (_, "QUERY_TIMEOUT") => Error::QueryTimeout {
            message: entry.message,
        },
        (_, "INVALIDENTITY") | (_, "INVALID_TYPE_FOR_OPERATION") => Error::EntityNotSupported {
            object: object.unwrap_or_default().to_owned(),
            message: entry.message,
        },
        _ => Error::Api {
            status,
            code: entry.error_code,
            message: entry.message,
            fields: entry.fields,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_session_error_array() {
        let body =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        let e = parse_api_error(body);
        assert_eq!(e.error_code, "INVALID_SESSION_ID");
        assert_eq!(e.message, "Session expired or invalid");
        assert!(e.fields.is_empty());
        assert!(
            matches!(classify(401, body, None), Error::Auth { error, .. } if error == "INVALID_SESSION_ID")
        );
    }

    #[test]
    fn parses_field_error() {
        let body = br#"[{"fields":["FolderId"],"message":"Folder ID: id value of incorrect type: 005","errorCode":"MALFORMED_ID"}]"#;
        match classify(400, body, None) {
            Error::Api {
                status,
                code,
                fields,
                ..
            } => {
                assert_eq!(status, 400);
                assert_eq!(code, "MALFORMED_ID");
                assert_eq!(fields, vec!["FolderId".to_owned()]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn limit_exceeded_is_typed() {
        let body = br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(matches!(
            classify(403, body, None),
            Error::LimitExceeded { .. }
        ));
    }

    #[test]
    fn bulk_entity_and_timeout_are_typed() {
        let body = br#"[{"errorCode":"INVALIDENTITY","message":"Entity 'Attachment' is not supported by the Bulk API."}]"#;
        assert!(matches!(
            classify(400, body, Some("Attachment")),
            Error::EntityNotSupported { object, .. } if object == "Attachment"
        ));
        let body = br#"[{"errorCode":"QUERY_TIMEOUT","message":"Your query request was running for too long."}]"#;
        assert!(matches!(
            classify(400, body, None),
            Error::QueryTimeout { .. }
        ));
    }

    #[test]
    fn bulk_v1_shape_and_garbage() {
        let e = parse_api_error(br#"{"exceptionCode":"InvalidSessionId","exceptionMessage":"x"}"#);
        assert_eq!(e.error_code, "InvalidSessionId");
        let e = parse_api_error(b"<html>secret data</html>");
        assert_eq!(e.error_code, "");
        assert!(!e.message.contains("secret"));
        let e = parse_api_error(b"[]");
        assert_eq!(e.error_code, "");
    }

    #[test]
    fn transient_classification() {
        let e = classify(503, b"", None);
        assert!(e.is_transient());
        let e = classify(
            400,
            br#"[{"errorCode":"MALFORMED_QUERY","message":"x"}]"#,
            None,
        );
        assert!(!e.is_transient());
    }
}
