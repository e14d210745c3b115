#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Properties of the generated org: determinism, valid unique Ids, consistent references,
//! sane audit fields, REST shapes, and an export that reads back identically.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use coffer_sfsim::schema::{self, RelationshipKind};
use coffer_sfsim::{BlobKind, GenerateConfig, NOW_EPOCH_SECONDS, Org, SfId, export};
use serde_json::Value;

fn org(seed: u64, records: usize) -> Org {
    Org::generate(&GenerateConfig { seed, records }).unwrap()
}

/// Id -> object type, over the whole org.
fn index(org: &Org) -> HashMap<SfId, String> {
    let mut map = HashMap::new();
    for object in org.objects() {
        for record in &object.records {
            let previous = map.insert(record.id().unwrap(), object.name.clone());
            assert!(previous.is_none(), "duplicate Id {:?}", record.id());
        }
    }
    map
}

#[test]
fn same_seed_same_org_and_different_seed_different_org() {
    let a = org(11, 1500);
    let b = org(11, 1500);
    assert_eq!(a.objects(), b.objects());
    let a_blobs: Vec<_> = a.blob_ids().collect();
    assert_eq!(a_blobs, b.blob_ids().collect::<Vec<_>>());
    for id in a_blobs {
        assert_eq!(a.blob_body(id), b.blob_body(id));
    }
    let c = org(12, 1500);
    assert_ne!(a.objects(), c.objects());
}

#[test]
fn record_count_is_exact_and_split_over_all_types() {
    let org = org(3, 5000);
    assert_eq!(org.record_count(), 5000);
    for schema in schema::OBJECTS {
        let object = org.object(schema.name).unwrap();
        assert!(!object.records.is_empty(), "{} is empty", schema.name);
    }
    let files = org.object("ContentVersion").unwrap().records.len();
    assert_eq!(files, org.object("ContentDocument").unwrap().records.len());
    let bodies = files + org.object("Attachment").unwrap().records.len();
    assert_eq!(org.blob_ids().count(), bodies);
    // Tiny orgs are still consistent.
    for n in [1, 2, 7, 30] {
        let small = Org::generate(&GenerateConfig {
            seed: 1,
            records: n,
        })
        .unwrap();
        assert_eq!(small.record_count(), n);
        index(&small);
    }
    assert!(
        Org::generate(&GenerateConfig {
            seed: 1,
            records: 0
        })
        .is_err()
    );
}

#[test]
fn ids_are_valid_unique_prefixed_and_in_creation_order() {
    let org = org(5, 4000);
    index(&org);
    for object in org.objects() {
        let prefix = schema::object(&object.name).unwrap().key_prefix;
        let mut previous: Option<(SfId, String)> = None;
        for record in &object.records {
            let raw = record.get_str("Id").unwrap();
            let id: SfId = raw.parse().unwrap();
            assert_eq!(id.as_str(), raw);
            assert_eq!(id.key_prefix(), prefix);
            let created = record.get_str("CreatedDate").unwrap().to_owned();
            if let Some((prev_id, prev_created)) = &previous {
                assert!(prev_id < &id, "{} Ids not increasing", object.name);
                assert!(
                    prev_created <= &created,
                    "{} Ids not in creation order",
                    object.name
                );
            }
            previous = Some((id, created));
        }
    }
}

