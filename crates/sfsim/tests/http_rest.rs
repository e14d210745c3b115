//! REST endpoints over HTTPS: versions, resources, limits and the API counter, describe,
//! query/queryAll paging through `nextRecordsUrl` cursors, the cursor cap, blobs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use std::collections::BTreeSet;
use std::time::Duration;

use coffer_sfsim::server::Simulator;
use http_support::{Sim, V, error_code, http_client, start};
use serde_json::{Value, json};

#[tokio::test]
async fn versions_are_listed_and_not_counted() {
    let s = start(Simulator::builder().records(200)).await;
    let versions: Value = http_client(&s.sim)
        .get(format!("{}/services/data/", s.sim.instance_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = versions.as_array().unwrap();
    assert_eq!(
        list.last().unwrap(),
        &json!({"label":"Winter '25","url":"/services/data/v62.0","version":"62.0"})
    );
    assert!(list.iter().any(|v| v["version"] == "31.0"));
    assert_eq!(s.sim.api_calls_used(), 0);

    let resources = s.get_json("").await;
    assert_eq!(resources["query"], format!("/services/data/{V}/query"));
    assert_eq!(
        resources["sobjects"],
        format!("/services/data/{V}/sobjects")
    );
    let (status, body) = Sim::status_and_json(
        s.http
            .get(format!(
                "{}/services/data/v99.0/limits",
                s.sim.instance_url()
            ))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!((status, error_code(&body)), (404, "NOT_FOUND"));
}

#[tokio::test]
async fn plain_http_serves_the_same_api() {
    let s = start(Simulator::builder().records(200).plain_http(true)).await;
    assert!(s.sim.instance_url().starts_with("http://127.0.0.1:"));
    assert!(s.sim.ca_cert_pem().is_none());
    let page = s.query("SELECT Id FROM Account").await;
    assert!(page["totalSize"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn limit_counter_header_and_request_limit_exceeded() {
    let s = start(Simulator::builder().records(200).api_request_limit(5)).await;
    let first = s.get("limits/").send().await.unwrap();
    assert_eq!(first.headers()["sforce-limit-info"], "api-usage=1/5");
    let limits: Value = first.json().await.unwrap();
    assert_eq!(limits["DailyApiRequests"]["Max"], 5);
    assert_eq!(limits["DailyApiRequests"]["Remaining"], 4);
    for key in [
        "DailyBulkApiRequests",
        "DailyBulkV2QueryJobs",
        "DailyBulkV2QueryFileStorageMB",
        "DataStorageMB",
        "FileStorageMB",
    ] {
        assert!(limits[key]["Max"].is_u64(), "{key}");
    }
    for expected in 2..=5 {
        let response = s.get("limits").send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["sforce-limit-info"],
            format!("api-usage={expected}/5")
        );
    }
    let refused = s.get("limits").send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["sforce-limit-info"], "api-usage=5/5");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}])
    );
}

#[tokio::test]
async fn record_counts_and_describe() {
    let s = start(Simulator::builder().seed(3).records(400)).await;
    let counts = s
        .get_json("limits/recordCount?sObjects=Account,Contact")
        .await;
    let expected = s
        .sim
        .with_org(|org| org.record_counts(Some(&["Account".to_owned(), "Contact".to_owned()])));
    assert_eq!(counts, expected);
    assert!(
        counts["sObjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["name"] == "Account")
    );

    let global = s.get_json("sobjects").await;
    assert_eq!(global["encoding"], "UTF-8");
    assert_eq!(global["maxBatchSize"], 200);
    let describe = s.get_json("sobjects/Account/describe").await;
    assert_eq!(
        describe,
        s.sim.with_org(|org| org.describe("Account").unwrap())
    );
    // Metadata does not change while serving: describe honours If-Modified-Since with 304.
    for path in ["sobjects", "sobjects/Account/describe"] {
        let later = s
            .get(path)
            .header("If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT");
        assert_eq!(later.send().await.unwrap().status(), 304);
        let earlier = s
            .get(path)
            .header("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(earlier.send().await.unwrap().status(), 200);
    }
    let basic = s.get_json("sobjects/Account/").await;
    assert!(basic.get("objectDescribe").is_some());
    let (status, body) = Sim::status_and_json(s.get("sobjects/NoSuchThing__c/describe")).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "NOT_FOUND");
}

/// Follows `nextRecordsUrl` to the end; returns every record and the page sizes.
async fn drain(
    s: &Sim,
    endpoint: &str,
    soql: &str,
    batch: Option<usize>,
) -> (Vec<Value>, Vec<usize>) {
    let mut request = s.get(endpoint).query(&[("q", soql)]);
    if let Some(n) = batch {
        request = request.header("Sforce-Query-Options", format!("batchSize={n}"));
    }
    let mut page: Value = request.send().await.unwrap().json().await.unwrap();
    let total = page["totalSize"].as_u64().unwrap() as usize;
    let mut records = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let batch_records = page["records"].as_array().unwrap();
        sizes.push(batch_records.len());
        records.extend(batch_records.iter().cloned());
        if page["done"] == true {
            assert!(page.get("nextRecordsUrl").is_none());
            break;
        }
        let next = page["nextRecordsUrl"].as_str().unwrap().to_owned();
        // queryAll's cursor URL still says /query/.
        assert!(
            next.starts_with(&format!("/services/data/{V}/query/01g")),
            "{next}"
        );
        let (_, offset) = next.rsplit_once('-').unwrap();
        assert_eq!(offset.parse::<usize>().unwrap(), records.len());
        let mut more = s
            .http
            .get(format!("{}{next}", s.sim.instance_url()))
            .bearer_auth(&s.token);
        if let Some(n) = batch {
            more = more.header("Sforce-Query-Options", format!("batchSize={n}"));
        }
        page = more.send().await.unwrap().json().await.unwrap();
        assert_eq!(page["totalSize"].as_u64().unwrap() as usize, total);
    }
    assert_eq!(records.len(), total);
    (records, sizes)
}

