//! Response shapes against the field sets SALESFORCE_API.md quotes from real recordings:
//! describe fields (restforce `sobject_describe_success_response.json`), describeGlobal
//! entries, query pages, Bulk 2.0 job JSON, limits, error bodies, token and collection
//! results.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod http_support;

use std::collections::BTreeSet;

use coffer_sfsim::server::Simulator;
use http_support::{Sim, start};
use serde_json::{Value, json};

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn assert_superset(value: &Value, required: &[&str], what: &str) {
    let have = keys(value);
    let missing: Vec<&&str> = required.iter().filter(|k| !have.contains(**k)).collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}");
}

#[tokio::test]
async fn shapes_match_the_recorded_field_sets() {
    let s = start(Simulator::builder().seed(6).records(3000)).await;

    let global = s.get_json("sobjects").await;
    assert_superset(
        &global,
        &["encoding", "maxBatchSize", "sobjects"],
        "describeGlobal",
    );
    for entry in global["sobjects"].as_array().unwrap() {
        assert_superset(
            entry,
            &[
                "name",
                "label",
                "labelPlural",
                "keyPrefix",
                "custom",
                "customSetting",
                "createable",
                "updateable",
                "deletable",
                "undeletable",
                "mergeable",
                "queryable",
                "retrieveable",
                "replicateable",
                "searchable",
                "triggerable",
                "layoutable",
                "feedEnabled",
                "deprecatedAndHidden",
                "activateable",
                "deepCloneable",
                "isSubtype",
                "isInterface",
                "hasSubtypes",
                "mruEnabled",
                "associateEntityType",
                "associateParentEntity",
                "urls",
            ],
            "describeGlobal entry",
        );
        assert_superset(
            &entry["urls"],
            &["sobject", "describe", "rowTemplate"],
            "urls",
        );
    }

    let describe = s.get_json("sobjects/Contact/describe").await;
    for field in describe["fields"].as_array().unwrap() {
        assert_superset(
            field,
            &[
                "name",
                "type",
                "length",
                "byteLength",
                "precision",
                "scale",
                "digits",
                "nillable",
                "createable",
                "updateable",
                "unique",
                "externalId",
                "idLookup",
                "autoNumber",
                "calculated",
                "calculatedFormula",
                "defaultedOnCreate",
                "filterable",
                "groupable",
                "sortable",
                "caseSensitive",
                "nameField",
                "namePointing",
                "custom",
                "htmlFormatted",
                "picklistValues",
                "referenceTo",
                "relationshipName",
                "relationshipOrder",
                "soapType",
                "writeRequiresMasterRead",
                "restrictedPicklist",
                "dependentPicklist",
                "controllerName",
                "deprecatedAndHidden",
            ],
            "describe field",
        );
    }

    let page: Value = s
        .get("query")
        .query(&[("q", "SELECT Id, Name FROM Contact")])
        .header("Sforce-Query-Options", "batchSize=200")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        keys(&page),
        set(&["totalSize", "done", "nextRecordsUrl", "records"])
    );
    let record = &page["records"][0];
    assert_eq!(keys(record), set(&["attributes", "Id", "Name"]));
    assert_eq!(keys(&record["attributes"]), set(&["type", "url"]));
    let last = s.query("SELECT Id FROM Account LIMIT 1").await;
    assert_eq!(keys(&last), set(&["totalSize", "done", "records"]));

    let limits = s.get_json("limits").await;
    for key in [
        "DailyApiRequests",
        "DailyBulkApiRequests",
        "DailyBulkV2QueryJobs",
        "DailyBulkV2QueryFileStorageMB",
        "DataStorageMB",
        "FileStorageMB",
    ] {
        assert_superset(&limits[key], &["Max", "Remaining"], key);
    }
    let counts = s.get_json("limits/recordCount?sObjects=Account").await;
    assert_eq!(keys(&counts), set(&["sObjects"]));
    assert_eq!(keys(&counts["sObjects"][0]), set(&["count", "name"]));

    let (_, job) = Sim::status_and_json(
        s.http
            .post(s.url("jobs/query"))
            .bearer_auth(&s.token)
            .json(&json!({"operation":"query","query":"SELECT Id FROM Account"})),
    )
    .await;
    assert_eq!(
        keys(&job),
        set(&[
            "id",
            "operation",
            "object",
            "createdById",
            "createdDate",
            "systemModstamp",
            "state",
            "concurrencyMode",
            "contentType",
            "apiVersion",
            "lineEnding",
            "columnDelimiter"
        ])
    );
    let status = s
        .get_json(&format!("jobs/query/{}", job["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        keys(&status),
        set(&[
            "id",
            "operation",
            "object",
            "createdById",
            "createdDate",
            "systemModstamp",
            "state",
            "concurrencyMode",
            "contentType",
            "apiVersion",
            "lineEnding",
            "columnDelimiter",
            "jobType",
            "numberRecordsProcessed",
            "retries",
            "totalProcessingTime",
            "isPkChunkingSupported",
        ])
    );
    // createdDate in the REST datetime format.
    let created = job["createdDate"].as_str().unwrap();
    assert_eq!(created.len(), "2022-01-02T17:38:59.000+0000".len());
    assert!(created.ends_with("+0000"), "{created}");

    let (_, error) = Sim::status_and_json(
        s.get("query")
            .query(&[("q", "SELECT Nope__x FROM Account")]),
    )
    .await;
    let entries = error.as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let entry_keys = keys(&entries[0]);
    assert!(
        entry_keys == set(&["message", "errorCode"])
            || entry_keys == set(&["message", "errorCode", "fields"]),
        "{entry_keys:?}"
    );

    let (_, results) = Sim::status_and_json(
        s.http
            .post(s.url("composite/sobjects"))
            .bearer_auth(&s.token)
            .json(&json!({"allOrNone":false,"records":[{"attributes":{"type":"Account"},"Name":"Shape"},{"attributes":{"type":"Account"}}]})),
    )
    .await;
    assert_eq!(keys(&results[0]), set(&["id", "success", "errors"]));
    assert_eq!(results[1]["success"], false);
    assert_eq!(
        keys(&results[1]["errors"][0]),
        set(&["statusCode", "message", "fields"])
    );
}