#[test]
fn every_reference_points_at_an_existing_record_of_the_right_type() {
    let org = org(8, 6000);
    let ids = index(&org);
    let mut checked = BTreeMap::<(&str, &str), usize>::new();
    for object in org.objects() {
        let schema = schema::object(&object.name).unwrap();
        let declared: BTreeSet<&str> = schema.references.iter().map(|r| r.field).collect();
        for record in &object.records {
            for reference in schema.references {
                match record.get(reference.field) {
                    Some(Value::String(target)) => {
                        let target: SfId = target.parse().unwrap();
                        let target_type = ids.get(&target).unwrap_or_else(|| {
                            panic!("{}.{} -> missing {target}", object.name, reference.field)
                        });
                        assert!(
                            reference.targets.contains(&target_type.as_str()),
                            "{}.{} -> {target_type}",
                            object.name,
                            reference.field
                        );
                        *checked.entry((schema.name, reference.field)).or_default() += 1;
                    }
                    Some(Value::Null) => assert_ne!(
                        reference.kind,
                        RelationshipKind::MasterDetail,
                        "{}.{} master-detail is null",
                        object.name,
                        reference.field
                    ),
                    other => panic!("{}.{}: {other:?}", object.name, reference.field),
                }
            }
            // No undeclared field holds an Id of a known type: the schema table is complete.
            for (name, value) in record.fields() {
                if name == "Id" || declared.contains(name) {
                    continue;
                }
                if let Some(Ok(id)) = value.as_str().map(str::parse::<SfId>) {
                    assert!(
                        schema::object_by_prefix(id.key_prefix()).is_none(),
                        "{}.{name} holds Id {id} but is not a declared reference",
                        object.name
                    );
                }
            }
        }
    }
    // Every declared relationship is exercised at this size.
    for object in schema::OBJECTS {
        for reference in object.references {
            assert!(
                checked
                    .get(&(object.name, reference.field))
                    .copied()
                    .unwrap_or(0)
                    > 0,
                "{}.{} never set",
                object.name,
                reference.field
            );
        }
    }
}

#[test]
fn content_documents_and_versions_point_at_each_other() {
    let org = org(21, 3000);
    let documents: HashMap<&str, &str> = org
        .object("ContentDocument")
        .unwrap()
        .records
        .iter()
        .map(|d| {
            (
                d.get_str("Id").unwrap(),
                d.get_str("LatestPublishedVersionId").unwrap(),
            )
        })
        .collect();
    for version in &org.object("ContentVersion").unwrap().records {
        let document = version.get_str("ContentDocumentId").unwrap();
        assert_eq!(documents[document], version.get_str("Id").unwrap());
        let size = version.get("ContentSize").unwrap().as_u64().unwrap();
        let body = org.blob_body(&version.id().unwrap()).unwrap();
        assert_eq!(body.len() as u64, size);
        let url = version.get_str("VersionData").unwrap();
        assert_eq!(
            url,
            format!(
                "/services/data/v62.0/sobjects/ContentVersion/{}/VersionData",
                version.id().unwrap()
            )
        );
    }
    for attachment in &org.object("Attachment").unwrap().records {
        let size = attachment.get("BodyLength").unwrap().as_u64().unwrap();
        assert_eq!(
            org.blob_body(&attachment.id().unwrap()).unwrap().len() as u64,
            size
        );
    }
}

#[test]
fn children_are_created_after_their_parents() {
    let org = org(4, 4000);
    let created: HashMap<String, String> = org
        .objects()
        .iter()
        .flat_map(|o| o.records.iter())
        .map(|r| {
            (
                r.get_str("Id").unwrap().to_owned(),
                r.get_str("CreatedDate").unwrap().to_owned(),
            )
        })
        .collect();
    for (object, field) in [
        ("Contact", "AccountId"),
        ("Opportunity", "AccountId"),
        ("Case", "AccountId"),
        ("Task", "WhatId"),
        ("Project__c", "Account__c"),
        ("Attachment", "ParentId"),
    ] {
        for record in &org.object(object).unwrap().records {
            if let Some(parent) = record.get_str(field) {
                assert!(created[parent] < created[record.get_str("Id").unwrap()]);
            }
        }
    }
}

