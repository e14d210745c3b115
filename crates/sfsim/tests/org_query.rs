//! SOQL over the generated org: projection, parent fields, filters, ordering, errors, the
//! compound incremental cursor, and the Bulk view.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use coffer_sfsim::org::{CsvOptions, LiveOrg};
use coffer_sfsim::{GenerateConfig, Org};
use proptest::prelude::*;
use serde_json::Value;

fn org(records: usize) -> LiveOrg {
    LiveOrg::new(Org::generate(&GenerateConfig { seed: 11, records }).unwrap())
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn select_projects_fields_and_parents_in_rest_shape() {
    let org = org(2_000);
    let out = org
        .query("SELECT Id, LastName, Account.Name, Owner.Name FROM Contact WHERE AccountId != null LIMIT 5", false, "v62.0")
        .unwrap();
    assert_eq!(out.total_size, 5);
    let first = &out.records[0];
    assert_eq!(first["attributes"]["type"], "Contact");
    assert_eq!(
        first["attributes"]["url"],
        format!(
            "/services/data/v62.0/sobjects/Contact/{}",
            first["Id"].as_str().unwrap()
        )
    );
    assert_eq!(first["Account"]["attributes"]["type"], "Account");
    assert!(first["Account"]["Name"].is_string());
    assert!(first["Owner"]["Name"].is_string());
    assert_eq!(first.as_object().unwrap().len(), 5);
    // A null reference gives a null relationship object.
    let orphan = org
        .query(
            "SELECT Id, Account.Name FROM Contact WHERE AccountId = null LIMIT 1",
            false,
            "v62.0",
        )
        .unwrap();
    if let Some(row) = orphan.records.first() {
        assert_eq!(row["Account"], Value::Null);
    }
}

#[test]
fn filters_compare_typed_values() {
    let org = org(2_000);
    let all = org
        .query(
            "SELECT Id, Amount, CloseDate, StageName FROM Opportunity",
            false,
            "v62.0",
        )
        .unwrap();
    let big = org
        .query(
            "SELECT Id FROM Opportunity WHERE Amount >= 10000 AND CloseDate < 2025-01-01",
            false,
            "v62.0",
        )
        .unwrap();
    let expected: Vec<String> = all
        .records
        .iter()
        .filter(|r| {
            r["Amount"].as_f64().is_some_and(|a| a >= 10_000.0)
                && r["CloseDate"].as_str().unwrap() < "2025-01-01"
        })
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids(&big.records), expected);
    assert!(!expected.is_empty());
    // Strings compare case-insensitively; IN and NOT IN; LIKE.
    let won = org
        .query(
            "SELECT Id FROM Opportunity WHERE StageName = 'closed won'",
            false,
            "v62.0",
        )
        .unwrap();
    let won_in = org
        .query(
            "SELECT Id FROM Opportunity WHERE StageName IN ('Closed Won')",
            false,
            "v62.0",
        )
        .unwrap();
    let not_won = org
        .query(
            "SELECT Id FROM Opportunity WHERE StageName NOT IN ('Closed Won')",
            false,
            "v62.0",
        )
        .unwrap();
    assert_eq!(ids(&won.records), ids(&won_in.records));
    assert_eq!(won.total_size + not_won.total_size, all.total_size);
    let like = org
        .query(
            "SELECT Id FROM Opportunity WHERE StageName LIKE 'closed%'",
            false,
            "v62.0",
        )
        .unwrap();
    let closed = org
        .query(
            "SELECT Id FROM Opportunity WHERE IsClosed = true",
            false,
            "v62.0",
        )
        .unwrap();
    assert_eq!(like.total_size, closed.total_size);
    let count = org
        .query(
            "SELECT COUNT() FROM Opportunity WHERE NOT (IsClosed = true)",
            false,
            "v62.0",
        )
        .unwrap();
    assert_eq!(count.total_size, all.total_size - closed.total_size);
    assert!(count.records.is_empty());
}

