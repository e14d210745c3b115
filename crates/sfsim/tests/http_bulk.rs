//! Bulk API 2.0 query jobs over HTTPS: states driven by polling, results paged by locator
//! with the literal `null` at the end, header rows, gzip, CSV options, abort/delete, 409.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use std::io::Read as _;

use coffer_sfsim::org::{CsvOptions, LineEnding};
use coffer_sfsim::server::Simulator;
use http_support::{Sim, error_code, start};
use serde_json::{Value, json};

async fn create_job(s: &Sim, body: Value) -> (u16, Value) {
    Sim::status_and_json(
        s.http
            .post(s.url("jobs/query"))
            .bearer_auth(&s.token)
            .json(&body),
    )
    .await
}

async fn poll_until_done(s: &Sim, id: &str) -> Value {
    let mut states = Vec::new();
    loop {
        let job = s.get_json(&format!("jobs/query/{id}")).await;
        let state = job["state"].as_str().unwrap().to_owned();
        states.push(state.clone());
        if matches!(state.as_str(), "JobComplete" | "Failed" | "Aborted") {
            // Clients must poll: the first status is never final.
            assert_eq!(states[0], "InProgress", "{states:?}");
            return job;
        }
        assert!(states.len() < 10, "{states:?}");
    }
}

/// Downloads every page; returns the pages' bodies and `Sforce-NumberOfRecords`.
async fn download(s: &Sim, id: &str, max_records: usize) -> Vec<(Vec<u8>, usize)> {
    let mut pages = Vec::new();
    let mut locator = String::new();
    loop {
        let mut query = vec![("maxRecords", max_records.to_string())];
        if !locator.is_empty() {
            query.push(("locator", locator.clone()));
        }
        let response = s
            .get(&format!("jobs/query/{id}/results"))
            .query(&query)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/csv");
        let count: usize = response.headers()["sforce-numberofrecords"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let next = response.headers()["sforce-locator"]
            .to_str()
            .unwrap()
            .to_owned();
        pages.push((response.bytes().await.unwrap().to_vec(), count));
        if next == "null" {
            return pages;
        }
        locator = next;
    }
}

#[tokio::test]
async fn query_job_lifecycle_and_paged_results_match_the_org() {
    let s = start(Simulator::builder().seed(4).records(6000)).await;
    let soql = "SELECT Id, Name, Account.Name, SystemModstamp FROM Contact";
    let (status, created) = create_job(&s, json!({"operation":"query","query":soql})).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["state"], "UploadComplete");
    assert_eq!(created["object"], "Contact");
    assert_eq!(created["apiVersion"], 62.0);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("750") && id.len() == 18);

    // Results are refused until the job completes.
    let (status, body) = Sim::status_and_json(s.get(&format!("jobs/query/{id}/results"))).await;
    assert_eq!((status, error_code(&body)), (400, "INVALIDJOB"));

    let done = poll_until_done(&s, &id).await;
    assert_eq!(done["state"], "JobComplete");
    assert_eq!(done["jobType"], "V2Query");
    let expected = s.sim.with_org(|org| org.bulk_query(soql, false).unwrap());
    assert_eq!(
        done["numberRecordsProcessed"].as_u64().unwrap() as usize,
        expected.len()
    );

    let pages = download(&s, &id, 1000).await;
    assert_eq!(pages.len(), expected.len().div_ceil(1000));
    let options = CsvOptions {
        delimiter: b',',
        line_ending: LineEnding::Lf,
    };
    let mut offset = 0;
    for (body, count) in &pages {
        // Every page is a standalone CSV with its header (airbyte reads it so).
        let mut want = Vec::new();
        expected.write_csv(offset..offset + count, &options, true, &mut want);
        assert_eq!(body, &want);
        offset += count;
    }
    assert_eq!(offset, expected.len());

    // Another API version is refused with 409.
    let other = s
        .http
        .get(format!(
            "{}/services/data/v61.0/jobs/query/{id}/results",
            s.sim.instance_url()
        ))
        .bearer_auth(&s.token);
    assert_eq!(Sim::status_and_json(other).await.0, 409);

    assert_eq!(
        s.http
            .delete(s.url(&format!("jobs/query/{id}")))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        Sim::status_and_json(s.get(&format!("jobs/query/{id}")))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn header_on_first_page_only_gzip_and_csv_options() {
    let s = start(
        Simulator::builder()
            .seed(4)
            .records(3000)
            .bulk_header_every_page(false),
    )
    .await;
    let soql = "SELECT Id, Name FROM Account";
    let (_, created) = create_job(
        &s,
        json!({"operation":"queryAll","query":soql,"contentType":"CSV","columnDelimiter":"PIPE","lineEnding":"CRLF"}),
    )
    .await;
    assert_eq!(created["columnDelimiter"], "PIPE");
    assert_eq!(created["lineEnding"], "CRLF");
    let id = created["id"].as_str().unwrap().to_owned();
    poll_until_done(&s, &id).await;
    let expected = s.sim.with_org(|org| org.bulk_query(soql, true).unwrap());
    let options = CsvOptions {
        delimiter: b'|',
        line_ending: LineEnding::Crlf,
    };
    let pages = download(&s, &id, 100).await;
    assert!(pages.len() > 1);
    let mut offset = 0;
    for (index, (body, count)) in pages.iter().enumerate() {
        let mut want = Vec::new();
        expected.write_csv(offset..offset + count, &options, index == 0, &mut want);
        assert_eq!(body, &want);
        offset += count;
    }

    let response = s
        .get(&format!("jobs/query/{id}/results"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut plain)
        .unwrap();
    let mut want = Vec::new();
    expected.write_csv(0..expected.len(), &options, true, &mut want);
    assert_eq!(plain, want);
}

#[tokio::test]
async fn abort_and_invalid_jobs() {
    let s = start(Simulator::builder().records(500)).await;
    let (_, created) = create_job(
        &s,
        json!({"operation":"query","query":"SELECT Id FROM Account"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, aborted) = Sim::status_and_json(
        s.http
            .patch(s.url(&format!("jobs/query/{id}")))
            .bearer_auth(&s.token)
            .json(&json!({"state":"Aborted"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(aborted["state"], "Aborted");
    assert_eq!(
        s.get_json(&format!("jobs/query/{id}")).await["state"],
        "Aborted"
    );

    let (status, body) = create_job(
        &s,
        json!({"operation":"query","query":"SELECT Id FROM Attachment"}),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "INVALIDENTITY"));
    let (status, body) = create_job(
        &s,
        json!({"operation":"query","query":"SELECT BillingAddress FROM Account"}),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "FUNCTIONALITY_NOT_ENABLED")
    );
    let (status, body) = create_job(
        &s,
        json!({"operation":"upsert","query":"SELECT Id FROM Account"}),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "INVALIDJOB"));
}
