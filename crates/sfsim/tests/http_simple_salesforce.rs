//! Fidelity: simple-salesforce (PyPI 1.12.10), an independent and widely used client, logs in
//! with a client-credentials token, runs `query_all`, a `bulk2` query download, describe,
//! limits, and collection insert/upsert against the simulator over HTTPS; every result must
//! match the simulator's org exactly. The Python comes from `scripts/test`
//! (`COFFER_TEST_PYTHON`); without it the test fails, it is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use coffer_sfsim::org::{CsvOptions, LineEnding};
use coffer_sfsim::server::Simulator;
use serde_json::Value;

const V: &str = "v62.0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_salesforce_sees_exactly_the_seeded_org() {
    let python = coffer_testkit::python().unwrap();
    let sim = Simulator::builder()
        .seed(8)
        .records(10_000)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, sim.ca_cert_pem().unwrap()).unwrap();
    let account_id = sim.with_org(|org| {
        org.query("SELECT Id FROM Account LIMIT 1", false, V)
            .unwrap()
            .records[0]["Id"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    let soql = "SELECT Id, Name, SystemModstamp FROM Contact";
    let expected_query = sim.with_org(|org| org.query(soql, false, V).unwrap());
    let bulk_soql = "SELECT Id, Name, Account.Name FROM Contact";
    let expected_bulk = sim.with_org(|org| org.bulk_query(bulk_soql, false).unwrap());
    let expected_describe = sim.with_org(|org| org.describe("Account").unwrap());
    let expected_global = sim.with_org(|org| org.describe_global());
    let project_before = sim.with_org(|org| {
        org.query(
            "SELECT Id FROM Project__c WHERE External_Id__c = 'PRJ-0000001'",
            false,
            V,
        )
        .unwrap()
    });
    assert_eq!(project_before.total_size, 1);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/fidelity.py");
    let instance_url = sim.instance_url().to_owned();
    let (client_id, client_secret) = (sim.client_id().to_owned(), sim.client_secret().to_owned());
    let ca_arg = ca.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([
                &instance_url,
                ca_arg.to_str().unwrap(),
                &client_id,
                &client_secret,
                &account_id,
            ])
            // requests lets these variables override a session's `verify`.
            .env("REQUESTS_CA_BUNDLE", &ca_arg)
            .env_remove("CURL_CA_BUNDLE")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "simple-salesforce script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();

    // query_all: every record, in order, field for field.
    assert_eq!(seen["query_all"]["totalSize"], expected_query.total_size);
    assert_eq!(
        seen["query_all"]["records"],
        Value::from(expected_query.records.clone())
    );
    assert!(
        expected_query.total_size > 2000,
        "query_all must have followed nextRecordsUrl"
    );

    // describe and describeGlobal: the same documents.
    assert_eq!(seen["describe_account"], expected_describe);
    assert_eq!(seen["describe_global"], expected_global);

    // bulk2: pages of 500 rows, each a CSV with its header, byte for byte.
    let options = CsvOptions {
        delimiter: b',',
        line_ending: LineEnding::Lf,
    };
    let pages = seen["bulk2_pages"].as_array().unwrap();
    assert_eq!(pages.len(), expected_bulk.len().div_ceil(500));
    for (index, page) in pages.iter().enumerate() {
        let start = index * 500;
        let end = (start + 500).min(expected_bulk.len());
        let mut want = Vec::new();
        expected_bulk.write_csv(start..end, &options, true, &mut want);
        assert_eq!(page.as_str().unwrap().as_bytes(), &want[..], "page {index}");
    }

    // Collection insert: two new Accounts exist with the returned Ids.
    let inserted = seen["insert"].as_array().unwrap();
    assert_eq!(inserted.len(), 2);
    for (result, name) in inserted.iter().zip(["Fidelity One", "Fidelity Two"]) {
        assert_eq!(result["success"], true, "{result}");
        assert_eq!(result["errors"], Value::Array(vec![]));
        let id = result["id"].as_str().unwrap();
        let record = sim.with_org(|org| org.get_record("Account", id, None, V).unwrap());
        assert_eq!(record["Name"], name);
    }
    assert_eq!(seen["get_inserted"]["Name"], "Fidelity One");

    // Collection upsert: the existing project updated (created=false), the new one created.
    let upserted = seen["upsert"].as_array().unwrap();
    assert_eq!(upserted[0]["created"], false, "{}", upserted[0]);
    assert_eq!(upserted[0]["id"], project_before.records[0]["Id"]);
    assert_eq!(upserted[1]["created"], true, "{}", upserted[1]);
    let renamed = sim.with_org(|org| {
        org.query(
            "SELECT Name FROM Project__c WHERE External_Id__c = 'PRJ-0000001'",
            false,
            V,
        )
        .unwrap()
    });
    assert_eq!(renamed.records[0]["Name"], "Renamed by simple-salesforce");
    let created = sim.with_org(|org| {
        org.query(
            "SELECT Id FROM Project__c WHERE External_Id__c = 'PRJ-NEW-0001'",
            false,
            V,
        )
        .unwrap()
    });
    assert_eq!(created.records[0]["Id"], upserted[1]["id"]);

    // limits and Sforce-Limit-Info: the counter simple-salesforce parsed is the server's.
    let used = sim.api_calls_used();
    let limits = &seen["limits"]["DailyApiRequests"];
    assert_eq!(limits["Max"], 100_000);
    assert_eq!(limits["Remaining"], 100_000 - used);
    assert_eq!(seen["api_usage"], serde_json::json!([used, 100_000]));
    let token_keys: Vec<&str> = seen["token_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(
        token_keys,
        [
            "access_token",
            "id",
            "instance_url",
            "issued_at",
            "scope",
            "signature",
            "token_type"
        ]
    );
    sim.shutdown().await;
}