#[test]
fn audit_fields_have_rest_format_and_move_forward() {
    let org = org(9, 3000);
    let now = "2025-06-30T18:00:00.000+0000";
    assert_eq!(NOW_EPOCH_SECONDS, 1_751_306_400);
    let shape = |s: &str| {
        let b = s.as_bytes();
        b.len() == 28
            && &s[4..5] == "-"
            && &s[10..11] == "T"
            && s.ends_with(".000+0000")
            && b[..4].iter().all(u8::is_ascii_digit)
    };
    for object in org.objects() {
        for record in &object.records {
            let created = record.get_str("CreatedDate").unwrap();
            let modified = record.get_str("LastModifiedDate").unwrap();
            let stamp = record.get_str("SystemModstamp").unwrap();
            for value in [created, modified, stamp] {
                assert!(shape(value), "{value}");
            }
            // Same fixed-width format: string order is time order.
            assert!(created <= modified && modified <= stamp && stamp <= now);
            if object.name != "User" {
                assert_eq!(record.get("IsDeleted"), Some(&Value::Bool(false)));
            }
            let attributes = record.get("attributes").unwrap();
            assert_eq!(attributes["type"], object.name.as_str());
            assert_eq!(
                attributes["url"],
                format!(
                    "/services/data/v62.0/sobjects/{}/{}",
                    object.name,
                    record.get_str("Id").unwrap()
                )
            );
            assert_eq!(record.fields().next().unwrap().0, "attributes");
        }
    }
}

#[test]
fn compound_addresses_repeat_their_components() {
    let org = org(2, 2000);
    for record in &org.object("Account").unwrap().records {
        for prefix in ["Billing", "Shipping"] {
            let compound = record.get(&format!("{prefix}Address")).unwrap();
            let city = record.get(&format!("{prefix}City")).unwrap();
            if city.is_null() {
                assert!(compound.is_null());
                continue;
            }
            assert_eq!(&compound["city"], city);
            assert_eq!(
                &compound["street"],
                record.get(&format!("{prefix}Street")).unwrap()
            );
            assert_eq!(
                &compound["postalCode"],
                record.get(&format!("{prefix}PostalCode")).unwrap()
            );
            assert_eq!(
                &compound["latitude"],
                record.get(&format!("{prefix}Latitude")).unwrap()
            );
            let keys: Vec<&String> = compound.as_object().unwrap().keys().collect();
            assert_eq!(
                keys,
                [
                    "city",
                    "country",
                    "geocodeAccuracy",
                    "latitude",
                    "longitude",
                    "postalCode",
                    "state",
                    "street"
                ]
            );
        }
    }
}

#[test]
fn text_and_numbers_vary() {
    let org = org(6, 5000);
    let accounts = &org.object("Account").unwrap().records;
    let distinct = |field: &str| {
        let values: Vec<String> = accounts
            .iter()
            .filter_map(|r| r.get(field).filter(|v| !v.is_null()).map(Value::to_string))
            .collect();
        let unique: BTreeSet<&String> = values.iter().collect();
        (unique.len(), values.len())
    };
    let (unique, total) = distinct("Description");
    assert!(
        total > 100 && unique == total,
        "{unique}/{total} descriptions distinct"
    );
    let (unique, total) = distinct("BillingStreet");
    assert!(unique * 10 > total * 9, "{unique}/{total} streets distinct");
    let (unique, total) = distinct("AnnualRevenue");
    assert!(
        unique * 10 > total * 8,
        "{unique}/{total} revenues distinct"
    );
    // Zipf: the most frequent description word is far more common than the median one.
    let mut counts = HashMap::<String, usize>::new();
    for r in accounts {
        if let Some(text) = r.get_str("Description") {
            for word in text.split_whitespace() {
                *counts
                    .entry(word.trim_end_matches('.').to_lowercase())
                    .or_default() += 1;
            }
        }
    }
    let mut frequencies: Vec<usize> = counts.values().copied().collect();
    frequencies.sort_unstable_by(|a, b| b.cmp(a));
    assert!(
        frequencies.len() > 1000,
        "vocabulary used: {}",
        frequencies.len()
    );
    assert!(frequencies[0] > 50 * frequencies[frequencies.len() / 2]);
}

