//! Backup end to end against the simulator over HTTPS: a full run, then a change to the org
//! and an incremental run that stores only what changed; the repository then matches the org
//! (Id sets and field values); after the Recycle Bin is emptied a full reconciliation records
//! exactly the purged records as gone; and the repository verifies with every record read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use coffer_engine::backup::{BackupOptions, backup};
use coffer_engine::repo::index::EntryKind;
use coffer_engine::repo::manifest::{RootKey, RunKind};
use coffer_engine::repo::{OrgRepo, Repository};
use coffer_envelope::DataKey;
use coffer_keys::{KeyManager, LocalKms};
use coffer_salesforce::auth::Credentials;
use coffer_salesforce::retry::PollPolicy;
use coffer_salesforce::{Client, ExtractOptions};
use coffer_sfsim::org::Mutation;
use coffer_sfsim::server::{RunningSimulator, Simulator};
use coffer_store::{Memory, ObjectStore, PutOptions};
use futures::TryStreamExt;
use secrecy::SecretString;
use serde_json::Value;

const OBJECTS: [&str; 4] = ["Account", "Contact", "Project__c", "ContentVersion"];

fn client(sim: &RunningSimulator) -> Client {
    Client::builder(
        sim.instance_url(),
        Credentials::ClientCredentials {
            client_id: sim.client_id().to_owned(),
            client_secret: SecretString::from(sim.client_secret().to_owned()),
        },
    )
    .native_roots(false)
    .extra_root_pem(sim.ca_cert_pem().unwrap().as_bytes().to_vec())
    .build()
    .unwrap()
}

fn options() -> BackupOptions {
    BackupOptions {
        objects: Some(OBJECTS.iter().map(|s| (*s).to_owned()).collect()),
        extract: ExtractOptions {
            // Contact goes through Bulk, the others through REST.
            bulk_threshold: 500,
            bulk_page_records: 300,
            poll: PollPolicy {
                initial: Duration::from_millis(5),
                max: Duration::from_millis(20),
                timeout: Duration::from_secs(60),
            },
            ..ExtractOptions::default()
        },
        // The default lookback (600 s) covers the simulator's changes, which land up to 30 s in
        // the past, as late commits do in a real org.
        ..BackupOptions::default()
    }
}

/// A new repository in memory, and the simulated org in it.
async fn new_repo(sim: &RunningSimulator, api: &Client) -> (Repository, OrgRepo) {
    let org_id = api.org_id().await.unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(Memory::new());
    let kms = Arc::new(LocalKms::new(DataKey::from_slice(&[9; 32]).unwrap()));
    let repo = Repository::init(
        store.clone(),
        KeyManager::new(store, kms),
        RootKey::Local {
            key_id: "local".into(),
        },
    )
    .await
    .unwrap();
    let org = repo
        .org_or_create(&org_id, "sim", sim.instance_url())
        .await
        .unwrap();
    (repo, org)
}

/// `fields` of every record of `object` as the org returns them (queryAll).
fn org_records(sim: &RunningSimulator, object: &str, fields: &str) -> Vec<Value> {
    sim.with_org(|org| org.query(&format!("SELECT {fields} FROM {object}"), true, "v62.0"))
        .unwrap()
        .records
}

