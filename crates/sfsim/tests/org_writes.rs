//! Writes: validation errors, collections with allOrNone, upsert by external id, soft deletes
//! with cascade, queryAll, the replication windows and the Recycle Bin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coffer_sfsim::org::{LiveOrg, UpsertOutcome};
use coffer_sfsim::{GenerateConfig, Org, SfId};
use serde_json::{Map, Value, json};

fn org() -> LiveOrg {
    LiveOrg::new(
        Org::generate(&GenerateConfig {
            seed: 5,
            records: 1_500,
        })
        .unwrap(),
    )
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn first_id(org: &LiveOrg, soql: &str) -> String {
    org.query(soql, false, "v62.0").unwrap().records[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn create_stamps_audit_fields_and_allocates_valid_ids() {
    let mut org = org();
    let before = org.now_millis();
    let id = org
        .create(
            "Account",
            &map(json!({"Name": "Restored Co", "BillingCity": "Oslo"})),
        )
        .unwrap();
    let parsed: SfId = id.parse().unwrap();
    assert_eq!(parsed.key_prefix(), "001");
    let record = org.get_record("Account", &id, None, "v62.0").unwrap();
    assert_eq!(record["Name"], "Restored Co");
    assert_eq!(record["IsDeleted"], false);
    assert_eq!(record["BillingAddress"]["city"], "Oslo");
    assert_eq!(record["CreatedDate"], record["SystemModstamp"]);
    assert!(record["OwnerId"].is_string() && record["CreatedById"].is_string());
    assert!(org.now_millis() >= before);
    let again = org
        .create("Account", &map(json!({"Name": "Second"})))
        .unwrap();
    assert!(again > id);
}

#[test]
fn validation_errors_are_salesforce_errors() {
    let mut org = org();
    let e = org
        .create("Account", &map(json!({"Description": "x"})))
        .unwrap_err();
    assert_eq!(
        (e.error_code.as_str(), e.fields.clone()),
        ("REQUIRED_FIELD_MISSING", vec!["Name".to_owned()])
    );
    let e = org.create("Account", &map(json!({"Name": "x", "SystemModstamp": "2024-01-01T00:00:00Z", "Id": "001000000000000AAA"}))).unwrap_err();
    assert_eq!(e.error_code, "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert!(e.fields.contains(&"SystemModstamp".to_owned()) && e.fields.contains(&"Id".to_owned()));
    let e = org
        .create(
            "Contact",
            &map(json!({"LastName": "x", "AccountId": "garbage"})),
        )
        .unwrap_err();
    assert_eq!(e.error_code, "MALFORMED_ID");
    let missing = SfId::from_15("001zz0000000001").unwrap().to_string();
    let e = org
        .create(
            "Contact",
            &map(json!({"LastName": "x", "AccountId": missing})),
        )
        .unwrap_err();
    assert_eq!(e.error_code, "INVALID_CROSS_REFERENCE_KEY");
    let e = org
        .create("Account", &map(json!({"Name": "x", "Bogus__c": 1})))
        .unwrap_err();
    assert_eq!(e.error_code, "INVALID_FIELD");
    let e = org.create("Nope", &map(json!({}))).unwrap_err();
    assert_eq!(e.status, 404);
}

#[test]
fn upsert_by_external_id_creates_then_updates_and_rejects_duplicates() {
    let mut org = org();
    let account = first_id(&org, "SELECT Id FROM Account ORDER BY Id LIMIT 1");
    let fields = map(json!({"Name": "Upserted", "Account__c": account}));
    let created = org
        .upsert("Project__c", "External_Id__c", "EXT-1", &fields)
        .unwrap();
    let UpsertOutcome::Created(id) = created else {
        panic!("{created:?}")
    };
    let again = org
        .upsert(
            "Project__c",
            "External_Id__c",
            "ext-1",
            &map(json!({"Name": "Renamed"})),
        )
        .unwrap();
    assert_eq!(again, UpsertOutcome::Updated(id.clone()));
    assert_eq!(
        org.get_record("Project__c", &id, None, "v62.0").unwrap()["Name"],
        "Renamed"
    );
    let e = org.upsert("Project__c", "Name", "x", &fields).unwrap_err();
    assert_eq!((e.status, e.error_code.as_str()), (404, "NOT_FOUND"));
    let existing = org
        .query(
            "SELECT External_Id__c FROM Project__c WHERE External_Id__c != null LIMIT 1",
            false,
            "v62.0",
        )
        .unwrap();
    let taken = existing.records[0]["External_Id__c"].as_str().unwrap();
    let e = org
        .create(
            "Project__c",
            &map(json!({"Name": "Dup", "Account__c": account, "External_Id__c": taken})),
        )
        .unwrap_err();
    assert_eq!(e.error_code, "DUPLICATE_VALUE");
}

#[test]
fn collections_keep_order_and_all_or_none_rolls_back() {
    let mut org = org();
    let count = |org: &LiveOrg| org.live_counts()["Account"];
    let start = count(&org);
    let body = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Account"}, "Name": "A"},
        {"attributes": {"type": "Account"}},
        {"attributes": {"type": "Account"}, "Name": "C"},
    ]});
    let results = org.collection_create(&body).unwrap();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(
        (
            results[0]["success"].as_bool(),
            results[1]["success"].as_bool(),
            results[2]["success"].as_bool()
        ),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(count(&org), start + 2);

    let mut all = body.clone();
    all["allOrNone"] = json!(true);
    let results = org.collection_create(&all).unwrap();
    let results = results.as_array().unwrap();
    assert!(results.iter().all(|r| r["success"] == false));
    assert_eq!(
        results[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(count(&org), start + 2);

    let a = results_id(&org, "A");
    let update = json!({"allOrNone": true, "records": [
        {"attributes": {"type": "Account"}, "Id": a, "Name": "A2"},
        {"attributes": {"type": "Account"}, "Id": a, "SystemModstamp": "2024-01-01T00:00:00Z"},
    ]});
    let results = org.collection_update(&update).unwrap();
    assert_eq!(
        results[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        org.get_record("Account", &a, None, "v62.0").unwrap()["Name"],
        "A"
    );

    let upsert = json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Project__c"}, "External_Id__c": "NEW-1", "Name": "N", "Account__c": a},
        {"attributes": {"type": "Project__c"}, "External_Id__c": "PRJ-0000001", "Name": "Changed"},
    ]});
    let results = org
        .collection_upsert("Project__c", "External_Id__c", &upsert)
        .unwrap();
    assert_eq!(
        (
            results[0]["created"].as_bool(),
            results[1]["created"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(results[1]["success"], true);

    let too_many =
        json!({"records": vec![json!({"attributes": {"type": "Account"}, "Name": "x"}); 201]});
    assert_eq!(
        org.collection_create(&too_many).unwrap_err().error_code,
        "EXCEEDED_ID_LIMIT"
    );
    assert_eq!(
        org.collection_delete(&[], false).unwrap_err().error_code,
        "REQUIRED_FIELD_MISSING"
    );
}

fn results_id(org: &LiveOrg, name: &str) -> String {
    first_id(
        org,
        &format!("SELECT Id FROM Account WHERE Name = '{name}'"),
    )
}

#[test]
fn deletes_are_soft_cascade_and_show_in_query_all_and_deleted() {
    let mut org = org();
    let project = org
        .query("SELECT Account__c FROM Project__c LIMIT 1", false, "v62.0")
        .unwrap();
    let parent = project.records[0]["Account__c"]
        .as_str()
        .unwrap()
        .to_owned();
    let children = org
        .query(
            &format!("SELECT Id FROM Project__c WHERE Account__c = '{parent}'"),
            false,
            "v62.0",
        )
        .unwrap();
    assert!(children.total_size > 0);
    let start = chrono_like(org.now_millis() - 60_000);
    org.delete(Some("Account"), &parent).unwrap();
    assert_eq!(
        org.get_record("Account", &parent, None, "v62.0")
            .unwrap_err()
            .status,
        404
    );
    assert_eq!(
        org.delete(Some("Account"), &parent).unwrap_err().error_code,
        "ENTITY_IS_DELETED"
    );
    let e = org
        .update("Account", &parent, &map(json!({"Name": "x"})))
        .unwrap_err();
    assert_eq!(e.error_code, "ENTITY_IS_DELETED");
    let live = org
        .query(
            &format!("SELECT Id FROM Project__c WHERE Account__c = '{parent}'"),
            false,
            "v62.0",
        )
        .unwrap();
    assert_eq!(live.total_size, 0);
    let all = org
        .query(
            &format!("SELECT Id, IsDeleted FROM Project__c WHERE Account__c = '{parent}'"),
            true,
            "v62.0",
        )
        .unwrap();
    assert_eq!(all.total_size, children.total_size);
    assert!(all.records.iter().all(|r| r["IsDeleted"] == true));

    let end = chrono_like(org.now_millis() + 120_000);
    let deleted = org.deleted("Project__c", &start, &end).unwrap();
    assert_eq!(
        deleted["deletedRecords"].as_array().unwrap().len(),
        children.total_size
    );
    assert!(
        deleted["earliestDateAvailable"]
            .as_str()
            .unwrap()
            .ends_with("+0000")
    );
    let deleted_accounts = org.deleted("Account", &start, &end).unwrap();
    assert_eq!(deleted_accounts["deletedRecords"][0]["id"], parent.as_str());

    // Updated window sees a fresh update; old windows and bad objects are refused.
    let target = first_id(&org, "SELECT Id FROM Contact ORDER BY Id LIMIT 1");
    org.update("Contact", &target, &map(json!({"Title": "CTO"})))
        .unwrap();
    let updated = org.updated("Contact", &start, &end).unwrap();
    assert!(
        updated["ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == target.as_str())
    );
    let e = org
        .updated("Contact", "2020-01-01T00:00:00Z", &end)
        .unwrap_err();
    assert_eq!(e.error_code, "INVALID_REPLICATION_DATE");
    let e = org.updated("Contact", &end, &start).unwrap_err();
    assert_eq!(e.error_code, "INVALID_REPLICATION_DATE");
    assert!(org.updated("ContentDocument", &start, &end).is_err());

    let purged = org.empty_recycle_bin();
    assert_eq!(purged, children.total_size + 1);
    let after = org.deleted("Project__c", &start, &end).unwrap();
    assert!(after["deletedRecords"].as_array().unwrap().is_empty());
    let all = org
        .query(
            &format!("SELECT Id FROM Project__c WHERE Account__c = '{parent}'"),
            true,
            "v62.0",
        )
        .unwrap();
    assert_eq!(all.total_size, 0);
}

/// `2024-01-01T00:00:00Z` for epoch milliseconds, via the org's own REST formatting.
fn chrono_like(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let secs = ms.rem_euclid(86_400_000) / 1000;
    // Civil date from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[test]
fn blobs_come_from_the_generator_and_from_writes() {
    let mut org = org();
    let attachment = org
        .query(
            "SELECT Id, BodyLength FROM Attachment LIMIT 1",
            false,
            "v62.0",
        )
        .unwrap();
    let id = attachment.records[0]["Id"].as_str().unwrap();
    let (body, content_type) = org.blob("Attachment", id, "Body").unwrap();
    assert_eq!(
        body.len() as u64,
        attachment.records[0]["BodyLength"].as_u64().unwrap()
    );
    assert_eq!(content_type, "application/octet-stream");
    assert_eq!(org.blob("Attachment", id, "Name").unwrap_err().status, 404);
    let parent = first_id(&org, "SELECT Id FROM Account LIMIT 1");
    let new = org
        .create(
            "Attachment",
            &map(json!({"Name": "a.txt", "ParentId": parent, "Body": "aGVsbG8="})),
        )
        .unwrap();
    assert_eq!(
        &org.blob("Attachment", &new, "Body").unwrap().0[..],
        b"hello"
    );
}
