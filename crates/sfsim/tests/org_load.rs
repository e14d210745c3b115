//! `serve --data DIR`: the generator's export loads back, and foreign objects get inferred types.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use coffer_sfsim::org::LiveOrg;
use coffer_sfsim::{GenerateConfig, Org, export};

#[test]
fn export_round_trips_through_load_dir() {
    let org = Org::generate(&GenerateConfig {
        seed: 4,
        records: 800,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    export::write_dir(&org, dir.path()).unwrap();
    let generated = LiveOrg::new(org.clone());
    let loaded = LiveOrg::load_dir(dir.path()).unwrap();
    assert_eq!(loaded.live_counts(), generated.live_counts());
    for object in ["Account", "Contact", "Project__c", "Attachment"] {
        let soql = format!("SELECT Id, CreatedDate, SystemModstamp FROM {object} ORDER BY Id");
        assert_eq!(
            loaded.query(&soql, true, "v62.0").unwrap(),
            generated.query(&soql, true, "v62.0").unwrap(),
            "{object}"
        );
    }
    // Whole records come back byte for byte in the REST shape.
    let first = &org.object("Account").unwrap().records[0];
    let id = first.id().unwrap().to_string();
    let record = loaded.get_record("Account", &id, None, "v62.0").unwrap();
    assert_eq!(record, serde_json::to_value(first).unwrap());
    assert_eq!(
        loaded.describe("Project__c").unwrap()["fields"],
        generated.describe("Project__c").unwrap()["fields"]
    );
    let attachment = org.object("Attachment").unwrap().records[0].id().unwrap();
    assert_eq!(
        loaded
            .blob("Attachment", attachment.as_str(), "Body")
            .unwrap()
            .0,
        generated
            .blob("Attachment", attachment.as_str(), "Body")
            .unwrap()
            .0
    );
}

#[test]
fn unknown_objects_get_inferred_field_types() {
    let org = Org::generate(&GenerateConfig {
        seed: 4,
        records: 300,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    export::write_dir(&org, dir.path()).unwrap();
    let account = org.object("Account").unwrap().records[0]
        .id()
        .unwrap()
        .to_string();
    let one = coffer_sfsim::SfId::from_15("a1B000000000001").unwrap();
    let two = coffer_sfsim::SfId::from_15("a1B000000000002").unwrap();
    let lines = [
        format!(
            r#"{{"attributes":{{"type":"Invoice__c"}},"Id":"{one}","Name":"INV-1","Account__c":"{account}","AccountId":"{account}","Paid__c":true,"Total__c":12.5,"Lines__c":3,"Due__c":"2025-01-31","Sent__c":"2025-01-02T10:00:00.000+0000","Notes__c":"line one\nline two"}}"#
        ),
        format!(
            r#"{{"attributes":{{"type":"Invoice__c"}},"Id":"{two}","Name":"INV-2","Account__c":null,"AccountId":null,"Paid__c":false,"Total__c":7,"Lines__c":1,"Due__c":null,"Sent__c":null,"Notes__c":null,"Extra__c":"late field"}}"#
        ),
    ];
    fs::write(
        dir.path().join("records/Invoice__c.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let loaded = LiveOrg::load_dir(dir.path()).unwrap();
    let describe = loaded.describe("Invoice__c").unwrap();
    assert_eq!(describe["custom"], true);
    assert_eq!(describe["keyPrefix"], "a1B");
    let ty = |name: &str| {
        describe["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))["type"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(ty("Id"), "id");
    assert_eq!(ty("AccountId"), "reference");
    assert_eq!(ty("Account__c"), "reference");
    assert_eq!(ty("Paid__c"), "boolean");
    assert_eq!(ty("Total__c"), "double");
    assert_eq!(ty("Lines__c"), "int");
    assert_eq!(ty("Due__c"), "date");
    assert_eq!(ty("Sent__c"), "datetime");
    assert_eq!(ty("Notes__c"), "textarea");
    assert_eq!(ty("Name"), "string");
    assert_eq!(ty("Extra__c"), "string");
    let out = loaded
        .query(
            "SELECT Name, Account__r.Name FROM Invoice__c WHERE Sent__c > 2025-01-01T00:00:00Z",
            false,
            "v62.0",
        )
        .unwrap();
    assert_eq!(out.total_size, 1);
    assert!(out.records[0]["Account__r"]["Name"].is_string());
    let bad = dir.path().join("records/Bad.jsonl");
    fs::write(&bad, "{\"Name\":\"no id\"}\n").unwrap();
    assert!(matches!(
        LiveOrg::load_dir(dir.path()),
        Err(coffer_sfsim::Error::InvalidRecord { line: 1, .. })
    ));
}

#[test]
fn a_mutated_live_org_exports_what_it_serves() {
    let org = Org::generate(&GenerateConfig {
        seed: 9,
        records: 900,
    })
    .unwrap();
    let mut live = LiveOrg::new(org);
    let summary = live.mutate(&coffer_sfsim::org::Mutation {
        seed: 3,
        update_pct: 10.0,
        delete_pct: 5.0,
        create_pct: 5.0,
    });
    assert!(summary.objects.values().any(|o| o.deleted > 0));
    let dir = tempfile::tempdir().unwrap();
    let written = live.write_dir(dir.path()).unwrap();
    assert!(written.blobs > 0 && written.blob_bytes > 0);
    let loaded = LiveOrg::load_dir(dir.path()).unwrap();
    assert_eq!(loaded.live_counts(), live.live_counts());
    // queryAll: soft-deleted rows come back as deleted, with every field as served.
    for object in ["Account", "Contact", "Task", "Project__c", "ContentVersion"] {
        let fields: Vec<String> = live.describe(object).unwrap()["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect();
        let soql = format!("SELECT {} FROM {object} ORDER BY Id", fields.join(", "));
        let all = |o: &LiveOrg| o.query(&soql, true, "v62.0").unwrap();
        assert_eq!(all(&loaded), all(&live), "{object}");
        let deleted = format!("SELECT Id FROM {object} WHERE IsDeleted = true");
        assert_eq!(
            loaded.query(&deleted, true, "v62.0").unwrap(),
            live.query(&deleted, true, "v62.0").unwrap(),
            "{object}"
        );
    }
    // A second export into the same directory is refused rather than mixed.
    assert!(matches!(
        live.write_dir(dir.path()),
        Err(coffer_sfsim::Error::OutputNotEmpty { .. })
    ));
}
