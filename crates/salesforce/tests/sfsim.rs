//! The client against the simulator over real HTTPS (rustls, the simulator's throwaway CA):
//! full extraction through Bulk and REST compared with the seeded org, incremental windows
//! after writes, deletes, OAuth flows, the API budget, and one test per injected fault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coffer_salesforce::auth::{self, Credentials};
use coffer_salesforce::extract::{self, ExtractStats};
use coffer_salesforce::retry::{PollPolicy, RetryPolicy};
use coffer_salesforce::{
    BulkSupport, Checkpoint, Client, ClientBuilder, Error, ExtractOptions, Extraction, Method,
    ObjectPlan, Record, SalesforceApi, Timestamp, Window, WriteOp,
};
use coffer_sfsim::org::Mutation;
use coffer_sfsim::server::{
    FaultKind, FaultPlan, FaultRule, RunningSimulator, Simulator, SimulatorBuilder, Trigger,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

const RECORDS: usize = 3000;

async fn start(b: SimulatorBuilder) -> RunningSimulator {
    b.seed(11).records(RECORDS).start().await.unwrap()
}

fn builder(sim: &RunningSimulator) -> ClientBuilder {
    Client::builder(
        sim.instance_url(),
        Credentials::ClientCredentials {
            client_id: sim.client_id().to_owned(),
            client_secret: SecretString::from(sim.client_secret().to_owned()),
        },
    )
    .native_roots(false)
    .extra_root_pem(sim.ca_cert_pem().unwrap().as_bytes().to_vec())
    .retry(RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    })
    .query_batch_size(200)
}

fn opts() -> ExtractOptions {
    ExtractOptions {
        bulk_page_records: 250,
        poll: PollPolicy {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(20),
            timeout: Duration::from_secs(60),
        },
        ..ExtractOptions::default()
    }
}

fn far_future() -> Timestamp {
    Timestamp::now().plus_millis(400 * 86_400_000)
}

/// Ids the org itself returns for a SOQL query (queryAll: deleted rows too).
fn org_ids(sim: &RunningSimulator, soql: &str) -> BTreeSet<String> {
    sim.with_org(|org| org.query(soql, true, "v62.0"))
        .unwrap()
        .records
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect()
}

async fn plan(client: &Client, object: &str) -> ObjectPlan {
    ObjectPlan::from_describe(&client.describe(object).await.unwrap())
}

