//! Every injected fault, provoked over HTTPS, as a client sees it. Faults are set per run with
//! the builder, in-process with `set_faults`, or over `/_sim/faults` with the admin client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use std::time::{Duration, Instant};

use coffer_sfsim::server::{AdminClient, FaultPlan, Simulator};
use http_support::{Sim, client_credentials, error_code, start};
use serde_json::{Value, json};

fn plan(rules: &str) -> FaultPlan {
    rules.parse().unwrap()
}

#[tokio::test]
async fn session_expiry_and_server_errors() {
    let s = start(
        Simulator::builder()
            .records(200)
            .faults(plan("expired-session:at=2,http-500:at=3,http-503:at=4")),
    )
    .await;
    assert_eq!(s.get("limits").send().await.unwrap().status(), 200);
    let (status, body) = Sim::status_and_json(s.get("limits")).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])
    );
    // The session stays dead: the client must log in again.
    assert_eq!(s.get("limits").send().await.unwrap().status(), 401);
    let token = client_credentials(&s.sim, &s.http).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let with = |path: &str| s.http.get(s.url(path)).bearer_auth(&token);
    let (status, body) = Sim::status_and_json(with("limits")).await;
    assert_eq!((status, error_code(&body)), (500, "UNKNOWN_EXCEPTION"));
    let (status, body) = Sim::status_and_json(with("limits")).await;
    assert_eq!((status, error_code(&body)), (503, "SERVER_UNAVAILABLE"));
    assert_eq!(with("limits").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn slow_responses_and_truncated_bodies() {
    let s = start(Simulator::builder().records(200)).await;
    s.sim.set_faults(plan("slow=300:at=1,truncated-body:at=2"));
    let started = Instant::now();
    assert_eq!(s.get("limits").send().await.unwrap().status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let response = s.get("limits").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.is_err(),
        "the body must end short of its Content-Length"
    );
    // The server dropped that connection; the next request is served normally.
    assert_eq!(s.get("limits").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn query_timeout_and_invalid_query_locator() {
    let s = start(Simulator::builder().seed(1).records(3000)).await;
    let admin = AdminClient::new(
        s.sim.instance_url(),
        s.sim.ca_cert_pem(),
        s.sim.client_secret(),
    )
    .unwrap();
    admin
        .set_faults(&plan("query-timeout:at=1,invalid-query-locator:at=1"))
        .await
        .unwrap();
    let soql = [("q", "SELECT Id FROM Contact")];
    let (status, body) = Sim::status_and_json(s.get("query").query(&soql)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!([{"message":"Your query request was running for too long.","errorCode":"QUERY_TIMEOUT"}])
    );
    let page: Value = s
        .get("query")
        .query(&soql)
        .header("Sforce-Query-Options", "batchSize=200")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let next = page["nextRecordsUrl"].as_str().unwrap();
    let fetch = || {
        s.http
            .get(format!("{}{next}", s.sim.instance_url()))
            .bearer_auth(&s.token)
    };
    let (status, body) = Sim::status_and_json(fetch()).await;
    assert_eq!((status, error_code(&body)), (400, "INVALID_QUERY_LOCATOR"));
    // The cursor is gone for good.
    assert_eq!(Sim::status_and_json(fetch()).await.0, 400);

    // A wrong admin secret is refused.
    let intruder = AdminClient::new(s.sim.instance_url(), s.sim.ca_cert_pem(), "guess").unwrap();
    assert!(intruder.set_faults(&FaultPlan::default()).await.is_err());
}

async fn run_job(s: &Sim, soql: &str) -> (u16, Value) {
    let (status, created) = Sim::status_and_json(
        s.http
            .post(s.url("jobs/query"))
            .bearer_auth(&s.token)
            .json(&json!({"operation":"query","query":soql})),
    )
    .await;
    if status != 200 {
        return (status, created);
    }
    let id = created["id"].as_str().unwrap();
    loop {
        let job = s.get_json(&format!("jobs/query/{id}")).await;
        if job["state"] != "InProgress" && job["state"] != "UploadComplete" {
            return (200, job);
        }
    }
}

#[tokio::test]
async fn bulk_failures_invalid_entity_and_nul_bytes() {
    let s = start(Simulator::builder().records(500)).await;
    s.sim.set_faults(plan(
        "invalid-entity:at=1,bulk-failed=retries:at=2,bulk-failed=timeout:at=3,nul-bytes:at=1",
    ));
    let soql = "SELECT Id, Name FROM Account";
    let (status, body) = run_job(&s, soql).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!([{"message":"Entity 'Account' is not supported by the Bulk API.","errorCode":"INVALIDENTITY"}])
    );
    let (_, failed) = run_job(&s, soql).await;
    assert_eq!(failed["state"], "Failed");
    assert_eq!(failed["errorMessage"], "Retried more than fifteen times");
    let (_, failed) = run_job(&s, soql).await;
    assert_eq!(failed["state"], "Failed");
    assert!(
        failed["errorMessage"]
            .as_str()
            .unwrap()
            .contains("QUERY_TIMEOUT")
    );
    let (_, done) = run_job(&s, soql).await;
    assert_eq!(done["state"], "JobComplete");
    let id = done["id"].as_str().unwrap();
    let body = s
        .get(&format!("jobs/query/{id}/results"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.iter().filter(|&&b| b == 0).count(), 1);
    let second = s
        .get(&format!("jobs/query/{id}/results"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(!second.contains(&0));
}
