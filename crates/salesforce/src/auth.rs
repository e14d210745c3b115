//! OAuth 2.0 for Salesforce: the web-server flow with PKCE, the JWT bearer flow, refresh
//! tokens with rotation, and client credentials.
//!
//! Tokens are [`SecretString`]s: `Debug` prints `[REDACTED]`, and nothing here logs them.
//! When a token response carries a new refresh token (rotation: the old one stops working), the
//! client switches to it at once and hands the new [`TokenSet`] to the caller's
//! [`RotationHook`] so it can be persisted; losing it would lock the backup out of the org.
//!
//! The response `signature` (an HMAC of `id` and `issued_at` under the consumer secret) is not
//! checked: the token endpoint is authenticated by TLS, and the construction is not specified
//! precisely enough to verify safely.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use url::Url;

use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::tls::checked_url;

/// The production login host.
pub const LOGIN_URL: &str = "https://login.salesforce.com";
/// The sandbox login host.
pub const TEST_LOGIN_URL: &str = "https://test.salesforce.com";

/// A token endpoint response.
#[derive(Clone)]
pub struct TokenSet {
    /// The bearer token.
    pub access_token: SecretString,
    /// A (possibly rotated) refresh token; the caller must persist it.
    pub refresh_token: Option<SecretString>,
    /// The org's REST base, e.g. `https://acme.my.salesforce.com`.
    pub instance_url: String,
    /// The identity URL (`…/id/00D…/005…`).
    pub id: Option<String>,
    /// Issue time in epoch milliseconds.
    pub issued_at: Option<u64>,
    /// Granted scopes.
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[REDACTED]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("instance_url", &self.instance_url)
            .field("id", &self.id)
            .field("issued_at", &self.issued_at)
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Deserialize)]
struct RawToken {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    instance_url: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawOAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Parses a successful token response (`issued_at` is epoch milliseconds as a string).
pub fn parse_token_response(body: &[u8]) -> Result<TokenSet, Error> {
    let raw: RawToken = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            "token response",
            format!("line {} column {}", e.line(), e.column()),
        )
    })?;
    let issued_at = match raw.issued_at {
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| Error::decode("token response", "issued_at is not epoch millis"))?,
        ),
        None => None,
    };
    checked_url(&raw.instance_url)?;
    Ok(TokenSet {
        access_token: SecretString::from(raw.access_token),
        refresh_token: raw.refresh_token.map(SecretString::from),
        instance_url: raw.instance_url.trim_end_matches('/').to_owned(),
        id: raw.id,
        issued_at,
        scope: raw.scope,
    })
}

/// Parses an OAuth error body (`{"error":"invalid_grant","error_description":"…"}`).
pub fn parse_oauth_error(status: u16, body: &[u8]) -> Error {
    match serde_json::from_slice::<RawOAuthError>(body) {
        Ok(e) => Error::Auth {
            error: e.error,
            description: e.error_description,
        },
        Err(_) => Error::Auth {
            error: format!("HTTP {status}"),
            description: "token endpoint returned a non-OAuth error body".to_owned(),
        },
    }
}

/// How the client obtains access tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// A refresh token (from the web-server flow); rotation is followed.
    RefreshToken {
        /// Consumer key.
        client_id: String,
        /// Consumer secret, if the connected app requires it.
        client_secret: Option<SecretString>,
        /// The current refresh token.
        refresh_token: SecretString,
    },
    /// JWT bearer: an RS256 assertion signed with the connected app's certificate key.
    JwtBearer {
        /// Consumer key (`iss`).
        client_id: String,
        /// Username (`sub`).
        username: String,
        /// PKCS#1 or PKCS#8 PEM RSA private key.
        private_key_pem: SecretString,
        /// `aud`: the login URL (`https://login.salesforce.com`, `https://test.salesforce.com`
        /// or the community URL).
        audience: String,
    },
    /// Client credentials (HTTP Basic), against the org's My Domain token endpoint.
    ClientCredentials {
        /// Consumer key.
        client_id: String,
        /// Consumer secret.
        client_secret: SecretString,
    },
    /// A fixed access token; it cannot be refreshed.
    AccessToken {
        /// The bearer token.
        access_token: SecretString,
        /// The org's REST base.
        instance_url: String,
    },
}

/// Called with every token response that carries a refresh token, so the caller can persist
/// a rotated one.
pub type RotationHook = Arc<dyn Fn(&TokenSet) + Send + Sync>;

/// The JWT bearer claims.
#[derive(Debug, Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

