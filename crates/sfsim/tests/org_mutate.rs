//! Mutation: deterministic per seed, stamps shared in groups and moving forward.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use coffer_sfsim::org::{LiveOrg, Mutation};
use coffer_sfsim::{GenerateConfig, Org};
use serde_json::Value;

fn org() -> LiveOrg {
    LiveOrg::new(
        Org::generate(&GenerateConfig {
            seed: 21,
            records: 3_000,
        })
        .unwrap(),
    )
}

/// Every record of `object` (queryAll) without its time-dependent audit fields.
fn snapshot(org: &LiveOrg, object: &str) -> Vec<Value> {
    let describe = org.describe(object).unwrap();
    let fields: Vec<&str> = describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .filter(|f| !matches!(*f, "CreatedDate" | "LastModifiedDate" | "SystemModstamp"))
        .collect();
    let soql = format!("SELECT {} FROM {object} ORDER BY Id", fields.join(", "));
    org.query(&soql, true, "v62.0").unwrap().records
}

#[test]
fn same_seed_same_changes() {
    let m = Mutation {
        seed: 9,
        update_pct: 10.0,
        delete_pct: 3.0,
        create_pct: 5.0,
    };
    let (mut a, mut b) = (org(), org());
    let sa = a.mutate(&m);
    let sb = b.mutate(&m);
    assert_eq!(sa, sb);
    for object in ["Account", "Opportunity", "Case"] {
        assert_eq!(snapshot(&a, object), snapshot(&b, object), "{object}");
    }
    let accounts = &sa.objects["Account"];
    let before = org().live_counts()["Account"];
    assert_eq!(
        a.live_counts()["Account"],
        before - accounts.deleted + accounts.created
    );
    assert_eq!(accounts.updated, (before as f64 * 0.10).round() as u64);
    // Deleting accounts cascades to their master-detail projects.
    assert!(sa.objects["Project__c"].deleted >= 1);
    let json = serde_json::to_value(&sa).unwrap();
    assert!(json["objects"]["Account"]["updated"].is_u64());
    let other = org().mutate(&Mutation { seed: 10, ..m });
    assert_eq!(other.objects["Account"].updated, accounts.updated);
    let mut c = org();
    c.mutate(&Mutation { seed: 10, ..m });
    assert_ne!(snapshot(&a, "Account"), snapshot(&c, "Account"));
}

#[test]
fn stamps_are_shared_and_after_now() {
    let mut org = org();
    let before = org.now_millis();
    org.mutate(&Mutation {
        seed: 1,
        update_pct: 30.0,
        delete_pct: 0.0,
        create_pct: 0.0,
    });
    assert!(org.now_millis() >= before);
    let changed = org
        .query("SELECT Id, SystemModstamp, LastModifiedDate FROM Contact WHERE SystemModstamp > 2025-07-01T00:00:00Z", true, "v62.0")
        .unwrap();
    assert!(changed.total_size > 100);
    let mut per_stamp: BTreeMap<String, usize> = BTreeMap::new();
    for r in &changed.records {
        assert_eq!(r["SystemModstamp"], r["LastModifiedDate"]);
        *per_stamp
            .entry(r["SystemModstamp"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(per_stamp.values().any(|&n| n > 1), "no shared stamps");
    assert!(per_stamp.len() > 1);
}

/// A record changed twice gets a later SystemModstamp the second time, even when both changes
/// fall in the same clock step (a version of a record is its Id and SystemModstamp).
#[test]
fn a_record_changed_twice_gets_a_later_stamp() {
    let mut org = org();
    let stamps = |org: &LiveOrg| -> BTreeMap<String, String> {
        org.query("SELECT Id, SystemModstamp FROM Account", true, "v62.0")
            .unwrap()
            .records
            .iter()
            .map(|r| {
                (
                    r["Id"].as_str().unwrap().to_owned(),
                    r["SystemModstamp"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let everything = |seed| Mutation {
        seed,
        update_pct: 100.0,
        delete_pct: 0.0,
        create_pct: 0.0,
    };
    // Back to back, mutations exhaust the five minutes of backdating and then all stamp at the
    // wall clock's second: only the rule keeps a record's stamps apart.
    let mut before = stamps(&org);
    for seed in 1..=12 {
        org.mutate(&everything(seed));
        let after = stamps(&org);
        for (id, stamp) in &after {
            // REST datetimes of one format and zone compare as text. Every Account has an
            // editable field, so every one changed and moved forward.
            assert!(
                stamp > &before[id],
                "mutation {seed}, {id}: {} then {stamp}",
                before[id]
            );
        }
        before = after;
    }
}