#[tokio::test]
async fn query_pages_match_the_org_exactly() {
    let s = start(Simulator::builder().seed(11).records(12_000)).await;
    let soql = "SELECT Id, Name, SystemModstamp FROM Contact";
    let expected = s.sim.with_org(|org| org.query(soql, false, V).unwrap());
    assert!(expected.total_size > 2000, "the test needs several pages");
    let (records, sizes) = drain(&s, "query", soql, None).await;
    assert_eq!(records, expected.records);
    assert!(
        sizes[..sizes.len() - 1].iter().all(|&n| n == 2000),
        "{sizes:?}"
    );

    let (records, sizes) = drain(&s, "query", soql, Some(500)).await;
    assert_eq!(records, expected.records);
    assert_eq!(sizes[0], 500);
    // Below the minimum, Salesforce uses 200.
    let (_, sizes) = drain(&s, "query", soql, Some(10)).await;
    assert_eq!(sizes[0], 200);

    let all = s.sim.with_org(|org| org.query(soql, true, V).unwrap());
    let (records, _) = drain(&s, "queryAll", soql, Some(1000)).await;
    assert_eq!(records, all.records);

    let (status, body) =
        Sim::status_and_json(s.get("query").query(&[("q", "SELEC Id FROM")])).await;
    assert_eq!((status, error_code(&body)), (400, "MALFORMED_QUERY"));
}

#[tokio::test]
async fn eleven_open_cursors_kill_the_oldest_and_idle_cursors_expire() {
    let s = start(
        Simulator::builder()
            .seed(5)
            .records(3000)
            .cursor_ttl(Duration::from_millis(500)),
    )
    .await;
    let mut nexts = Vec::new();
    for _ in 0..11 {
        let page: Value = s
            .get("query")
            .query(&[("q", "SELECT Id FROM Contact")])
            .header("Sforce-Query-Options", "batchSize=200")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        nexts.push(page["nextRecordsUrl"].as_str().unwrap().to_owned());
    }
    let fetch = |next: &str| {
        Sim::status_and_json(
            s.http
                .get(format!("{}{next}", s.sim.instance_url()))
                .bearer_auth(&s.token),
        )
    };
    let (status, body) = fetch(&nexts[0]).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!([{"message":"invalid query locator","errorCode":"INVALID_QUERY_LOCATOR"}])
    );
    assert_eq!(fetch(&nexts[1]).await.0, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fetch(&nexts[2]).await.0, 400);
}

#[tokio::test]
async fn records_and_blob_bodies() {
    let s = start(Simulator::builder().seed(2).records(2000)).await;
    let account = s.query("SELECT Id FROM Account LIMIT 1").await;
    let id = account["records"][0]["Id"].as_str().unwrap().to_owned();
    let record = s.get_json(&format!("sobjects/Account/{id}")).await;
    assert_eq!(
        record,
        s.sim
            .with_org(|org| org.get_record("Account", &id, None, V).unwrap())
    );
    let some = s
        .get_json(&format!("sobjects/Account/{id}?fields=Name"))
        .await;
    let names: BTreeSet<&str> = some
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        names.contains("Name") && !names.contains("BillingCity"),
        "{names:?}"
    );

    for (object, field) in [("Attachment", "Body"), ("ContentVersion", "VersionData")] {
        let page = s.query(&format!("SELECT Id FROM {object} LIMIT 3")).await;
        for row in page["records"].as_array().unwrap() {
            let id = row["Id"].as_str().unwrap();
            let response = s
                .get(&format!("sobjects/{object}/{id}/{field}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            let bytes = response.bytes().await.unwrap();
            let (expected, _) = s.sim.with_org(|org| org.blob(object, id, field).unwrap());
            assert_eq!(bytes, expected);
        }
    }
}

#[tokio::test]
async fn two_long_text_fields_cap_the_batch_at_200() {
    let s = start(Simulator::builder().seed(12).records(8000)).await;
    let global = s.get_json("sobjects").await;
    let mut checked = 0;
    for entry in global["sobjects"].as_array().unwrap() {
        let object = entry["name"].as_str().unwrap();
        let describe = s.get_json(&format!("sobjects/{object}/describe")).await;
        let long: Vec<&str> = describe["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["type"] == "textarea" && f["length"].as_u64().unwrap() > 255)
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        if long.len() < 2 {
            continue;
        }
        let soql = format!("SELECT Id, {}, {} FROM {object}", long[0], long[1]);
        let page = s.query(&soql).await;
        if page["totalSize"].as_u64().unwrap() <= 200 {
            continue;
        }
        assert_eq!(page["records"].as_array().unwrap().len(), 200, "{soql}");
        let one = s
            .query(&format!("SELECT Id, {} FROM {object}", long[0]))
            .await;
        assert!(
            one["records"].as_array().unwrap().len() > 200,
            "one long field is not capped"
        );
        checked += 1;
    }
    assert!(
        checked > 0,
        "no object with two long text fields and over 200 rows"
    );
}