async fn drain(ex: &mut Extraction<'_, Client>, out: &mut Vec<Record>) -> Result<(), Error> {
    while let Some(page) = ex.next_page().await? {
        assert!(!page.is_empty());
        // A Bulk page's typed rows are the records it yields.
        let bulk_ids: Option<Vec<String>> = page.as_bulk().map(|bulk| {
            bulk.rows()
                .map(|row| row.get("Id").unwrap().as_str().unwrap().to_owned())
                .collect()
        });
        let before = out.len();
        out.extend(page);
        if let Some(ids) = bulk_ids {
            let yielded: Vec<&str> = out[before..]
                .iter()
                .map(|r| r["Id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, yielded);
        }
    }
    Ok(())
}

async fn extract(
    client: &Client,
    object: &str,
    method: Method,
    window: Window,
    support: &BulkSupport,
) -> (Vec<Record>, ExtractStats) {
    let plan = plan(client, object).await;
    let mut ex = Extraction::new(client, plan, method, window, opts(), support.clone()).unwrap();
    let mut out = Vec::new();
    drain(&mut ex, &mut out).await.unwrap();
    (out, ex.stats())
}

/// Asserts no Id repeats and the Id set equals `expected`.
fn assert_exact(records: &[Record], expected: &BTreeSet<String>) {
    let ids: Vec<&str> = records.iter().map(|r| r["Id"].as_str().unwrap()).collect();
    let set: BTreeSet<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(ids.len(), set.len(), "duplicate records");
    assert_eq!(&set, expected);
}

async fn full(
    sim: &RunningSimulator,
    client: &Client,
    object: &str,
    method: Method,
) -> ExtractStats {
    let expected = org_ids(sim, &format!("SELECT Id FROM {object}"));
    assert!(
        expected.len() > 250,
        "{object} too small for paging: {}",
        expected.len()
    );
    let (records, stats) = extract(
        client,
        object,
        method,
        Window::full(far_future()),
        &BulkSupport::default(),
    )
    .await;
    assert_exact(&records, &expected);
    assert!(stats.pages > 1);
    stats
}

fn plan_of(kind: FaultKind, at: u64) -> FaultPlan {
    FaultPlan {
        seed: 1,
        rules: vec![FaultRule {
            kind,
            trigger: Trigger::At(at),
        }],
    }
}

const BIG: &str = "Contact";

#[tokio::test]
async fn rest_full_extraction_matches_org() {
    let sim = start(Simulator::builder()).await;
    let client = builder(&sim).build().unwrap();
    full(&sim, &client, BIG, Method::Rest).await;
    full(&sim, &client, "Account", Method::Rest).await;
}

#[tokio::test]
async fn bulk_full_extraction_matches_org_and_rest() {
    let sim = start(Simulator::builder()).await;
    let client = builder(&sim).build().unwrap();
    let stats = full(&sim, &client, BIG, Method::Bulk).await;
    assert!(stats.csv_bytes > 0);
    assert_eq!(stats.bulk_fallbacks, 0);
    // The same rows read both ways are the same records (typed CSV == REST JSON).
    let window = Window::full(far_future());
    let support = BulkSupport::default();
    let (mut bulk, _) = extract(&client, "Account", Method::Bulk, window.clone(), &support).await;
    let (mut rest, _) = extract(&client, "Account", Method::Rest, window, &support).await;
    let key = |r: &Record| r["Id"].as_str().unwrap().to_owned();
    bulk.sort_by_key(key);
    rest.sort_by_key(key);
    assert_eq!(bulk.len(), rest.len());
    for (b, r) in bulk.iter().zip(&rest) {
        assert_eq!(b, r);
    }
}

/// `start` has the org run the Bulk job before any row is read, so a caller can start an
/// object's read ahead of reading it: the rows are the org as it was when the job ran (a job's
/// result is a snapshot), and a second `start` sends nothing.
#[tokio::test]
async fn bulk_start_runs_the_job_before_the_first_page() {
    let sim = start(Simulator::builder()).await;
    let client = builder(&sim).build().unwrap();
    let soql = format!("SELECT Id FROM {BIG}");
    let expected = org_ids(&sim, &soql);
    let plan = plan(&client, BIG).await;
    let window = Window::full(far_future());
    let support = BulkSupport::default();
    let mut ex = Extraction::new(&client, plan, Method::Bulk, window, opts(), support).unwrap();
    ex.start().await.unwrap();
    let calls = sim.api_calls_used();
    ex.start().await.unwrap();
    assert_eq!(sim.api_calls_used(), calls);
    let change = sim.mutate(&Mutation {
        seed: 3,
        update_pct: 0.0,
        delete_pct: 5.0,
        create_pct: 5.0,
    });
    assert!(change.objects[BIG].created > 0);
    assert_ne!(org_ids(&sim, &soql), expected);
    let mut out = Vec::new();
    drain(&mut ex, &mut out).await.unwrap();
    assert_exact(&out, &expected);
    assert!(ex.stats().pages > 1);
}

#[tokio::test]
async fn bulk_pages_read_without_gzip_equal_pages_read_with_it() {
    let sim = start(Simulator::builder()).await;
    let gzip = builder(&sim).build().unwrap();
    let plain = builder(&sim).bulk_gzip(false).build().unwrap();
    let window = Window::full(far_future());
    let support = BulkSupport::default();
    let (zipped, zipped_stats) = extract(&gzip, BIG, Method::Bulk, window.clone(), &support).await;
    let (unzipped, unzipped_stats) = extract(&plain, BIG, Method::Bulk, window, &support).await;
    assert!(zipped_stats.pages > 1);
    // Same records in the same order, page for page.
    assert_eq!(zipped, unzipped);
    assert_eq!(zipped_stats, unzipped_stats);
}

/// Every failure leaves a Bulk extraction resumable, the next page's fetch (which runs while
/// the page before it is decoded) included: with a server error on every other call and a
/// client that does not retry, calling `next_page` again after each error still reads every
/// row exactly once.
#[tokio::test]
async fn bulk_extraction_resumes_after_each_failed_call() {
    let faults = FaultPlan {
        seed: 1,
        rules: vec![FaultRule {
            kind: FaultKind::ServerError,
            trigger: Trigger::Every(2),
        }],
    };
    let sim = start(Simulator::builder().faults(faults)).await;
    let client = builder(&sim)
        .retry(RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let expected = org_ids(&sim, &format!("SELECT Id FROM {BIG}"));
    let mut describe = client.describe(BIG).await;
    while describe.is_err() {
        describe = client.describe(BIG).await;
    }
    let plan = ObjectPlan::from_describe(&describe.unwrap());
    let mut ex = Extraction::new(
        &client,
        plan,
        Method::Bulk,
        Window::full(far_future()),
        ExtractOptions {
            bulk_page_records: 100,
            ..opts()
        },
        BulkSupport::default(),
    )
    .unwrap();
    let (mut records, mut failures) = (Vec::new(), 0);
    loop {
        match ex.next_page().await {
            Ok(Some(page)) => records.extend(page),
            Ok(None) => break,
            Err(e) => {
                assert!(e.is_transient(), "{e:?}");
                failures += 1;
                assert!(failures < 1000, "no progress");
            }
        }
    }
    assert!(failures > 3, "{failures}");
    assert!(ex.stats().pages > 3);
    assert_eq!(ex.stats().bulk_fallbacks, 0);
    assert_exact(&records, &expected);
}

#[tokio::test]
async fn bulk_pages_without_repeated_header() {
    let sim = start(Simulator::builder().bulk_header_every_page(false)).await;
    let client = builder(&sim).build().unwrap();
    full(&sim, &client, BIG, Method::Bulk).await;
}

#[tokio::test]
async fn plain_http_is_accepted_on_loopback() {
    let sim = start(Simulator::builder().plain_http(true)).await;
    assert!(sim.instance_url().starts_with("http://127.0.0.1"));
    // Plain HTTP to loopback is allowed (the platform roots are loaded but unused).
    let client = Client::builder(
        sim.instance_url(),
        Credentials::ClientCredentials {
            client_id: sim.client_id().to_owned(),
            client_secret: SecretString::from(sim.client_secret().to_owned()),
        },
    )
    .build()
    .unwrap();
    let versions = client.api_versions().await.unwrap();
    assert!(versions.iter().any(|v| v.version == "62.0"));
}

#[tokio::test]
async fn discovery_and_limits() {
    let sim = start(Simulator::builder()).await;
    let client = builder(&sim).build().unwrap();
    let global = client.describe_global().await.unwrap();
    assert!(
        global
            .sobjects
            .iter()
            .any(|o| o.name == "Account" && o.queryable)
    );
    let limits = client.limits().await.unwrap();
    assert!(limits.daily_api_requests.is_some());
    assert!(client.budget().last().is_some());
    let count = client.record_count(BIG).await.unwrap();
    assert!(count.unwrap() > 0);
    let plan = plan(&client, "Account").await;
    assert!(plan.queryable && plan.has_system_modstamp && plan.has_is_deleted);
    assert_eq!(plan.fields[0].name, "Id");
    // Compound fields are planned out, and what is selected is accepted by Bulk.
    assert!(plan.compound_fields.iter().any(|f| f == "BillingAddress"));
}

#[tokio::test]
async fn incremental_after_writes_and_deletes() {
    let sim = start(Simulator::builder()).await;
    let client = builder(&sim).build().unwrap();
    let t0 = Timestamp(sim.with_org(|o| o.now_millis()));
    let support = BulkSupport::default();
    let (base, _) = extract(&client, "Account", Method::Rest, Window::full(t0), &support).await;
    let ids: Vec<String> = base
        .iter()
        .filter(|r| r["IsDeleted"] == Value::Bool(false))
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .take(7)
        .collect();

    // Update 5, delete 2, create 3 through the collections API.
    let updates: Vec<Record> = ids[..5]
        .iter()
        .map(|id| {
            let mut r = Record::new();
            r.insert("Id".into(), Value::String(id.clone()));
            r.insert("Name".into(), Value::String(format!("Renamed {id}")));
            r
        })
        .collect();
    let res = client
        .write_all(&WriteOp::Update, "Account", &updates, true)
        .await
        .unwrap();
    assert!(res.iter().all(|r| r.success), "{res:?}");
    let deletes: Vec<Record> = ids[5..]
        .iter()
        .map(|id| {
            let mut r = Record::new();
            r.insert("Id".into(), Value::String(id.clone()));
            r
        })
        .collect();
    let res = client
        .write_all(&WriteOp::Delete, "Account", &deletes, false)
        .await
        .unwrap();
    assert!(res.iter().all(|r| r.success), "{res:?}");
    let creates: Vec<Record> = (0..3)
        .map(|i| {
            let mut r = Record::new();
            r.insert("Name".into(), Value::String(format!("New account {i}")));
            r
        })
        .collect();
    let res = client
        .write_all(&WriteOp::Create, "Account", &creates, false)
        .await
        .unwrap();
    assert!(res.iter().all(|r| r.success && r.id.is_some()), "{res:?}");
    let created: BTreeSet<String> = res.iter().map(|r| r.id.clone().unwrap()).collect();

    let t1 = Timestamp(sim.with_org(|o| o.now_millis())).plus_millis(1);
    let window = Window::incremental(t0, t1, coffer_salesforce::window::DEFAULT_LOOKBACK);
    let expected = org_ids(
        &sim,
        &format!("SELECT Id FROM Account WHERE {}", window.condition()),
    );
    let (changed, _) = extract(&client, "Account", Method::Rest, window.clone(), &support).await;
    assert_exact(&changed, &expected);
    let got: BTreeSet<String> = changed
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect();
    for id in ids.iter().chain(&created) {
        assert!(got.contains(id), "change to {id} missed");
    }
    for r in &changed {
        let id = r["Id"].as_str().unwrap();
        if ids[5..].iter().any(|d| d == id) {
            assert_eq!(r["IsDeleted"], Value::Bool(true));
        }
        if ids[..5].iter().any(|u| u == id) {
            assert_eq!(r["Name"], Value::String(format!("Renamed {id}")));
        }
    }
    // The same window through Bulk gives the same rows.
    let (bulk, _) = extract(&client, "Account", Method::Bulk, window, &support).await;
    assert_exact(&bulk, &expected);

    // getDeleted sees both deletes; emptying the Recycle Bin forces a full resync.
    let end = t1.plus_millis(120_000);
    let deleted = extract::deleted_since(&client, "Account", t0, end)
        .await
        .unwrap();
    let deleted: BTreeSet<&str> = deleted.records.iter().map(|d| d.id.as_str()).collect();
    for id in &ids[5..] {
        assert!(deleted.contains(id.as_str()));
    }
    let updated = client.updated("Account", t0, end).await.unwrap();
    for id in &ids[..5] {
        assert!(updated.ids.contains(id));
    }
    let admin = reqwest_client(&sim);
    let resp = admin
        .post(format!("{}/_sim/recycle-bin/empty", sim.instance_url()))
        .bearer_auth(sim.client_secret())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let err = extract::deleted_since(&client, "Account", t0, end.plus_millis(120_000))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::FullResyncRequired { .. }), "{err:?}");
}

fn reqwest_client(sim: &RunningSimulator) -> reqwest::Client {
    let tls = coffer_salesforce::tls::rustls_config(&coffer_salesforce::tls::TransportOptions {
        native_roots: false,
        extra_roots_pem: vec![sim.ca_cert_pem().unwrap().as_bytes().to_vec()],
        ..Default::default()
    })
    .unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn upsert_and_all_or_none_results() {
    let sim = start(Simulator::builder()).await;
    let client = builder(&sim).build().unwrap();
    // allOrNone: one bad record rolls back the good one.
    let mut good = Record::new();
    good.insert("Name".into(), Value::String("Good".into()));
    let mut bad = Record::new();
    bad.insert("NoSuchField__c".into(), Value::String("x".into()));
    let res = client
        .write_all(&WriteOp::Create, "Account", &[good.clone(), bad], true)
        .await
        .unwrap();
    assert_eq!(res.len(), 2);
    assert!(!res[0].success);
    assert_eq!(
        res[0].errors[0].status_code,
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert!(!res[1].success);
    // More than 200 records go in several requests, results in input order.
    let many: Vec<Record> = (0..450)
        .map(|i| {
            let mut r = Record::new();
            r.insert("Name".into(), Value::String(format!("Bulk restore {i}")));
            r
        })
        .collect();
    let res = client
        .write_all(&WriteOp::Create, "Account", &many, false)
        .await
        .unwrap();
    assert_eq!(res.len(), 450);
    assert!(res.iter().all(|r| r.success));
    let empty = client
        .write_all(&WriteOp::Delete, "Account", &[], false)
        .await
        .unwrap();
    assert!(empty.is_empty());
    // Upsert by Id: updates report created=false.
    let mut up = Record::new();
    up.insert("Id".into(), Value::String(res[0].id.clone().unwrap()));
    up.insert("Name".into(), Value::String("Upserted".into()));
    let op = WriteOp::Upsert {
        object: "Account".into(),
        external_id_field: "Id".into(),
    };
    let r = client
        .write_all(&op, "Account", &[up], false)
        .await
        .unwrap();
    assert!(r[0].success, "{r:?}");
    assert_eq!(r[0].created, Some(false));
}

#[tokio::test]
async fn blob_download_streams_bytes() {
    use tokio::io::AsyncReadExt;
    let sim = start(Simulator::builder()).await;
    let client = builder(&sim).build().unwrap();
    let plan = plan(&client, "ContentVersion").await;
    assert!(plan.blob_fields.iter().any(|f| f == "VersionData"));
    let page = client
        .query("SELECT Id FROM ContentVersion LIMIT 3", false)
        .await
        .unwrap();
    assert!(!page.records.is_empty());
    for r in &page.records {
        let id = r["Id"].as_str().unwrap();
        let (expected, _) = sim
            .with_org(|o| o.blob("ContentVersion", id, "VersionData"))
            .unwrap();
        let mut blob = client
            .download_blob("ContentVersion", id, "VersionData")
            .await
            .unwrap();
        let mut got = Vec::new();
        blob.reader.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, expected.as_ref());
    }
    assert!(matches!(
        client
            .download_blob("ContentVersion", "../x", "VersionData")
            .await,
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn web_server_flow_pkce_and_refresh_rotation() {
    let sim = start(Simulator::builder().rotate_refresh_tokens(true)).await;
    let http = reqwest_client(&sim);
    let redirect = "http://localhost:1717/callback";
    let req = auth::authorization_request(
        sim.instance_url(),
        sim.client_id(),
        redirect,
        &["api", "refresh_token"],
    )
    .unwrap();
    let resp = http.get(req.url.clone()).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let pairs: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], req.state);
    let code = SecretString::from(pairs["code"].clone());
    // A wrong verifier is refused with a typed OAuth error.
    let wrong = SecretString::from("x".repeat(43));
    let err = auth::exchange_code(
        &http,
        sim.instance_url(),
        sim.client_id(),
        None,
        redirect,
        &code,
        &wrong,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    let resp = http.get(req.url.clone()).send().await.unwrap();
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code: String = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let tokens = auth::exchange_code(
        &http,
        sim.instance_url(),
        sim.client_id(),
        Some(&SecretString::from(sim.client_secret().to_owned())),
        redirect,
        &SecretString::from(code),
        &req.pkce.verifier,
    )
    .await
    .unwrap();
    let first_refresh = tokens.refresh_token.clone().unwrap();

    // Refresh with rotation: every login hands the new refresh token to the hook.
    let rotated: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = Arc::clone(&rotated);
    let client = Client::builder(
        sim.instance_url(),
        Credentials::RefreshToken {
            client_id: sim.client_id().to_owned(),
            client_secret: Some(SecretString::from(sim.client_secret().to_owned())),
            refresh_token: first_refresh.clone(),
        },
    )
    .native_roots(false)
    .extra_root_pem(sim.ca_cert_pem().unwrap().as_bytes().to_vec())
    .on_token_rotation(Arc::new(move |t: &coffer_salesforce::TokenSet| {
        if let Some(r) = &t.refresh_token {
            seen.lock().unwrap().push(r.expose_secret().to_owned());
        }
    }))
    .build()
    .unwrap();
    client.describe_global().await.unwrap();
    // Expire the session on the next call: the client refreshes with the rotated token.
    sim.set_faults(plan_of(FaultKind::ExpiredSession, 1));
    client.describe("Account").await.unwrap();
    let rotated = rotated.lock().unwrap().clone();
    assert_eq!(rotated.len(), 2, "one rotation per login");
    assert_ne!(rotated[0], first_refresh.expose_secret());
    assert_ne!(rotated[0], rotated[1]);
    // The first refresh token was single-use.
    let stale = Client::builder(
        sim.instance_url(),
        Credentials::RefreshToken {
            client_id: sim.client_id().to_owned(),
            client_secret: Some(SecretString::from(sim.client_secret().to_owned())),
            refresh_token: first_refresh,
        },
    )
    .native_roots(false)
    .extra_root_pem(sim.ca_cert_pem().unwrap().as_bytes().to_vec())
    .build()
    .unwrap();
    let err = stale.describe_global().await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn jwt_bearer_flow() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let sim = start(Simulator::builder().jwt_public_key_pem(key.public_key_pem())).await;
    let jwt = |audience: &str, username: &str| {
        Client::builder(
            sim.instance_url(),
            Credentials::JwtBearer {
                client_id: sim.client_id().to_owned(),
                username: username.to_owned(),
                private_key_pem: SecretString::from(key.serialize_pem()),
                audience: audience.to_owned(),
            },
        )
        .native_roots(false)
        .extra_root_pem(sim.ca_cert_pem().unwrap().as_bytes().to_vec())
        .build()
        .unwrap()
    };
    let client = jwt(auth::LOGIN_URL, sim.username());
    let global = client.describe_global().await.unwrap();
    assert!(!global.sobjects.is_empty());
    // A key the org does not know is refused with a typed OAuth error.
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let stranger = Client::builder(
        sim.instance_url(),
        Credentials::JwtBearer {
            client_id: sim.client_id().to_owned(),
            username: sim.username().to_owned(),
            private_key_pem: SecretString::from(other.serialize_pem()),
            audience: auth::LOGIN_URL.to_owned(),
        },
    )
    .native_roots(false)
    .extra_root_pem(sim.ca_cert_pem().unwrap().as_bytes().to_vec())
    .build()
    .unwrap();
    let err = stranger.describe_global().await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
}

#[tokio::test]
async fn budget_stops_resumably_then_limit_is_typed() {
    // Size the daily limit from the org: describe + one call per 200-record page, plus slack.
    let counting = start(Simulator::builder()).await;
    let expected = org_ids(&counting, &format!("SELECT Id FROM {BIG}"));
    let pages = expected.len().div_ceil(200) as u64;
    assert!(pages >= 3);
    let limit = pages + 3;
    let sim = start(Simulator::builder().api_request_limit(limit)).await;
    assert_eq!(org_ids(&sim, &format!("SELECT Id FROM {BIG}")), expected);

    // Stop at half the daily limit: a clean, typed, resumable stop.
    let client = builder(&sim).budget_share(0.5).build().unwrap();
    let plan = plan(&client, BIG).await;
    let support = BulkSupport::default();
    let mut ex = Extraction::new(
        &client,
        plan.clone(),
        Method::Rest,
        Window::full(far_future()),
        opts(),
        support.clone(),
    )
    .unwrap();
    let mut records = Vec::new();
    let err = drain(&mut ex, &mut records).await.unwrap_err();
    assert!(
        matches!(err, Error::BudgetReached { max, .. } if max == limit),
        "{err:?}"
    );
    assert!(!records.is_empty() && records.len() < expected.len());
    let checkpoint: Checkpoint =
        serde_json::from_str(&serde_json::to_string(&ex.checkpoint()).unwrap()).unwrap();

    // A client allowed the whole limit resumes exactly after the last record read.
    let client2 = builder(&sim).budget_share(1.0).build().unwrap();
    let mut ex2 = Extraction::resume(&client2, plan, checkpoint, opts(), support).unwrap();
    drain(&mut ex2, &mut records).await.unwrap();
    assert_exact(&records, &expected);

    // Spend the rest: the budget stops the client at the limit...
    let stop = loop {
        if let Err(e) = client2.describe_global().await {
            break e;
        }
    };
    assert!(matches!(stop, Error::BudgetReached { .. }), "{stop:?}");
    // ...and a client that has not seen the usage gets Salesforce's 403, typed.
    let fresh = builder(&sim).build().unwrap();
    let err = fresh.describe_global().await.unwrap_err();
    assert!(matches!(err, Error::LimitExceeded { .. }), "{err:?}");
}

// --- one test per injected fault ---

/// A full REST extraction under one fault: returns its stats and how many more API calls it
/// took than the same extraction without the fault (the retries the fault caused).
async fn fault_rest(kind: FaultKind, at: u64) -> (ExtractStats, u64) {
    let clean = start(Simulator::builder()).await;
    let client = builder(&clean).build().unwrap();
    full(&clean, &client, BIG, Method::Rest).await;
    let baseline = clean.api_calls_used();

    let sim = start(Simulator::builder().faults(plan_of(kind, at))).await;
    let client = builder(&sim).build().unwrap();
    let stats = full(&sim, &client, BIG, Method::Rest).await;
    (stats, sim.api_calls_used().saturating_sub(baseline))
}

async fn fault_bulk(kind: FaultKind, at: u64) -> (ExtractStats, BulkSupport) {
    let sim = start(Simulator::builder().faults(plan_of(kind, at))).await;
    let client = builder(&sim).build().unwrap();
    let expected = org_ids(&sim, &format!("SELECT Id FROM {BIG}"));
    let support = BulkSupport::default();
    let (records, stats) = extract(
        &client,
        BIG,
        Method::Bulk,
        Window::full(far_future()),
        &support,
    )
    .await;
    assert_exact(&records, &expected);
    (stats, support)
}

/// The same fault against a client that cannot recover (no retries; a fixed access token
/// that cannot be refreshed): proves the fault fired, and gives its typed error.
async fn fault_unrecovered(kind: FaultKind, at: u64) -> Error {
    let sim = start(Simulator::builder().faults(plan_of(kind, at))).await;
    let client = Client::builder(
        sim.instance_url(),
        Credentials::AccessToken {
            access_token: SecretString::from(sim.access_token()),
            instance_url: sim.instance_url().to_owned(),
        },
    )
    .native_roots(false)
    .extra_root_pem(sim.ca_cert_pem().unwrap().as_bytes().to_vec())
    .retry(RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    })
    .query_batch_size(200)
    .build()
    .unwrap();
    let plan = plan(&client, BIG).await;
    let mut ex = Extraction::new(
        &client,
        plan,
        Method::Rest,
        Window::full(far_future()),
        opts(),
        BulkSupport::default(),
    )
    .unwrap();
    drain(&mut ex, &mut Vec::new()).await.unwrap_err()
}

#[tokio::test]
async fn fault_expired_session_refreshes_once() {
    fault_rest(FaultKind::ExpiredSession, 3).await;
    let err = fault_unrecovered(FaultKind::ExpiredSession, 3).await;
    assert!(
        matches!(&err, Error::Auth { error, .. } if error == "INVALID_SESSION_ID"),
        "{err:?}"
    );
}

#[tokio::test]
async fn fault_server_error_is_retried() {
    fault_rest(FaultKind::ServerError, 2).await;
    let err = fault_unrecovered(FaultKind::ServerError, 2).await;
    assert!(matches!(err, Error::Api { status: 500, .. }), "{err:?}");
}

#[tokio::test]
async fn fault_service_unavailable_is_retried() {
    fault_rest(FaultKind::ServiceUnavailable, 2).await;
    let err = fault_unrecovered(FaultKind::ServiceUnavailable, 2).await;
    assert!(matches!(err, Error::Api { status: 503, .. }), "{err:?}");
}

#[tokio::test]
async fn fault_query_timeout_unsplittable_is_typed() {
    // A window narrower than the minimum split cannot be split: the timeout surfaces, typed.
    let sim = start(Simulator::builder().faults(plan_of(FaultKind::QueryTimeout, 1))).await;
    let client = builder(&sim).build().unwrap();
    let plan = plan(&client, BIG).await;
    let t = Timestamp::now();
    let narrow = Window {
        start: t,
        end: t,
        after: None,
    };
    let mut ex = Extraction::new(
        &client,
        plan,
        Method::Rest,
        narrow,
        opts(),
        BulkSupport::default(),
    )
    .unwrap();
    let err = drain(&mut ex, &mut Vec::new()).await.unwrap_err();
    assert!(matches!(err, Error::QueryTimeout { .. }), "{err:?}");
}

#[tokio::test]
async fn fault_slow_response_still_completes() {
    let (_, extra) = fault_rest(FaultKind::Slow(200), 2).await;
    assert_eq!(extra, 0, "a slow answer is waited for, not retried");
}

#[tokio::test]
async fn fault_query_timeout_splits_the_window() {
    let (stats, _) = fault_rest(FaultKind::QueryTimeout, 1).await;
    assert_eq!(stats.window_splits, 1);
}

#[tokio::test]
async fn fault_invalid_query_locator_resumes_after_cursor() {
    let (stats, _) = fault_rest(FaultKind::InvalidQueryLocator, 1).await;
    assert_eq!(stats.cursor_restarts, 1);
}

#[tokio::test]
async fn fault_truncated_body_is_reread() {
    let (_, extra) = fault_rest(FaultKind::TruncatedBody, 3).await;
    assert_eq!(extra, 1);
}

#[tokio::test]
async fn fault_invalid_entity_falls_back_to_rest_and_is_remembered() {
    let (stats, support) = fault_bulk(FaultKind::InvalidEntity, 1).await;
    assert!(support.refused(BIG));
    assert_eq!(stats.csv_bytes, 0);
}

#[tokio::test]
async fn an_extraction_says_rest_once_bulk_refused_the_object() {
    let sim = start(Simulator::builder().faults(plan_of(FaultKind::InvalidEntity, 1))).await;
    let client = builder(&sim).build().unwrap();
    let expected = org_ids(&sim, &format!("SELECT Id FROM {BIG}"));
    let plan = plan(&client, BIG).await;
    let mut ex = Extraction::new(
        &client,
        plan,
        Method::Bulk,
        Window::full(far_future()),
        opts(),
        BulkSupport::default(),
    )
    .unwrap();
    assert_eq!(ex.method(), Method::Bulk);
    ex.start().await.unwrap();
    assert_eq!(ex.method(), Method::Rest);
    let mut records = Vec::new();
    drain(&mut ex, &mut records).await.unwrap();
    assert_exact(&records, &expected);
}

#[tokio::test]
async fn fault_bulk_failed_retries_falls_back_to_rest() {
    let (stats, _) = fault_bulk(FaultKind::BulkFailedRetries, 1).await;
    assert_eq!(stats.bulk_fallbacks, 1);
}

#[tokio::test]
async fn fault_bulk_failed_timeout_falls_back_to_rest() {
    let (stats, _) = fault_bulk(FaultKind::BulkFailedTimeout, 1).await;
    assert_eq!(stats.bulk_fallbacks, 1);
}

#[tokio::test]
async fn fault_nul_bytes_are_stripped() {
    let sim = start(Simulator::builder().faults(plan_of(FaultKind::NulBytes, 2))).await;
    let client = builder(&sim).build().unwrap();
    let support = BulkSupport::default();
    let window = Window::full(far_future());
    let (mut bulk, stats) = extract(&client, BIG, Method::Bulk, window.clone(), &support).await;
    assert_eq!(stats.bulk_fallbacks, 0);
    assert!(stats.pages >= 2, "the fault hits page 2");
    // Every value equals what REST returns: the NUL byte was removed, nothing else changed.
    let (mut rest, _) = extract(&client, BIG, Method::Rest, window, &support).await;
    let key = |r: &Record| r["Id"].as_str().unwrap().to_owned();
    bulk.sort_by_key(key);
    rest.sort_by_key(key);
    assert_eq!(bulk, rest);
}

#[tokio::test]
async fn fault_persistent_server_errors_give_typed_error() {
    let plan = FaultPlan {
        seed: 1,
        rules: vec![FaultRule {
            kind: FaultKind::ServerError,
            trigger: Trigger::Every(1),
        }],
    };
    let sim = start(Simulator::builder().faults(plan)).await;
    let client = builder(&sim).build().unwrap();
    let err = client.describe_global().await.unwrap_err();
    assert!(matches!(err, Error::Api { status: 500, .. }), "{err:?}");
}