#[test]
fn file_bodies_mix_compressible_and_opaque_kinds() {
    let org = org(13, 20_000);
    let kinds: BTreeSet<String> = org
        .blob_ids()
        .map(|id| format!("{:?}", org.blob_spec(id).unwrap().kind))
        .collect();
    for kind in BlobKind::ALL {
        assert!(kinds.contains(&format!("{kind:?}")), "no {kind:?} body");
    }
    let compressible = org
        .blob_ids()
        .filter(|id| org.blob_spec(id).unwrap().kind.is_compressible())
        .count();
    let total = org.blob_ids().count();
    assert!(
        compressible * 4 > total && compressible * 4 < total * 3,
        "{compressible}/{total}"
    );
}

#[test]
fn written_directory_reads_back_identically() {
    let org = org(17, 1200);
    let dir = tempfile::tempdir().unwrap();
    let summary = export::write_dir(&org, dir.path()).unwrap();
    assert_eq!(summary.records, 1200);
    assert_eq!(export::read_records(dir.path()).unwrap(), org.objects());
    let mut blob_files = 0;
    for entry in std::fs::read_dir(dir.path().join("blobs")).unwrap() {
        let entry = entry.unwrap();
        let id: SfId = entry.file_name().to_str().unwrap().parse().unwrap();
        assert_eq!(
            std::fs::read(entry.path()).unwrap(),
            org.blob_body(&id).unwrap()
        );
        blob_files += 1;
    }
    assert_eq!(blob_files, summary.blobs);
    assert_eq!(blob_files, org.blob_ids().count());
    // A second export into the same place refuses rather than mixing two orgs.
    assert!(matches!(
        export::write_dir(&org, dir.path()),
        Err(coffer_sfsim::Error::OutputNotEmpty { .. })
    ));
}

#[test]
fn command_line_writes_the_same_data_as_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("org");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_coffer-sfsim"))
        .args(["generate", "--seed", "42", "--records", "400", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let org = org(42, 400);
    assert_eq!(export::read_records(&out).unwrap(), org.objects());
    let first_line = std::fs::read_to_string(out.join("records/Account.jsonl")).unwrap();
    let first_line = first_line.lines().next().unwrap();
    assert_eq!(
        first_line,
        org.object("Account").unwrap().records[0].to_json()
    );
    assert!(first_line.starts_with(
        r#"{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001"#
    ));
}

#[test]
fn file_bodies_scale_to_a_chosen_total_with_their_size_fields() {
    let plain = org(21, 3000);
    let total: u64 = 2_000_000;
    let scaled = plain.clone().with_file_bytes(total);
    // Records other than the size fields are untouched.
    assert_eq!(scaled.record_count(), plain.record_count());
    assert_eq!(
        scaled.object("Account").unwrap().records,
        plain.object("Account").unwrap().records
    );
    let mut sum = 0u64;
    let mut sizes = HashMap::new();
    for id in scaled.blob_ids() {
        let body = scaled.blob_body(id).unwrap();
        assert!(!body.is_empty());
        assert_eq!(body.len(), scaled.blob_spec(id).unwrap().size);
        sizes.insert(id.to_string(), body.len() as u64);
        sum += body.len() as u64;
    }
    // Rounding down per file and the 1-byte floor keep the total within one byte per file.
    let files = sizes.len() as u64;
    assert!(sum.abs_diff(total) <= files, "{sum} vs {total}");
    let size_field = |object: &str, field: &str, id_field: &str| {
        for record in &scaled.object(object).unwrap().records {
            let id = record.get_str(id_field).unwrap();
            assert_eq!(
                record.get(field).unwrap().as_u64(),
                Some(sizes[id]),
                "{object}"
            );
        }
    };
    size_field("ContentVersion", "ContentSize", "Id");
    size_field("ContentDocument", "ContentSize", "LatestPublishedVersionId");
    size_field("Attachment", "BodyLength", "Id");
}
