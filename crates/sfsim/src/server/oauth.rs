//! The OAuth 2.0 endpoints: `/services/oauth2/token` (authorization code with PKCE, refresh
//! token with optional single-use rotation, JWT bearer, client credentials) and a test-only
//! `/services/oauth2/authorize` that approves at once for the configured user. Bodies follow
//! SALESFORCE_API.md 3.1: `issued_at` is epoch milliseconds as a string, `signature` is
//! base64(HMAC-SHA256(client secret, id + issued_at)), errors are
//! `{"error":…,"error_description":…}` with HTTP 400.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Shared, lock};

/// How long an authorization code from `/authorize` stays redeemable.
const CODE_TTL: Duration = Duration::from_secs(15 * 60);

/// Audiences Salesforce accepts in a JWT bearer assertion besides the instance URL.
const JWT_AUDIENCES: [&str; 2] = [
    "https://login.salesforce.com",
    "https://test.salesforce.com",
];

/// Issued tokens and pending authorization codes.
#[derive(Debug, Default)]
pub(crate) struct Store {
    access: HashMap<String, Instant>,
    refresh: HashMap<String, ()>,
    codes: HashMap<String, PendingCode>,
}

#[derive(Debug)]
struct PendingCode {
    redirect_uri: String,
    challenge: Option<(String, String)>,
    expires: Instant,
}

impl Store {
    /// Whether `token` is a live access token.
    pub(crate) fn access_valid(&mut self, token: &str, now: Instant) -> bool {
        match self.access.get(token) {
            Some(&expires) if now < expires => true,
            Some(_) => {
                self.access.remove(token);
                false
            }
            None => false,
        }
    }

    /// Revokes an access token (the expired-session fault).
    pub(crate) fn revoke(&mut self, token: &str) {
        self.access.remove(token);
    }

    /// Issues an access token valid for `ttl` (used by the OAuth flows and by
    /// [`crate::server::RunningSimulator::access_token`]).
    pub(crate) fn issue_access(&mut self, org_id: &str, ttl: Duration, now: Instant) -> String {
        let token = format!("{org_id}!{}", random_token(48));
        self.access.insert(token.clone(), now + ttl);
        token
    }

    fn issue_refresh(&mut self) -> String {
        let token = random_token(64);
        self.refresh.insert(token.clone(), ());
        token
    }
}

