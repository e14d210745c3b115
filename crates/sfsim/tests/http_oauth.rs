//! OAuth 2.0 flows against the running simulator: bodies and errors per SALESFORCE_API.md 3.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use coffer_sfsim::server::Simulator;
use hmac::{Hmac, Mac};
use http_support::{Sim, client_credentials, error_code, http_client, start};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fn set(items: &[&'static str]) -> BTreeSet<&'static str> {
    items.iter().copied().collect()
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

async fn token_request(s: &Sim, form: &[(&str, &str)]) -> (u16, Value) {
    Sim::status_and_json(
        s.http
            .post(format!("{}/services/oauth2/token", s.sim.instance_url()))
            .form(form),
    )
    .await
}

#[tokio::test]
async fn client_credentials_body_and_signature() {
    let s = start(Simulator::builder().records(200)).await;
    let before = now_millis();
    let body = client_credentials(&s.sim, &s.http).await;
    assert_eq!(
        keys(&body),
        set(&[
            "access_token",
            "signature",
            "scope",
            "instance_url",
            "id",
            "token_type",
            "issued_at"
        ])
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["instance_url"], s.sim.instance_url());
    let issued_at = body["issued_at"].as_str().expect("issued_at is a string");
    let issued: u128 = issued_at.parse().unwrap();
    assert!(
        issued >= before && issued <= now_millis(),
        "{issued_at} is epoch ms"
    );
    let id = body["id"].as_str().unwrap();
    assert!(
        id.starts_with(&format!("{}/id/00D", s.sim.instance_url())),
        "{id}"
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(s.sim.client_secret().as_bytes()).unwrap();
    mac.update(id.as_bytes());
    mac.update(issued_at.as_bytes());
    assert_eq!(
        body["signature"],
        STANDARD.encode(mac.finalize().into_bytes())
    );

    // The same flow with the credentials in the form body.
    let (status, form_body) = token_request(
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", s.sim.client_id()),
            ("client_secret", s.sim.client_secret()),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        form_body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("00D")
    );

    let (status, bad) = token_request(
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", s.sim.client_id()),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        bad,
        json!({"error":"invalid_client","error_description":"invalid client credentials"})
    );

    let (status, unsupported) = token_request(&s, &[("grant_type", "password")]).await;
    assert_eq!(status, 400);
    assert_eq!(
        unsupported,
        json!({"error":"unsupported_grant_type","error_description":"grant type not supported"})
    );
}

#[tokio::test]
async fn web_server_flow_with_pkce_and_rotating_refresh_tokens() {
    let s = start(
        Simulator::builder()
            .records(200)
            .rotate_refresh_tokens(true),
    )
    .await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let redirect = "http://localhost:8080/callback";
    let response = s
        .http
        .get(format!(
            "{}/services/oauth2/authorize",
            s.sim.instance_url()
        ))
        .query(&[
            ("response_type", "code"),
            ("client_id", s.sim.client_id()),
            ("redirect_uri", redirect),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(redirect));
    let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(params["state"], "xyz");
    let code = params["code"].clone();

    let exchange = |verifier: &'static str, code: String| {
        let s = &s;
        async move {
            token_request(
                s,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("client_id", s.sim.client_id()),
                    ("redirect_uri", redirect),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    let (status, body) = exchange(verifier, code.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        set(&[
            "access_token",
            "refresh_token",
            "signature",
            "scope",
            "instance_url",
            "id",
            "token_type",
            "issued_at"
        ])
    );
    // A code is single-use.
    let (status, reused) = exchange(verifier, code).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(reused["error_description"], "invalid authorization code");

    // Rotation: each refresh token works once and yields the next.
    let first = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let s = &s;
        async move {
            token_request(
                s,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", s.sim.client_id()),
                    ("client_secret", s.sim.client_secret()),
                    ("refresh_token", &token),
                ],
            )
            .await
        }
    };
    let (status, refreshed) = refresh(first.clone()).await;
    assert_eq!(status, 200);
    let second = refreshed["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let (status, dead) = refresh(first).await;
    assert_eq!(status, 400);
    assert_eq!(
        dead,
        json!({"error":"invalid_grant","error_description":"expired access/refresh token"})
    );
    let (status, _) = refresh(second).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn pkce_verifier_must_match() {
    let s = start(Simulator::builder().records(200)).await;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(
        b"the-right-verifier-0123456789-abcdefghijkl",
    ));
    let response = s
        .http
        .get(format!(
            "{}/services/oauth2/authorize",
            s.sim.instance_url()
        ))
        .query(&[
            ("response_type", "code"),
            ("client_id", s.sim.client_id()),
            ("redirect_uri", "https://app.example/cb"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (status, body) = token_request(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", s.sim.client_id()),
            ("redirect_uri", "https://app.example/cb"),
            (
                "code_verifier",
                "a-different-verifier-0123456789-abcdefghijkl",
            ),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error":"invalid_grant","error_description":"invalid code verifier"})
    );
}

#[tokio::test]
async fn refresh_tokens_without_rotation_are_reusable() {
    let s = start(Simulator::builder().records(200)).await;
    let response = s
        .http
        .get(format!(
            "{}/services/oauth2/authorize",
            s.sim.instance_url()
        ))
        .query(&[
            ("response_type", "code"),
            ("client_id", s.sim.client_id()),
            ("redirect_uri", "https://app.example/cb"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    // Without PKCE the confidential client authenticates with its secret.
    let (status, body) = token_request(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", s.sim.client_id()),
            ("client_secret", s.sim.client_secret()),
            ("redirect_uri", "https://app.example/cb"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["refresh_token"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let (status, refreshed) = token_request(
            &s,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", s.sim.client_id()),
                ("refresh_token", &token),
            ],
        )
        .await;
        assert_eq!(status, 200);
        assert!(refreshed.get("refresh_token").is_none());
        assert!(refreshed.get("issued_at").is_some());
    }
}

#[tokio::test]
async fn jwt_bearer_checks_signature_and_claims() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let s = start(
        Simulator::builder()
            .records(200)
            .jwt_public_key_pem(key.public_key_pem()),
    )
    .await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |claims: Value, signer: &rcgen::KeyPair| {
        let encoding =
            jsonwebtoken::EncodingKey::from_rsa_pem(signer.serialize_pem().as_bytes()).unwrap();
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &encoding,
        )
        .unwrap()
    };
    // simple-salesforce sends exp as a numeric string.
    let good = json!({
        "iss": s.sim.client_id(), "sub": s.sim.username(),
        "aud": "https://login.salesforce.com", "exp": format!("{}", now + 180),
    });
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let (status, body) = token_request(
        &s,
        &[
            ("grant_type", grant),
            ("assertion", &sign(good.clone(), &key)),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        set(&["access_token", "scope", "instance_url", "id", "token_type"])
    );
    let token = body["access_token"].as_str().unwrap();
    let response = s
        .http
        .get(format!(
            "{}/services/data/v62.0/limits",
            s.sim.instance_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let cases = [
        (
            json!({"aud": "https://evil.example"}),
            "invalid_grant",
            "audience is invalid",
        ),
        (
            json!({"exp": now - 10}),
            "invalid_grant",
            "invalid assertion",
        ),
        (
            json!({"sub": "someone@else.example"}),
            "invalid_grant",
            "user hasn't approved this consumer",
        ),
        (
            json!({"iss": "not-the-client"}),
            "invalid_client_id",
            "client identifier invalid",
        ),
    ];
    for (change, error, description) in cases {
        let mut claims = good.clone();
        for (k, v) in change.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let (status, body) = token_request(
            &s,
            &[("grant_type", grant), ("assertion", &sign(claims, &key))],
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"error": error, "error_description": description})
        );
    }
    let (status, body) = token_request(
        &s,
        &[("grant_type", grant), ("assertion", &sign(good, &other))],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error":"invalid_grant","error_description":"invalid assertion"})
    );
}

#[tokio::test]
async fn access_tokens_expire_into_invalid_session_id() {
    let s = start(
        Simulator::builder()
            .records(200)
            .access_token_ttl(Duration::from_millis(300)),
    )
    .await;
    assert_eq!(s.get("limits").send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, body) = Sim::status_and_json(s.get("limits")).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])
    );
    // No token at all is the same error.
    let anonymous = http_client(&s.sim).get(s.url("limits"));
    let (status, body) = Sim::status_and_json(anonymous).await;
    assert_eq!((status, error_code(&body)), (401, "INVALID_SESSION_ID"));
}
