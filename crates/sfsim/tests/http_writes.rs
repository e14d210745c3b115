//! Restore writes over HTTPS: single create/update/upsert/delete and collections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use coffer_sfsim::server::Simulator;
use http_support::{Sim, V, error_code, start};
use serde_json::{Value, json};

#[tokio::test]
async fn single_record_writes() {
    let s = start(Simulator::builder().seed(9).records(1000)).await;
    let (status, created) = Sim::status_and_json(
        s.http
            .post(s.url("sobjects/Account/"))
            .bearer_auth(&s.token)
            .json(&json!({"Name":"Restored"})),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created, json!({"id": id, "success": true, "errors": []}));

    let (status, _) = Sim::status_and_json(
        s.http
            .patch(s.url(&format!("sobjects/Account/{id}")))
            .bearer_auth(&s.token)
            .json(&json!({"Name":"Renamed"})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        s.get_json(&format!("sobjects/Account/{id}")).await["Name"],
        "Renamed"
    );

    let account = s.query("SELECT Id FROM Account LIMIT 1").await["records"][0]["Id"].clone();
    let upsert = |value: &str, body: Value| {
        s.http
            .patch(s.url(&format!("sobjects/Project__c/External_Id__c/{value}")))
            .bearer_auth(&s.token)
            .json(&body)
    };
    let (status, body) = Sim::status_and_json(upsert(
        "PRJ-REST-1",
        json!({"Name":"New project","Account__c":account}),
    ))
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true);
    let (status, _) =
        Sim::status_and_json(upsert("PRJ-REST-1", json!({"Name":"Same project"}))).await;
    assert_eq!(status, 204);
    let (status, body) = Sim::status_and_json(
        s.http
            .patch(s.url("sobjects/Project__c/No_Such_Field__c/x"))
            .bearer_auth(&s.token)
            .json(&json!({"Name":"x"})),
    )
    .await;
    assert_eq!((status, error_code(&body)), (404, "NOT_FOUND"));

    let delete = s
        .http
        .delete(s.url(&format!("sobjects/Account/{id}")))
        .bearer_auth(&s.token);
    assert_eq!(delete.send().await.unwrap().status(), 204);
    // Soft delete: gone from query, still in queryAll with IsDeleted.
    let soql = format!("SELECT Id, IsDeleted FROM Account WHERE Id = '{id}'");
    assert_eq!(s.query(&soql).await["totalSize"], 0);
    let all: Value = s
        .get("queryAll")
        .query(&[("q", soql.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["records"][0]["IsDeleted"], true);
    assert_eq!(
        all["records"][0]["attributes"]["url"],
        format!("/services/data/{V}/sobjects/Account/{id}")
    );
}

#[tokio::test]
async fn collection_delete_and_its_errors() {
    let s = start(Simulator::builder().seed(9).records(1000)).await;
    let (status, body) = Sim::status_and_json(
        s.http
            .delete(s.url("composite/sobjects"))
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!([{"message":"At least 1 Id is required.","errorCode":"REQUIRED_FIELD_MISSING"}])
    );
    let page = s.query("SELECT Id FROM Case LIMIT 2").await;
    let ids: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap())
        .collect();
    let before = s.sim.live_counts()["Case"];
    let (status, results) = Sim::status_and_json(
        s.http
            .delete(s.url("composite/sobjects"))
            .query(&[("ids", ids.join(",").as_str()), ("allOrNone", "true")])
            .bearer_auth(&s.token),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == true),
        "{results}"
    );
    assert_eq!(s.sim.live_counts()["Case"], before - 2);
}

/// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds (Howard Hinnant's civil_from_days).
fn iso(epoch_seconds: i64) -> String {
    let days = epoch_seconds.div_euclid(86_400);
    let secs = epoch_seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[tokio::test]
async fn updated_and_deleted_windows_see_writes() {
    let s = start(Simulator::builder().seed(9).records(1000)).await;
    let page = s.query("SELECT Id FROM Contact LIMIT 2").await;
    let updated_id = page["records"][0]["Id"].as_str().unwrap().to_owned();
    let deleted_id = page["records"][1]["Id"].as_str().unwrap().to_owned();
    let patch = s
        .http
        .patch(s.url(&format!("sobjects/Contact/{updated_id}")))
        .bearer_auth(&s.token)
        .json(&json!({"LastName":"Changed"}));
    assert_eq!(patch.send().await.unwrap().status(), 204);
    let delete = s
        .http
        .delete(s.url(&format!("sobjects/Contact/{deleted_id}")))
        .bearer_auth(&s.token);
    assert_eq!(delete.send().await.unwrap().status(), 204);

    let now = s.sim.with_org(|org| org.now_millis()) / 1000;
    let window = [("start", iso(now - 3600)), ("end", iso(now + 120))];
    let updated: Value = s
        .get("sobjects/Contact/updated/")
        .query(&window)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        updated["ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|id| id == updated_id.as_str()),
        "{updated}"
    );
    assert!(updated["latestDateCovered"].is_string());
    let deleted: Value = s
        .get("sobjects/Contact/deleted/")
        .query(&window)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = deleted["deletedRecords"].as_array().unwrap();
    assert!(
        records.iter().any(|r| r["id"] == deleted_id.as_str()),
        "{deleted}"
    );
    assert!(deleted["earliestDateAvailable"].is_string());
}