#[tokio::test(flavor = "multi_thread")]
async fn full_then_incremental_backup_matches_the_org() {
    let sim = Simulator::builder()
        .seed(3)
        .records(2500)
        .start()
        .await
        .unwrap();
    let api = Arc::new(client(&sim));
    let (repo, org) = new_repo(&sim, &api).await;
    let org_id = org.org_id().to_owned();

    let first = backup(&api, &org, sim.instance_url(), "v62.0", &options())
        .await
        .unwrap();
    assert_eq!((first.snapshot, first.kind), (1, RunKind::Full));
    let counts = sim.live_counts();
    for object in OBJECTS {
        assert_eq!(first.objects[object].live, counts[object], "{object}");
        assert_eq!(
            first.objects[object].new_records,
            first.objects[object].records_seen
        );
    }
    assert_eq!(first.objects["Contact"].method, "bulk");
    assert_eq!(first.objects["Account"].method, "rest");
    let files = first.objects["ContentVersion"].blobs_seen;
    assert!(files > 0 && first.new_blobs > 0 && first.new_blobs <= files);

    // Change the org: updates, deletes, creates.
    let change = sim.mutate(&Mutation {
        seed: 5,
        update_pct: 5.0,
        delete_pct: 2.0,
        create_pct: 3.0,
    });
    let second = backup(&api, &org, sim.instance_url(), "v62.0", &options())
        .await
        .unwrap();
    assert_eq!((second.snapshot, second.kind), (2, RunKind::Incremental));
    let counts = sim.live_counts();
    assert!(
        serde_json::to_value(&change)
            .unwrap()
            .as_object()
            .is_some_and(|m| !m.is_empty())
    );
    for object in OBJECTS {
        let summary = &second.objects[object];
        assert_eq!(summary.read, "incremental");
        assert_eq!(summary.live, counts[object], "{object}");
        // Only what changed was stored: far fewer versions than records.
        assert!(
            summary.new_records < first.objects[object].new_records / 4,
            "{object}: {summary:?}"
        );
    }
    assert!(second.new_records > 0);
    assert!(second.bytes_added < first.bytes_added / 4);

    // The repository as of snapshot 2 is the org: every Id, deletions, names.
    for object in ["Account", "Contact"] {
        let records = org_records(&sim, object, "Id, Name, IsDeleted");
        let mut stored_ids = BTreeSet::new();
        for record in &records {
            let id = record["Id"].as_str().unwrap();
            let stored = org.read_record(Some(2), object, id).await.unwrap().unwrap();
            let deleted = record["IsDeleted"].as_bool().unwrap();
            assert_eq!(stored.kind == EntryKind::Deleted, deleted, "{object} {id}");
            let json: Value = serde_json::from_slice(&stored.canonical.unwrap()).unwrap();
            assert_eq!(json["Name"], record["Name"], "{object} {id}");
            stored_ids.insert(id.to_owned());
        }
        assert_eq!(stored_ids.len(), records.len());
    }
    // File bodies come back byte for byte from their blob reference, each with its own record
    // (bodies are downloaded several at a time).
    for file in org_records(&sim, "ContentVersion", "Id") {
        let id = file["Id"].as_str().unwrap();
        let stored = org
            .read_record(None, "ContentVersion", id)
            .await
            .unwrap()
            .unwrap();
        let json: Value = serde_json::from_slice(&stored.canonical.unwrap()).unwrap();
        let Some(name) = json["VersionData"]["coffer:blob"].as_str() else {
            // A deleted version: the org serves no body for it.
            assert_eq!(stored.kind, EntryKind::Deleted, "{id}");
            continue;
        };
        let (body, _) = sim
            .with_org(|o| o.blob("ContentVersion", id, "VersionData"))
            .unwrap();
        assert_eq!(org.get_blob(name).await.unwrap(), body.to_vec(), "{id}");
        assert_eq!(json["VersionData"]["size"], body.len(), "{id}");
    }

    // The Recycle Bin is emptied: the soft-deleted records vanish from the org. A full read
    // (reconciliation) finds them gone, and only them.
    let ids = |object: &str| -> BTreeSet<String> {
        org_records(&sim, object, "Id")
            .iter()
            .map(|r| r["Id"].as_str().unwrap().to_owned())
            .collect()
    };
    let before: Vec<BTreeSet<String>> = OBJECTS.iter().map(|o| ids(o)).collect();
    assert!(sim.with_org_mut(|o| o.empty_recycle_bin()) > 0);
    let reconcile = BackupOptions {
        full_every: Duration::ZERO,
        ..options()
    };
    let third = backup(&api, &org, sim.instance_url(), "v62.0", &reconcile)
        .await
        .unwrap();
    assert_eq!(third.kind, RunKind::Reconcile);
    for (object, before) in OBJECTS.iter().zip(&before) {
        let after = ids(object);
        let purged: Vec<&String> = before.difference(&after).collect();
        assert_eq!(third.objects[*object].gone, purged.len() as u64, "{object}");
        // Nothing changed in the org but the purge: no version is stored again.
        assert_eq!(third.objects[*object].new_records, 0, "{object}");
        for id in purged {
            let stored = org.read_record(None, object, id).await.unwrap().unwrap();
            assert_eq!(stored.kind, EntryKind::Gone, "{object} {id}");
            // As of snapshot 2 it was still there, deleted.
            let then = org.read_record(Some(2), object, id).await.unwrap().unwrap();
            assert_eq!(then.kind, EntryKind::Deleted, "{object} {id}");
        }
        for id in after.iter().take(50) {
            let stored = org.read_record(None, object, id).await.unwrap().unwrap();
            assert_ne!(stored.kind, EntryKind::Gone, "{object} {id}");
        }
    }
    assert!(OBJECTS.iter().any(|o| third.objects[*o].gone > 0));

    let report = org.verify(true).await.unwrap();
    assert_eq!(report.snapshots, 3);
    assert_eq!(report.records, first.new_records + second.new_records);
    // Every body was read back against its name; bodies share packs.
    let manifest = org.latest().await.unwrap().unwrap();
    assert_eq!(report.blobs, manifest.blobs.count);
    assert_eq!(report.blobs, first.new_blobs + second.new_blobs);
    assert!(
        report.blob_packs >= 1 && report.blob_packs < report.blobs,
        "{report:?}"
    );

    // A blob pack altered in the store: verify fails, naming it.
    let store = repo.store().clone();
    let blob_pack = store
        .list(&format!("orgs/{org_id}/blobs/"))
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .remove(0)
        .key;
    let mut bytes = store.get(&blob_pack).await.unwrap().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    store
        .put(&blob_pack, bytes.into(), &PutOptions::default())
        .await
        .unwrap();
    let err = org.verify(true).await.unwrap_err().to_string();
    assert!(err.contains(blob_pack.as_ref()), "{err}");
    sim.shutdown().await;
}