#[test]
fn order_by_multiple_keys_and_nulls() {
    let org = org(2_000);
    let out = org
        .query("SELECT Id, Industry, AnnualRevenue FROM Account ORDER BY Industry DESC NULLS FIRST, AnnualRevenue ASC NULLS LAST, Id", false, "v62.0")
        .unwrap();
    let rows = &out.records;
    let nulls = rows.iter().take_while(|r| r["Industry"].is_null()).count();
    assert!(nulls > 0 && rows[nulls..].iter().all(|r| !r["Industry"].is_null()));
    for pair in rows[nulls..].windows(2) {
        let (a, b) = (
            pair[0]["Industry"].as_str().unwrap(),
            pair[1]["Industry"].as_str().unwrap(),
        );
        assert!(a.to_lowercase() >= b.to_lowercase());
        if a == b {
            match (
                pair[0]["AnnualRevenue"].as_f64(),
                pair[1]["AnnualRevenue"].as_f64(),
            ) {
                (Some(x), Some(y)) => assert!(x <= y),
                (None, Some(_)) => panic!("null revenue before a value with NULLS LAST"),
                _ => {}
            }
        }
    }
}

#[test]
fn errors_match_salesforce() {
    let org = org(300);
    let e = org
        .query("SELECT Id, Foo FROM Account", false, "v62.0")
        .unwrap_err();
    assert_eq!((e.status, e.error_code.as_str()), (400, "INVALID_FIELD"));
    assert!(
        e.message
            .contains("No such column 'Foo' on entity 'Account'"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("ERROR at Row:1:Column:12"),
        "{}",
        e.message
    );
    let e = org.query("SELECT Id FROM Foo", false, "v62.0").unwrap_err();
    assert_eq!(e.error_code, "INVALID_TYPE");
    assert!(e.message.contains("sObject type 'Foo' is not supported."));
    let e = org
        .query("SELECT Id FROM Account WHERE", false, "v62.0")
        .unwrap_err();
    assert_eq!(e.error_code, "MALFORMED_QUERY");
    let e = org
        .query(
            "SELECT Id FROM Account WHERE CreatedDate > '2024-01-01'",
            false,
            "v62.0",
        )
        .unwrap_err();
    assert_eq!(e.error_code, "INVALID_FIELD");
    assert!(
        e.message
            .contains("must be of type dateTime and should not be enclosed in quotes")
    );
    let e = org
        .query("SELECT Id FROM Account WHERE Id = 'nope'", false, "v62.0")
        .unwrap_err();
    assert_eq!(e.error_code, "INVALID_QUERY_FILTER_OPERATOR");
    let e = org
        .query("SELECT Id, Foo.Name FROM Account", false, "v62.0")
        .unwrap_err();
    assert!(e.message.contains("Didn't understand relationship 'Foo'"));
}

/// Pages through `object` with the compound (SystemModstamp, Id) cursor; returns the Ids.
fn page_with_cursor(org: &LiveOrg, object: &str, page: usize) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<(String, String)> = None;
    loop {
        let filter = cursor.as_ref().map_or(String::new(), |(ts, id)| {
            format!(" WHERE (SystemModstamp = {ts} AND Id > '{id}') OR SystemModstamp > {ts}")
        });
        let soql = format!(
            "SELECT Id, SystemModstamp FROM {object}{filter} ORDER BY SystemModstamp, Id LIMIT {page}"
        );
        let out = org.query(&soql, true, "v62.0").unwrap();
        if out.records.is_empty() {
            return seen;
        }
        let last = out.records.last().unwrap();
        cursor = Some((
            last["SystemModstamp"].as_str().unwrap().to_owned(),
            last["Id"].as_str().unwrap().to_owned(),
        ));
        seen.extend(ids(&out.records));
    }
}