/// Signs the JWT bearer assertion (RS256; `exp` = now + 3 minutes).
pub fn jwt_assertion(
    client_id: &str,
    username: &str,
    audience: &str,
    private_key_pem: &SecretString,
    now_epoch_secs: u64,
) -> Result<SecretString, Error> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
        .map_err(|e| Error::Config(format!("JWT private key: {e}")))?;
    let claims = JwtClaims {
        iss: client_id,
        sub: username,
        aud: audience,
        exp: now_epoch_secs + 180,
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|e| Error::Config(format!("JWT signing: {e}")))?;
    Ok(SecretString::from(token))
}

/// A PKCE pair (RFC 7636, S256).
#[derive(Debug)]
pub struct Pkce {
    /// The verifier, sent with the code exchange.
    pub verifier: SecretString,
    /// `BASE64URL(SHA256(verifier))`, sent with the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair from 32 random bytes (a 43-character verifier).
    pub fn generate() -> Result<Self, Error> {
        let verifier = URL_SAFE_NO_PAD.encode(random_bytes()?);
        Ok(Self::from_verifier(SecretString::from(verifier)))
    }

    /// The pair for a given verifier.
    pub fn from_verifier(verifier: SecretString) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose_secret().as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

fn random_bytes() -> Result<[u8; 32], Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::Config(format!("random source: {e}")))?;
    Ok(b)
}

/// The start of the web-server flow: send the user to `url`; keep `state` and `pkce` to
/// check the callback and exchange the code.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// `{login}/services/oauth2/authorize?response_type=code&…`.
    pub url: Url,
    /// The anti-CSRF state; the callback must echo it.
    pub state: String,
    /// The PKCE pair.
    pub pkce: Pkce,
}

/// Builds the authorization URL with an S256 PKCE challenge and a random state.
pub fn authorization_request(
    login_url: &str,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[&str],
) -> Result<AuthorizationRequest, Error> {
    let mut url = checked_url(login_url)?
        .join("/services/oauth2/authorize")
        .map_err(|e| Error::Config(format!("login URL: {e}")))?;
    let pkce = Pkce::generate()?;
    let state = URL_SAFE_NO_PAD.encode(random_bytes()?);
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", &state);
    if !scopes.is_empty() {
        url.query_pairs_mut()
            .append_pair("scope", &scopes.join(" "));
    }
    Ok(AuthorizationRequest { url, state, pkce })
}

/// The token endpoint of a login or My Domain URL.
pub fn token_url(login_url: &str) -> Result<Url, Error> {
    checked_url(login_url)?
        .join("/services/oauth2/token")
        .map_err(|e| Error::Config(format!("login URL: {e}")))
}

/// Posts a form to the token endpoint, retrying transient failures.
async fn token_request(
    http: &reqwest::Client,
    url: &Url,
    form: &[(&str, &str)],
    basic: Option<(&str, &SecretString)>,
    retry: &RetryPolicy,
) -> Result<TokenSet, Error> {
    let mut attempt = 0;
    loop {
        let mut req = http.post(url.clone()).form(form);
        if let Some((user, pass)) = basic {
            req = req.basic_auth(user, Some(pass.expose_secret()));
        }
        let outcome = req.send().await;
        let transient = match outcome {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.bytes().await.map_err(Error::Transport)?;
                if (200..300).contains(&status) {
                    return parse_token_response(&body);
                }
                if status < 500 {
                    return Err(parse_oauth_error(status, &body));
                }
                Error::Api {
                    status,
                    code: String::new(),
                    message: "token endpoint unavailable".to_owned(),
                    fields: Vec::new(),
                }
            }
            Err(e) => Error::Transport(e),
        };
        attempt += 1;
        if attempt >= retry.max_attempts || !transient.is_transient() {
            return Err(transient);
        }
        tokio::time::sleep(retry.delay(attempt - 1)).await;
    }
}

/// Exchanges an authorization code (web-server flow) for tokens.
pub async fn exchange_code(
    http: &reqwest::Client,
    login_url: &str,
    client_id: &str,
    client_secret: Option<&SecretString>,
    redirect_uri: &str,
    code: &SecretString,
    pkce_verifier: &SecretString,
) -> Result<TokenSet, Error> {
    let url = token_url(login_url)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.expose_secret()),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("code_verifier", pkce_verifier.expose_secret()),
    ];
    if let Some(s) = client_secret {
        form.push(("client_secret", s.expose_secret()));
    }
    token_request(http, &url, &form, None, &RetryPolicy::default()).await
}

/// A current session: the bearer token and where to send it.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) access_token: SecretString,
    pub(crate) instance_url: Url,
    /// The org id, from the token response's identity URL (`…/id/00D…/005…`).
    pub(crate) org_id: Option<String>,
}

/// The org id of an identity URL `https://login…/id/<org id>/<user id>`.
pub fn org_id_of_identity(url: &str) -> Option<String> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let _user = parts.next()?;
    let org = parts.next()?;
    (parts.next() == Some("id")
        && !org.is_empty()
        && org.bytes().all(|b| b.is_ascii_alphanumeric()))
    .then(|| org.to_owned())
}