/// Every key in the store, sorted.
async fn stored_keys(store: &Arc<dyn ObjectStore>) -> Vec<String> {
    let metas: Vec<_> = store.list("").try_collect().await.unwrap();
    let mut keys: Vec<String> = metas
        .into_iter()
        .map(|m| m.key.as_str().to_owned())
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_object_stops_the_run_and_nothing_of_it_goes_on() {
    // Every call is slowed, so the other objects are still being read when one fails.
    let sim = Simulator::builder()
        .seed(4)
        .records(2500)
        .faults("slow=20:every=1".parse().unwrap())
        .start()
        .await
        .unwrap();
    let api = Arc::new(client(&sim));
    let (repo, org) = new_repo(&sim, &api).await;
    let store = repo.store().clone();

    // ContentVersion first, and no file body fits: its read fails on its first body while
    // the other objects' reads are under way.
    let mut failing = options();
    failing.objects = Some(
        ["ContentVersion", "Account", "Contact", "Project__c"]
            .map(str::to_owned)
            .to_vec(),
    );
    failing.max_blob_bytes = 1;
    let err = backup(&api, &org, sim.instance_url(), "v62.0", &failing)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("larger than 1 bytes"), "{err}");
    // The other reads were stopped before `backup` returned: nothing more is written.
    let after = stored_keys(&store).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(stored_keys(&store).await, after);
    assert!(org.snapshots().await.unwrap().is_empty());

    // The next run, with bodies allowed, backs the whole org up.
    sim.set_faults(Default::default());
    let summary = backup(&api, &org, sim.instance_url(), "v62.0", &options())
        .await
        .unwrap();
    assert_eq!(summary.snapshot, 1);
    let counts = sim.live_counts();
    for object in OBJECTS {
        assert_eq!(summary.objects[object].live, counts[object], "{object}");
    }
    // The repository holds each row the org returns once: those this run stored, and those of
    // any object the failed run finished before it stopped (journaled, so not stored again).
    let rows: usize = OBJECTS
        .iter()
        .map(|object| org_records(&sim, object, "Id").len())
        .sum();
    let report = org.verify(true).await.unwrap();
    assert_eq!(report.records, rows as u64);
    sim.shutdown().await;
}