#[test]
fn compound_cursor_pages_a_whole_object_without_loss_or_duplicates() {
    let mut org = org(5_000);
    // Shared stamps are what makes the Id tie-break necessary.
    org.mutate(&coffer_sfsim::org::Mutation {
        seed: 3,
        update_pct: 20.0,
        delete_pct: 2.0,
        create_pct: 2.0,
    });
    let all = org.query("SELECT Id FROM Task", true, "v62.0").unwrap();
    let paged = page_with_cursor(&org, "Task", 97);
    assert_eq!(paged.len(), all.total_size);
    let unique: BTreeSet<&String> = paged.iter().collect();
    assert_eq!(unique.len(), paged.len());
    assert_eq!(unique, ids(&all.records).iter().collect());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn cursor_paging_is_exact_for_any_page_size_and_mutation(page in 1usize..400, seed in 0u64..1000, pct in 0.0f64..40.0) {
        let mut org = org(1_200);
        org.mutate(&coffer_sfsim::org::Mutation { seed, update_pct: pct, delete_pct: pct / 4.0, create_pct: pct / 4.0 });
        let all = org.query("SELECT Id FROM Contact", true, "v62.0").unwrap();
        let paged = page_with_cursor(&org, "Contact", page);
        let mut expected = ids(&all.records);
        expected.sort();
        let mut got = paged.clone();
        got.sort();
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn bulk_view_flattens_and_refuses_what_bulk_refuses() {
    let org = org(2_000);
    let out = org
        .bulk_query(
            "SELECT Id, Name, Account.Name, CreatedDate, IsDeleted FROM Contact ORDER BY Id",
            false,
        )
        .unwrap();
    assert_eq!(
        out.columns,
        ["Id", "Name", "Account.Name", "CreatedDate", "IsDeleted"]
    );
    let rest = org.query("SELECT Id FROM Contact", false, "v62.0").unwrap();
    assert_eq!(out.len(), rest.total_size);
    let created = out.cell(0, 3).unwrap();
    assert!(
        created.ends_with(".000Z") && created.len() == 24,
        "{created}"
    );
    assert_eq!(out.cell(0, 4), Some("false"));
    let mut csv = Vec::new();
    out.write_csv(0..2, &CsvOptions::default(), true, &mut csv);
    let text = String::from_utf8(csv).unwrap();
    assert!(
        text.starts_with("Id,Name,Account.Name,CreatedDate,IsDeleted\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3);

    let e = org
        .bulk_query("SELECT Id FROM Attachment", false)
        .unwrap_err();
    assert_eq!(
        (e.error_code.as_str(), e.message.as_str()),
        (
            "INVALIDENTITY",
            "Entity 'Attachment' is not supported by the Bulk API."
        )
    );
    let e = org
        .bulk_query("SELECT Id, BillingAddress FROM Account", false)
        .unwrap_err();
    assert_eq!(
        (e.error_code.as_str(), e.message.as_str()),
        (
            "FUNCTIONALITY_NOT_ENABLED",
            "Selecting compound data not supported in Bulk Query"
        )
    );
    for soql in [
        "SELECT COUNT() FROM Account",
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "SELECT Id FROM Account OFFSET 5",
        "SELECT Name, MAX(AnnualRevenue) FROM Account GROUP BY Name",
    ] {
        assert!(org.bulk_query(soql, false).is_err(), "{soql}");
    }
    // REST still serves compound fields, as objects.
    let rest = org
        .query(
            "SELECT BillingAddress FROM Account WHERE BillingCity != null LIMIT 1",
            false,
            "v62.0",
        )
        .unwrap();
    assert!(rest.records[0]["BillingAddress"]["city"].is_string());
}

#[test]
fn describe_carries_realistic_metadata() {
    let org = org(500);
    let global = org.describe_global();
    assert_eq!(global["maxBatchSize"], 200);
    let names: Vec<&str> = global["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Project__c") && names.contains(&"Account"));
    for entry in global["sobjects"].as_array().unwrap() {
        for key in [
            "name",
            "label",
            "labelPlural",
            "keyPrefix",
            "custom",
            "createable",
            "replicateable",
            "queryable",
            "urls",
        ] {
            assert!(entry.get(key).is_some(), "{key}");
        }
    }
    let project = org.describe("Project__c").unwrap();
    assert_eq!(project["custom"], true);
    let field = |name: &str| {
        project["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    let ext = field("External_Id__c");
    assert_eq!(
        (
            ext["externalId"].as_bool(),
            ext["unique"].as_bool(),
            ext["idLookup"].as_bool()
        ),
        (Some(true), Some(true), Some(true))
    );
    let master = field("Account__c");
    assert_eq!(master["type"], "reference");
    assert_eq!(master["referenceTo"], serde_json::json!(["Account"]));
    assert_eq!(master["relationshipName"], "Account__r");
    assert_eq!(master["nillable"], false);
    let modstamp = field("SystemModstamp");
    assert_eq!(
        (modstamp["type"].as_str(), modstamp["createable"].as_bool()),
        (Some("datetime"), Some(false))
    );
    let account = org.describe("Account").unwrap();
    let billing_city = account["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "BillingCity")
        .unwrap();
    assert_eq!(billing_city["compoundFieldName"], "BillingAddress");
    let billing = account["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "BillingAddress")
        .unwrap();
    assert_eq!(billing["type"], "address");
    for key in [
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
        "compoundFieldName",
    ] {
        assert!(billing.get(key).is_some(), "{key}");
    }
    assert_eq!(org.describe("Nope").unwrap_err().status, 404);
    let content = org.describe("ContentDocument").unwrap();
    assert_eq!(content["replicateable"], false);
    let counts = org.record_counts(Some(&["Account".to_owned()]));
    assert_eq!(counts["sObjects"][0]["name"], "Account");
    assert_eq!(
        counts["sObjects"][0]["count"].as_u64().unwrap(),
        org.live_counts()["Account"]
    );
}

/// RFC 4180 CSV of `out` built cell by cell from `BulkOutput::cell`, the reference the fast
/// writer must match byte for byte.
fn reference_csv(
    out: &coffer_sfsim::org::BulkOutput,
    rows: std::ops::Range<usize>,
    delimiter: u8,
    eol: &str,
    header: bool,
) -> String {
    let delimiter = char::from(delimiter);
    let field = |text: &str| {
        if text.contains(['"', '\n', '\r', delimiter]) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    };
    let mut csv = String::new();
    let mut line = |cells: Vec<String>| {
        csv.push_str(&cells.join(&delimiter.to_string()));
        csv.push_str(eol);
    };
    if header {
        line(out.columns.iter().map(|c| field(c)).collect());
    }
    for row in rows {
        line(
            (0..out.columns.len())
                .map(|col| field(out.cell(row, col).unwrap_or_default()))
                .collect(),
        );
    }
    csv
}

#[test]
fn bulk_csv_matches_the_reference_for_every_delimiter_and_line_ending() {
    let mut org = org(2_000);
    // Cells that need quotes under every delimiter, in the first, a middle and the last column.
    let tricky = "say \"hi\", then\nleave;|^`\tnow\r";
    org.create(
        "Account",
        &serde_json::from_value(serde_json::json!({"Name": tricky, "Description": tricky}))
            .unwrap(),
    )
    .unwrap();
    let out = org
        .bulk_query(
            "SELECT Name, Id, Description, CreatedDate, IsDeleted, AnnualRevenue, \
             NumberOfEmployees, Phone, Description FROM Account ORDER BY Name",
            false,
        )
        .unwrap();
    let rows = out.len();
    assert!(rows > 10);
    assert!((0..rows).any(|r| out.cell(r, 0) == Some(tricky)));
    for delimiter in ["COMMA", "BACKQUOTE", "CARET", "PIPE", "SEMICOLON", "TAB"] {
        for line_ending in ["LF", "CRLF"] {
            let opts = CsvOptions::from_names(delimiter, line_ending).unwrap();
            let eol = if line_ending == "LF" { "\n" } else { "\r\n" };
            for (range, header) in [
                (0..rows, true),
                (3..rows / 2, false),
                (rows - 1..rows + 5, true),
            ] {
                let mut csv = Vec::new();
                out.write_csv(range.clone(), &opts, header, &mut csv);
                let end = range.end.min(rows);
                assert_eq!(
                    String::from_utf8(csv).unwrap(),
                    reference_csv(&out, range.start..end, opts.delimiter, eol, header),
                    "{delimiter} {line_ending} {range:?}"
                );
            }
        }
    }
}

#[test]
fn a_bulk_result_is_a_snapshot_of_job_creation() {
    let mut org = org(1_000);
    let soql = "SELECT Id, Name FROM Account ORDER BY Id";
    let before = org.bulk_query(soql, false).unwrap();
    let mut first = Vec::new();
    before.write_csv(0..before.len(), &CsvOptions::default(), true, &mut first);
    let id = before.cell(0, 0).unwrap().to_owned();
    org.update(
        "Account",
        &id,
        &serde_json::from_value(serde_json::json!({"Name": "Renamed, after the job"})).unwrap(),
    )
    .unwrap();
    let mut again = Vec::new();
    before.write_csv(0..before.len(), &CsvOptions::default(), true, &mut again);
    assert_eq!(first, again);
    let after = org.bulk_query(soql, false).unwrap();
    assert_eq!(after.cell(0, 1), Some("Renamed, after the job"));
    assert_ne!(before.cell(0, 1), after.cell(0, 1));
}
