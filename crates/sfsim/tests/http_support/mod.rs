//! Shared helpers of the `http_*` integration tests: a started simulator and a reqwest client
//! that trusts it.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use coffer_sfsim::server::{RunningSimulator, SimulatorBuilder};
use serde_json::Value;

/// The API version the tests speak.
pub const V: &str = "v62.0";

/// A simulator with an authenticated client.
pub struct Sim {
    pub sim: RunningSimulator,
    pub http: reqwest::Client,
    pub token: String,
}

/// A client trusting the simulator's CA, without automatic gzip decoding (tests look at the
/// raw encoding).
pub fn http_client(sim: &RunningSimulator) -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .redirect(reqwest::redirect::Policy::none())
        .use_preconfigured_tls(sim.client_tls_config().unwrap())
        .build()
        .unwrap()
}

/// Starts `builder` and logs in with client credentials.
pub async fn start(builder: SimulatorBuilder) -> Sim {
    let sim = builder.start().await.unwrap();
    let http = http_client(&sim);
    let token = client_credentials(&sim, &http).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    Sim { sim, http, token }
}

pub async fn client_credentials(sim: &RunningSimulator, http: &reqwest::Client) -> Value {
    let response = http
        .post(format!("{}/services/oauth2/token", sim.instance_url()))
        .basic_auth(sim.client_id(), Some(sim.client_secret()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

impl Sim {
    /// `instance_url + /services/data/v62.0/ + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/services/data/{V}/{path}", self.sim.instance_url())
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(&self.token)
    }

    /// GET that must succeed; returns the JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A REST query's first page.
    pub async fn query(&self, soql: &str) -> Value {
        let response = self
            .get("query")
            .query(&[("q", soql)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The `{status, body}` of a request.
    pub async fn status_and_json(request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }
}

/// The single error of a Salesforce error array.
pub fn error_code(body: &Value) -> &str {
    body[0]["errorCode"].as_str().unwrap_or_default()
}