/// `len` bytes from the operating system's CSPRNG (through aws-lc), base64url: tokens must not
/// be guessable even on loopback, since they guard the org's data and the admin endpoints.
pub(crate) fn random_token(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    if provider.secure_random.fill(&mut bytes).is_err() {
        // aws-lc's RNG does not fail on supported platforms; refuse weak tokens if it does.
        std::process::abort();
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// Compares secrets in time independent of where they differ.
pub(crate) fn secrets_equal(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A successful token response; absent fields are left out, as each flow returns its own set.
#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    scope: &'static str,
    instance_url: String,
    id: String,
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_at: Option<String>,
}

/// An OAuth error: HTTP 400 `{"error":…,"error_description":…}`.
pub(crate) fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn invalid_grant(description: &str) -> Response {
    oauth_error("invalid_grant", description)
}

/// `client_id:client_secret` from an HTTP Basic `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

enum Flow {
    /// Web-server and refresh flows: a refresh token, signature and issued_at.
    WithRefresh(Option<String>),
    /// Client credentials: signature and issued_at, no refresh token.
    ClientCredentials,
    /// JWT bearer: neither signature nor issued_at nor refresh token.
    JwtBearer,
}

fn success(shared: &Shared, flow: Flow) -> Response {
    let cfg = &shared.cfg;
    let access_token =
        lock(&shared.oauth).issue_access(&cfg.org_id, cfg.access_ttl, Instant::now());
    let id = format!("{}/id/{}/{}", cfg.instance_url, cfg.org_id, cfg.user_id);
    let issued_at = now_millis().to_string();
    let signature = || {
        // HMAC accepts keys of any length; the error arm is unreachable but typed.
        Hmac::<Sha256>::new_from_slice(cfg.client_secret.as_bytes())
            .ok()
            .map(|mut mac| {
                mac.update(id.as_bytes());
                mac.update(issued_at.as_bytes());
                STANDARD.encode(mac.finalize().into_bytes())
            })
    };
    let body = match flow {
        Flow::WithRefresh(refresh_token) => TokenResponse {
            access_token,
            refresh_token,
            signature: signature(),
            scope: "refresh_token api",
            instance_url: cfg.instance_url.clone(),
            id: id.clone(),
            token_type: "Bearer",
            issued_at: Some(issued_at.clone()),
        },
        Flow::ClientCredentials => TokenResponse {
            access_token,
            refresh_token: None,
            signature: signature(),
            scope: "api",
            instance_url: cfg.instance_url.clone(),
            id: id.clone(),
            token_type: "Bearer",
            issued_at: Some(issued_at.clone()),
        },
        Flow::JwtBearer => TokenResponse {
            access_token,
            refresh_token: None,
            signature: None,
            scope: "api",
            instance_url: cfg.instance_url.clone(),
            id: id.clone(),
            token_type: "Bearer",
            issued_at: None,
        },
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `POST /services/oauth2/token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str);
    let basic = basic_credentials(&headers);
    let client_id = basic
        .as_ref()
        .map(|(id, _)| id.as_str())
        .or_else(|| field("client_id"));
    let client_secret = basic
        .as_ref()
        .map(|(_, secret)| secret.as_str())
        .or_else(|| field("client_secret"));
    let cfg = &shared.cfg;
    let client_known = client_id.is_some_and(|id| id == cfg.client_id);
    let secret_ok = client_secret.is_some_and(|s| secrets_equal(s, &cfg.client_secret));

    match field("grant_type") {
        Some("client_credentials") => {
            if !client_known || !secret_ok {
                return oauth_error("invalid_client", "invalid client credentials");
            }
            success(&shared, Flow::ClientCredentials)
        }
        Some("authorization_code") => {
            if !client_known {
                return oauth_error("invalid_client_id", "client identifier invalid");
            }
            // A confidential client may send its secret; a wrong one is refused. PKCE
            // clients send a verifier instead.
            if client_secret.is_some() && !secret_ok {
                return oauth_error("invalid_client", "invalid client credentials");
            }
            let Some(code) = field("code") else {
                return invalid_grant("invalid authorization code");
            };
            let pending = lock(&shared.oauth).codes.remove(code);
            let Some(pending) = pending else {
                return invalid_grant("invalid authorization code");
            };
            if Instant::now() >= pending.expires {
                return invalid_grant("expired authorization code");
            }
            if field("redirect_uri") != Some(pending.redirect_uri.as_str()) {
                return oauth_error(
                    "redirect_uri_mismatch",
                    "redirect_uri must match configuration",
                );
            }
            match (&pending.challenge, field("code_verifier")) {
                (Some((challenge, method)), Some(verifier)) => {
                    let computed = if method == "plain" {
                        verifier.to_owned()
                    } else {
                        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                    };
                    if !secrets_equal(&computed, challenge) {
                        return invalid_grant("invalid code verifier");
                    }
                }
                (Some(_), None) => return invalid_grant("invalid code verifier"),
                (None, _) if !secret_ok => {
                    return oauth_error("invalid_client", "invalid client credentials");
                }
                (None, _) => {}
            }
            let refresh = lock(&shared.oauth).issue_refresh();
            success(&shared, Flow::WithRefresh(Some(refresh)))
        }
        Some("refresh_token") => {
            if !client_known {
                return oauth_error("invalid_client_id", "client identifier invalid");
            }
            if client_secret.is_some() && !secret_ok {
                return oauth_error("invalid_client", "invalid client credentials");
            }
            let Some(presented) = field("refresh_token") else {
                return invalid_grant("expired access/refresh token");
            };
            let rotated = {
                let mut store = lock(&shared.oauth);
                if !store.refresh.contains_key(presented) {
                    return invalid_grant("expired access/refresh token");
                }
                if cfg.rotate_refresh_tokens {
                    // Single-use: the presented token dies, a new one is returned (jsforce#1656).
                    store.refresh.remove(presented);
                    Some(store.issue_refresh())
                } else {
                    None
                }
            };
            success(&shared, Flow::WithRefresh(rotated))
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            match verify_assertion(&shared, field("assertion")) {
                Ok(()) => success(&shared, Flow::JwtBearer),
                Err((error, description)) => oauth_error(error, description),
            }
        }
        _ => oauth_error("unsupported_grant_type", "grant type not supported"),
    }
}

/// Checks an RS256 assertion against the configured public key and its iss/sub/aud/exp.
/// Errors are `(error, error_description)`.
fn verify_assertion(
    shared: &Shared,
    assertion: Option<&str>,
) -> Result<(), (&'static str, &'static str)> {
    const INVALID_ASSERTION: (&str, &str) = ("invalid_grant", "invalid assertion");
    let cfg = &shared.cfg;
    let Some(key) = cfg.jwt_public_key.as_ref() else {
        // No certificate uploaded to the connected app: Salesforce cannot verify anything.
        return Err(INVALID_ASSERTION);
    };
    let Some(assertion) = assertion else {
        return Err(INVALID_ASSERTION);
    };
    // Signature and algorithm are checked by jsonwebtoken; the claims by hand, because
    // simple-salesforce sends `exp` as a numeric *string*, which Salesforce accepts.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<serde_json::Value>(assertion, key, &validation)
        .map_err(|_| INVALID_ASSERTION)?
        .claims;
    let text = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
    if text("iss") != Some(cfg.client_id.as_str()) {
        return Err(("invalid_client_id", "client identifier invalid"));
    }
    let audience_ok =
        text("aud").is_some_and(|aud| JWT_AUDIENCES.contains(&aud) || aud == cfg.instance_url);
    if !audience_ok {
        return Err(("invalid_grant", "audience is invalid"));
    }
    let exp = match claims.get("exp") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
        _ => None,
    };
    let now_secs = (now_millis() / 1000) as u64;
    if exp.is_none_or(|exp| exp <= now_secs) {
        return Err(INVALID_ASSERTION);
    }
    if text("sub") != Some(cfg.username.as_str()) {
        return Err(("invalid_grant", "user hasn't approved this consumer"));
    }
    Ok(())
}

/// The query of `GET /services/oauth2/authorize`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `GET /services/oauth2/authorize`: the configured user approves at once, and the browser
/// is sent back to `redirect_uri` with `code` (and `state`). Tests need no login page.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    if params.client_id.as_deref() != Some(shared.cfg.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    if params.response_type.as_deref() != Some("code") {
        return oauth_error("unsupported_response_type", "response type not supported");
    }
    let Some(redirect_uri) = params.redirect_uri.filter(|uri| !uri.is_empty()) else {
        return oauth_error(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        );
    };
    let challenge = params.code_challenge.map(|challenge| {
        let method = params
            .code_challenge_method
            .unwrap_or_else(|| "plain".to_owned());
        (challenge, method)
    });
    let code = random_token(32);
    lock(&shared.oauth).codes.insert(
        code.clone(),
        PendingCode {
            redirect_uri: redirect_uri.clone(),
            challenge,
            expires: Instant::now() + CODE_TTL,
        },
    );
    let mut location = redirect_uri;
    location.push(if location.contains('?') { '&' } else { '?' });
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("code", &code);
    if let Some(state) = &params.state {
        query.append_pair("state", state);
    }
    location.push_str(&query.finish());
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}