/// Holds the credentials and the current session, and refreshes it (once per stale token,
/// however many requests saw it expire).
pub(crate) struct Authenticator {
    http: reqwest::Client,
    token_url: Url,
    credentials: Mutex<Credentials>,
    session: Mutex<Option<Session>>,
    on_rotate: Option<RotationHook>,
    retry: RetryPolicy,
}

impl Authenticator {
    pub(crate) fn new(
        http: reqwest::Client,
        login_url: &str,
        credentials: Credentials,
        on_rotate: Option<RotationHook>,
        retry: RetryPolicy,
    ) -> Result<Self, Error> {
        Ok(Authenticator {
            http,
            token_url: token_url(login_url)?,
            credentials: Mutex::new(credentials),
            session: Mutex::new(None),
            on_rotate,
            retry,
        })
    }

    /// The current session, logging in if there is none.
    pub(crate) async fn session(&self) -> Result<Session, Error> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = self.login().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Replaces `stale` with a fresh session; if another task already did, returns theirs.
    pub(crate) async fn refresh(&self, stale: &SecretString) -> Result<Session, Error> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref()
            && s.access_token.expose_secret() != stale.expose_secret()
        {
            return Ok(s.clone());
        }
        *guard = None;
        let s = self.login().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    async fn login(&self) -> Result<Session, Error> {
        let mut creds = self.credentials.lock().await;
        let tokens = match &*creds {
            Credentials::AccessToken {
                access_token,
                instance_url,
            } => {
                return Ok(Session {
                    access_token: access_token.clone(),
                    instance_url: checked_url(instance_url)?,
                    org_id: None,
                });
            }
            Credentials::RefreshToken {
                client_id,
                client_secret,
                refresh_token,
            } => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id.as_str()),
                    ("refresh_token", refresh_token.expose_secret()),
                ];
                if let Some(s) = client_secret {
                    form.push(("client_secret", s.expose_secret()));
                }
                token_request(&self.http, &self.token_url, &form, None, &self.retry).await?
            }
            Credentials::JwtBearer {
                client_id,
                username,
                private_key_pem,
                audience,
            } => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let assertion = jwt_assertion(client_id, username, audience, private_key_pem, now)?;
                let form = [
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.expose_secret()),
                ];
                token_request(&self.http, &self.token_url, &form, None, &self.retry).await?
            }
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => {
                let form = [("grant_type", "client_credentials")];
                token_request(
                    &self.http,
                    &self.token_url,
                    &form,
                    Some((client_id, client_secret)),
                    &self.retry,
                )
                .await?
            }
        };
        if let (Some(new), Credentials::RefreshToken { refresh_token, .. }) =
            (&tokens.refresh_token, &mut *creds)
        {
            *refresh_token = new.clone();
            tracing::info!("refresh token rotated");
        }
        if tokens.refresh_token.is_some()
            && let Some(hook) = &self.on_rotate
        {
            hook(&tokens);
        }
        tracing::debug!("obtained access token");
        Ok(Session {
            access_token: tokens.access_token.clone(),
            instance_url: checked_url(&tokens.instance_url)?,
            org_id: tokens.id.as_deref().and_then(org_id_of_identity),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_refresh_response_and_redacts() {
        let body = br#"{"access_token":"00Dxx!AQMAQsecret","signature":"HfBA4=","scope":"refresh_token api id full",
          "instance_url":"https://xxxx.my.salesforce.com","id":"https://login.salesforce.com/id/00Dxx/005xx",
          "token_type":"Bearer","issued_at":"1708058728442"}"#;
        let t = parse_token_response(body).unwrap();
        assert_eq!(t.access_token.expose_secret(), "00Dxx!AQMAQsecret");
        assert_eq!(t.issued_at, Some(1_708_058_728_442));
        assert_eq!(t.instance_url, "https://xxxx.my.salesforce.com");
        assert!(t.refresh_token.is_none());
        assert_eq!(
            org_id_of_identity(t.id.as_deref().unwrap()).as_deref(),
            Some("00Dxx")
        );
        assert_eq!(
            org_id_of_identity("https://login.salesforce.com/services/x"),
            None
        );
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("secret"), "{dbg}");

        let rotated = br#"{"access_token":"a","refresh_token":"5Aep861rotated","instance_url":"http://127.0.0.1:1","id":"x","issued_at":"1"}"#;
        let t = parse_token_response(rotated).unwrap();
        assert_eq!(
            t.refresh_token.as_ref().unwrap().expose_secret(),
            "5Aep861rotated"
        );
        assert!(!format!("{t:?}").contains("rotated"));
        let creds = Credentials::RefreshToken {
            client_id: "cid".into(),
            client_secret: Some(SecretString::from("topsecret")),
            refresh_token: SecretString::from("5Aep861rotated"),
        };
        let dbg = format!("{creds:?}");
        assert!(
            !dbg.contains("topsecret") && !dbg.contains("rotated"),
            "{dbg}"
        );
    }

    #[test]
    fn restforce_fixture_and_jwt_response_shapes() {
        // restforce spec/fixtures/auth_success_response.json: no token_type, no scope.
        let body = br#"{"id":"https://login.salesforce.com/id/00DE0000000cOGcMAM/005E0000001eM4LIAU",
          "issued_at":"1331142541514","instance_url":"https://na9.salesforce.com",
          "signature":"47N1x7kkGMiGVJ5SIlNc1mlrtXB5ai2EmPjWF0WdJ1c=","access_token":"00DE0000000cOGc!AR8AQP0jITN80ESEsj5EbaZTFG0R"}"#;
        assert!(parse_token_response(body).is_ok());
        let jwt = br#"{"access_token":"x","scope":"api","instance_url":"https://a.my.salesforce.com","id":"i","token_type":"Bearer"}"#;
        let t = parse_token_response(jwt).unwrap();
        assert_eq!(t.issued_at, None);
        // Plain HTTP instance URLs off loopback are refused.
        let bad = br#"{"access_token":"x","instance_url":"http://evil.example"}"#;
        assert!(matches!(parse_token_response(bad), Err(Error::Config(_))));
        assert!(matches!(
            parse_token_response(
                br#"{"access_token":"x","instance_url":"https://a","issued_at":"soon"}"#
            ),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn parses_oauth_errors() {
        for desc in [
            "expired access/refresh token",
            "authentication failure",
            "user hasn't approved this consumer",
            "invalid assertion",
            "audience is invalid",
            "inactive user",
        ] {
            let body = format!(r#"{{"error":"invalid_grant","error_description":"{desc}"}}"#);
            match parse_oauth_error(400, body.as_bytes()) {
                Error::Auth { error, description } => {
                    assert_eq!(error, "invalid_grant");
                    assert_eq!(description, desc);
                }
                other => panic!("{other:?}"),
            }
        }
        let body =
            br#"{"error":"unsupported_grant_type","error_description":"grant type not supported"}"#;
        assert!(
            matches!(parse_oauth_error(400, body), Error::Auth { error, .. } if error == "unsupported_grant_type")
        );
        assert!(
            matches!(parse_oauth_error(400, b"<html>"), Error::Auth { error, .. } if error == "HTTP 400")
        );
    }

    #[test]
    fn pkce_s256_matches_rfc7636_vector() {
        // RFC 7636 appendix B.
        let p = Pkce::from_verifier(SecretString::from(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ));
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let g = Pkce::generate().unwrap();
        assert_eq!(g.verifier.expose_secret().len(), 43);
    }

    #[test]
    fn authorization_url_has_challenge() {
        let req = authorization_request(
            "https://login.salesforce.com",
            "cid",
            "http://localhost:1717/callback",
            &["api", "refresh_token"],
        )
        .unwrap();
        let pairs: std::collections::HashMap<_, _> = req.url.query_pairs().into_owned().collect();
        assert_eq!(req.url.path(), "/services/oauth2/authorize");
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs["code_challenge"], req.pkce.challenge);
        assert_eq!(pairs["state"], req.state);
        assert_eq!(pairs["scope"], "api refresh_token");
        assert!(authorization_request("http://login.salesforce.com", "c", "r", &[]).is_err());
    }

    #[test]
    fn jwt_assertion_is_rs256_with_documented_claims() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let now = 1_700_000_000;
        let jwt = jwt_assertion(
            "3MVG9cid",
            "user@example.com",
            TEST_LOGIN_URL,
            &SecretString::from(key.serialize_pem()),
            now,
        )
        .unwrap();
        let header = jsonwebtoken::decode_header(jwt.expose_secret()).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&[TEST_LOGIN_URL]);
        v.validate_exp = false;
        let decoded = jsonwebtoken::decode::<serde_json::Value>(
            jwt.expose_secret(),
            &jsonwebtoken::DecodingKey::from_rsa_pem(key.public_key_pem().as_bytes()).unwrap(),
            &v,
        )
        .unwrap();
        assert_eq!(decoded.claims["iss"], "3MVG9cid");
        assert_eq!(decoded.claims["sub"], "user@example.com");
        assert_eq!(decoded.claims["aud"], TEST_LOGIN_URL);
        assert_eq!(decoded.claims["exp"], now + 180);
    }

    #[test]
    fn jwt_rejects_bad_key() {
        let r = jwt_assertion(
            "cid",
            "user@example.com",
            LOGIN_URL,
            &SecretString::from("not a key"),
            0,
        );
        assert!(matches!(r, Err(Error::Config(_))));
    }
}
