//! The repository layer end to end on an in-memory store: init and reopen from the store alone,
//! full and incremental snapshots, point-in-time reads, create-only commits, and what happens
//! to tampered objects and wrong keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use coffer_engine::Error;
use coffer_engine::repo::index::{EntryKind, RecordId};
use coffer_engine::repo::manifest::{RootKey, RunKind, Watermark};
use coffer_engine::repo::record::canonical;
use coffer_engine::repo::snapshot::SEGMENT_ENTRIES;
use coffer_engine::repo::{OrgRepo, Repository, SnapshotWriter};
use coffer_envelope::DataKey;
use coffer_keys::{KeyManager, LocalKms};
use coffer_store::{Memory, ObjectKey, ObjectStore, PutOptions};
use futures::TryStreamExt;
use serde_json::{Map, Value, json};

const ORG: &str = "00D000000000001AAA";

fn account_id(i: usize) -> String {
    format!("001{i:012}AAA")
}

/// A SystemModstamp in the REST form.
fn rest(ms: i64) -> String {
    coffer_salesforce::Timestamp(ms).to_rest()
}

/// The one Contact of the resumption test, at stamp 1000.
fn contact() -> Vec<u8> {
    let record = json!({"Id": "003000000000001AAA", "SystemModstamp": rest(1000)});
    canonical(
        "Contact",
        record.as_object().unwrap(),
        &["Id", "SystemModstamp"].map(String::from),
    )
    .unwrap()
}

fn account(i: usize, version: u32) -> Vec<u8> {
    let record: Map<String, Value> = json!({
        "Id": account_id(i),
        "Name": format!("Account {i} v{version}"),
        "Description": "lorem ipsum dolor sit amet ".repeat(i % 7 + 1),
        // Stored lines carry their version key: stamp = version × 1000 ms.
        "SystemModstamp": rest(i64::from(version) * 1000),
    })
    .as_object()
    .unwrap()
    .clone();
    let order = ["Id", "Name", "Description", "SystemModstamp"].map(String::from);
    canonical("Account", &record, &order).unwrap()
}

fn master_key() -> DataKey {
    DataKey::from_slice(&[42u8; 32]).unwrap()
}

async fn repository(store: Arc<dyn ObjectStore>) -> Repository {
    let keys = KeyManager::new(store.clone(), Arc::new(LocalKms::new(master_key())));
    Repository::init(
        store,
        keys,
        RootKey::Local {
            key_id: "local".into(),
        },
    )
    .await
    .unwrap()
}

/// A fresh repository in memory with the test org in it.
async fn new_org() -> (Arc<dyn ObjectStore>, Repository, OrgRepo) {
    let store: Arc<dyn ObjectStore> = Arc::new(Memory::new());
    let repo = repository(store.clone()).await;
    let org = repo
        .org_or_create(ORG, "acme", "https://127.0.0.1:1")
        .await
        .unwrap();
    (store, repo, org)
}

/// A full snapshot of `n` accounts at stamp 1000.
async fn full(org: &OrgRepo, n: usize) {
    let mut writer = SnapshotWriter::begin(org, RunKind::Full, "run-1".into(), 1)
        .await
        .unwrap();
    writer.load_known("Account").await.unwrap();
    for i in 0..n {
        writer
            .add_version("Account", &account_id(i), 1000, false, account(i, 1))
            .await
            .unwrap();
    }
    let watermark = Watermark {
        stamp_ms: 1000,
        id: account_id(n - 1),
    };
    writer
        .finish_object("Account", Some(watermark), n as u64)
        .await
        .unwrap();
    writer
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 2)
        .await
        .unwrap();
}

#[tokio::test]
async fn full_and_incremental_snapshots_read_back_as_of_each_snapshot() {
    let (store, _repo, org) = new_org().await;
    assert!(org.latest().await.unwrap().is_none());
    // 8000 accounts of ~100-250 bytes.
    full(&org, 8000).await;

    let mut writer = SnapshotWriter::begin(&org, RunKind::Incremental, "run-2".into(), 3)
        .await
        .unwrap();
    writer.load_known("Account").await.unwrap();
    writer
        .add_version("Account", &account_id(7), 2000, false, account(7, 2))
        .await
        .unwrap();
    writer
        .add_version("Account", &account_id(8), 2000, true, account(8, 2))
        .await
        .unwrap();
    writer
        .add_gone("Account", &account_id(9), 2000)
        .await
        .unwrap();
    writer
        .finish_object(
            "Account",
            Some(Watermark {
                stamp_ms: 2000,
                id: account_id(8),
            }),
            2998,
        )
        .await
        .unwrap();
    let second = writer
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 4)
        .await
        .unwrap();
    assert_eq!((second.seq, second.parent), (2, Some(1)));
    assert_eq!(second.objects["Account"].versions_added, 2);
    assert_eq!(second.objects["Account"].gone_added, 1);
    assert_eq!(second.objects["Account"].index.len(), 2);
    assert!(second.bytes_added > 0);
    assert_eq!(org.snapshots().await.unwrap(), vec![1, 2]);

    // As of snapshot 1 the old versions; as of 2 (and latest) the new ones.
    let old = org
        .read_record(Some(1), "Account", &account_id(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.canonical.unwrap(), account(7, 1));
    let new = org
        .read_record(None, "Account", &account_id(7))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (new.stamp_ms, new.canonical.unwrap()),
        (2000, account(7, 2))
    );
    let deleted = org
        .read_record(Some(2), "Account", &account_id(8))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.kind, EntryKind::Deleted);
    let gone = org
        .read_record(Some(2), "Account", &account_id(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((gone.kind, gone.canonical), (EntryKind::Gone, None));
    // Untouched records come from snapshot 1's segment, and the last of 8000 too.
    let last = org
        .read_record(Some(2), "Account", &account_id(7999))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.canonical.unwrap(), account(7999, 1));
    assert!(
        org.read_record(None, "Account", &account_id(9000))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        org.read_record(None, "Contact", &account_id(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        org.read_record(Some(3), "Account", &account_id(1)).await,
        Err(Error::UnknownSnapshot { seq: 3 })
    ));

    // Nothing in the store names a record: keys are fixed words, hex and numbers.
    let keys: Vec<String> = store
        .list("")
        .map_ok(|m| m.key.to_string())
        .try_collect()
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| !k.contains("Account") && !k.contains(&account_id(7)[..15])),
        "{keys:?}"
    );
}

/// A run only adds versions newer than every stored or queued one of the record (what lets a
/// point-in-time read stop at the newest segment that knows the record).
#[tokio::test]
async fn a_run_refuses_versions_that_are_not_newer() {
    let (_, _, org) = new_org().await;
    full(&org, 3).await;
    let mut writer = SnapshotWriter::begin(&org, RunKind::Incremental, "run-2".into(), 3)
        .await
        .unwrap();
    let refused = |r: coffer_engine::Result<()>| {
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}")
    };
    // Not before what is stored has been loaded.
    refused(
        writer
            .add_version("Account", &account_id(1), 2000, false, account(1, 2))
            .await,
    );
    writer.load_known("Account").await.unwrap();
    assert_eq!(
        writer.newest("Account", &RecordId::parse(&account_id(1)).unwrap()),
        Some((1000, EntryKind::Version))
    );
    // The stored stamp itself, or older: refused.
    refused(
        writer
            .add_version("Account", &account_id(1), 1000, false, account(1, 2))
            .await,
    );
    refused(writer.add_gone("Account", &account_id(1), 999).await);
    // Newer: queued, and then the queued version is the one to beat.
    writer
        .add_version("Account", &account_id(1), 2000, false, account(1, 2))
        .await
        .unwrap();
    refused(
        writer
            .add_version("Account", &account_id(1), 2000, true, account(1, 3))
            .await,
    );
    writer
        .add_gone("Account", &account_id(1), 3000)
        .await
        .unwrap();
    assert_eq!(writer.live_count("Account").unwrap(), 2);
    writer.finish_object("Account", None, 2).await.unwrap();
    writer
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 4)
        .await
        .unwrap();
    let read = org
        .read_record(None, "Account", &account_id(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.stamp_ms, read.kind), (3000, EntryKind::Gone));
}

/// A run stores a pack as soon as it is full, not when the object is finished: memory is
/// bounded by a pack, whatever the object's size.
#[tokio::test]
async fn packs_are_stored_while_an_object_is_still_being_read() {
    let (store, _, org) = new_org().await;
    let mut writer = SnapshotWriter::begin(&org, RunKind::Full, "big".into(), 1)
        .await
        .unwrap();
    writer.load_known("Account").await.unwrap();
    // 150 records of 256 KiB of hex noise (half of it compressible): 2 MiB blocks of ~1 MiB
    // each, so a pack passes its target every two blocks and is stored while the object is
    // read, and a last partial block that only finishing the object stores.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise = || {
        let mut text = Vec::with_capacity(256 * 1024);
        while text.len() < 256 * 1024 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.extend(
                (0..16).map(|nibble| b"0123456789abcdef"[(state >> (nibble * 4)) as usize & 15]),
            );
        }
        String::from_utf8(text).unwrap()
    };
    let order = ["Id", "Blob", "SystemModstamp"].map(String::from);
    let packs = || async {
        store
            .list(&format!("orgs/{ORG}/packs/"))
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len()
    };
    for i in 0..150 {
        let record = json!({"Id": account_id(i), "Blob": noise(), "SystemModstamp": rest(1000)});
        let bytes = canonical("Account", record.as_object().unwrap(), &order).unwrap();
        writer
            .add_version("Account", &account_id(i), 1000, false, bytes)
            .await
            .unwrap();
    }
    let before_finish = packs().await;
    assert!(
        before_finish >= 1,
        "no pack stored before the object was finished"
    );
    writer.finish_object("Account", None, 150).await.unwrap();
    let manifest = writer
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 2)
        .await
        .unwrap();
    assert!(packs().await > before_finish);
    assert_eq!(manifest.packs_added.len(), packs().await);
    for i in [0, 149] {
        let read = org
            .read_record(None, "Account", &account_id(i))
            .await
            .unwrap()
            .unwrap();
        let json: Value = serde_json::from_slice(&read.canonical.unwrap()).unwrap();
        assert_eq!(json["Id"], account_id(i));
        assert_eq!(json["Blob"].as_str().unwrap().len(), 256 * 1024);
    }
    assert_eq!(org.verify(true).await.unwrap().records, 150);
}

/// A run that dies after finishing an object is continued by the next one from its journal:
/// the finished object's packs and segment are reused, the rest is done, and once the
/// snapshot commits its journals are gone.
#[tokio::test]
async fn a_run_that_died_is_continued_from_its_journal() {
    let (store, _, org) = new_org().await;
    assert!(SnapshotWriter::resume(&org).await.unwrap().is_none());
    let mut first = SnapshotWriter::begin(&org, RunKind::Full, "died".into(), 1)
        .await
        .unwrap();
    first.load_known("Account").await.unwrap();
    for i in 0..3 {
        first
            .add_version("Account", &account_id(i), 1000, false, account(i, 1))
            .await
            .unwrap();
    }
    first.finish_object("Account", None, 3).await.unwrap();
    // Contact was being read when the process died: queued, never finished.
    first.load_known("Contact").await.unwrap();
    first
        .add_version("Contact", "003000000000001AAA", 1000, false, contact())
        .await
        .unwrap();
    drop(first);

    let mut second = SnapshotWriter::resume(&org).await.unwrap().unwrap();
    assert_eq!(second.run(), "died");
    assert_eq!(second.kind(), RunKind::Full);
    assert!(second.is_finished("Account") && !second.is_finished("Contact"));
    second.load_known("Contact").await.unwrap();
    second
        .add_version("Contact", "003000000000001AAA", 1000, false, contact())
        .await
        .unwrap();
    second.finish_object("Contact", None, 1).await.unwrap();
    let manifest = second
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 2)
        .await
        .unwrap();
    assert_eq!(manifest.run, "died");
    assert_eq!(manifest.objects["Account"].versions_added, 3);
    for i in 0..3 {
        let read = org
            .read_record(None, "Account", &account_id(i))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.canonical.unwrap(), account(i, 1));
    }
    assert!(
        org.read_record(None, "Contact", "003000000000001AAA")
            .await
            .unwrap()
            .is_some()
    );
    let journals: Vec<_> = store
        .list(&format!("orgs/{ORG}/runs/"))
        .try_collect()
        .await
        .unwrap();
    assert!(journals.is_empty(), "{journals:?}");
    assert!(SnapshotWriter::resume(&org).await.unwrap().is_none());
    assert_eq!(org.verify(true).await.unwrap().records, 4);
}

#[tokio::test]
async fn the_store_and_the_root_key_are_all_it_takes_to_reopen() {
    let (store, repo, org) = new_org().await;
    full(&org, 10).await;

    // A new machine: a fresh key manager with the same master key, nothing else.
    let keys = KeyManager::new(store.clone(), Arc::new(LocalKms::new(master_key())));
    let reopened = Repository::open(store.clone(), keys).await.unwrap();
    assert_eq!(reopened.config(), repo.config());
    let org = reopened.org(ORG).await.unwrap();
    assert_eq!(org.name(), "acme");
    let record = org
        .read_record(None, "Account", &account_id(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.canonical.unwrap(), account(3, 1));
    // Asking again for the same org keeps its descriptor (and name key).
    let again = reopened
        .org_or_create(ORG, "other name", "https://x")
        .await
        .unwrap();
    assert_eq!(again.name(), "acme");

    // The wrong root key opens nothing.
    let wrong = KeyManager::new(
        store.clone(),
        Arc::new(LocalKms::new(DataKey::from_slice(&[7u8; 32]).unwrap())),
    );
    let wrong = Repository::open(store.clone(), wrong).await.unwrap();
    assert!(wrong.org(ORG).await.is_err());

    assert!(matches!(
        Repository::init(
            store.clone(),
            KeyManager::new(store.clone(), Arc::new(LocalKms::new(master_key()))),
            RootKey::Local {
                key_id: "local".into()
            }
        )
        .await,
        Err(Error::RepositoryExists)
    ));
    let empty: Arc<dyn ObjectStore> = Arc::new(Memory::new());
    let keys = KeyManager::new(empty.clone(), Arc::new(LocalKms::new(master_key())));
    assert!(matches!(
        Repository::open(empty, keys).await,
        Err(Error::NotARepository)
    ));
    assert!(matches!(
        reopened.org("00D000000000002AAA").await,
        Err(Error::UnknownOrg { .. })
    ));
}

#[tokio::test]
async fn of_two_runs_on_one_parent_only_the_first_commits() {
    let (_store, _repo, org) = new_org().await;
    let mut a = SnapshotWriter::begin(&org, RunKind::Full, "a".into(), 1)
        .await
        .unwrap();
    a.load_known("Account").await.unwrap();
    let mut b = SnapshotWriter::begin(&org, RunKind::Full, "b".into(), 1)
        .await
        .unwrap();
    b.load_known("Account").await.unwrap();
    a.add_version("Account", &account_id(1), 1000, false, account(1, 1))
        .await
        .unwrap();
    b.add_version("Account", &account_id(1), 9000, false, account(1, 9))
        .await
        .unwrap();
    a.finish_object("Account", None, 1).await.unwrap();
    b.finish_object("Account", None, 1).await.unwrap();
    a.commit(ORG, "u", "v62.0", 2).await.unwrap();
    assert!(matches!(
        b.commit(ORG, "u", "v62.0", 2).await,
        Err(Error::Conflict { seq: 1 })
    ));
    let stored = org
        .read_record(None, "Account", &account_id(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.canonical.unwrap(), account(1, 1));

    // Queued but unfinished objects cannot be committed (nothing is silently dropped).
    let mut c = SnapshotWriter::begin(&org, RunKind::Incremental, "c".into(), 3)
        .await
        .unwrap();
    c.load_known("Account").await.unwrap();
    c.add_version("Account", &account_id(2), 2000, false, account(2, 2))
        .await
        .unwrap();
    assert!(matches!(
        c.commit(ORG, "u", "v62.0", 4).await,
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(org.snapshots().await.unwrap(), vec![1]);
}

#[tokio::test]
async fn altered_or_replaced_objects_are_detected() {
    let (store, _repo, org) = new_org().await;
    full(&org, 20).await;
    let manifest = org.latest().await.unwrap().unwrap();

    // An index segment with one flipped byte no longer matches its content name.
    let index_key = ObjectKey::new(format!(
        "orgs/{ORG}/index/{}",
        manifest.objects["Account"].index[0]
    ))
    .unwrap();
    let mut bytes = store.get(&index_key).await.unwrap().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    store
        .put(&index_key, Bytes::from(bytes), &PutOptions::overwrite())
        .await
        .unwrap();
    assert!(matches!(
        org.read_record(None, "Account", &account_id(1)).await,
        Err(Error::Tampered { .. })
    ));

    // A flipped byte in a pack fails authentication on the ranged read.
    let (store2, _repo2, org2) = new_org().await;
    full(&org2, 20).await;
    let manifest2 = org2.latest().await.unwrap().unwrap();
    let pack_key =
        ObjectKey::new(format!("orgs/{ORG}/packs/{}", manifest2.packs_added[0])).unwrap();
    let mut pack = store2.get(&pack_key).await.unwrap().to_vec();
    let middle = pack.len() / 2;
    pack[middle] ^= 0x40;
    store2
        .put(&pack_key, Bytes::from(pack), &PutOptions::overwrite())
        .await
        .unwrap();
    assert!(matches!(
        org2.read_record(None, "Account", &account_id(1)).await,
        Err(Error::Crypto(_))
    ));
    // Only a full read of the data finds it: the pack no longer matches its name.
    assert!(org2.verify(false).await.is_ok());
    assert!(matches!(
        org2.verify(true).await,
        Err(Error::Tampered { .. })
    ));

    // A manifest moved to another number does not open there.
    let one = ObjectKey::new(format!("orgs/{ORG}/snapshots/{:020}", 1)).unwrap();
    let two = ObjectKey::new(format!("orgs/{ORG}/snapshots/{:020}", 2)).unwrap();
    let sealed = store2.get(&one).await.unwrap();
    store2
        .put(&two, sealed, &PutOptions::create_only())
        .await
        .unwrap();
    assert!(matches!(org2.manifest(2).await, Err(Error::Crypto(_))));
    assert!(matches!(org2.verify(false).await, Err(Error::Crypto(_))));
}

#[tokio::test]
async fn orgs_are_found_by_name_or_id_and_a_wrong_name_pointer_is_not_trusted() {
    let (store, repo, _org) = new_org().await;
    let other = "00D000000000002AAA";
    repo.org_or_create(other, "globex", "https://127.0.0.2:1")
        .await
        .unwrap();
    assert_eq!(repo.org_named("acme").await.unwrap().org_id(), ORG);
    assert_eq!(repo.org_named("globex").await.unwrap().org_id(), other);
    assert_eq!(repo.org_named(other).await.unwrap().name(), "globex");
    assert!(matches!(
        repo.org_named("initech").await,
        Err(Error::UnknownOrg { .. })
    ));
    // One pointer per name, outside `orgs/`.
    let pointers: Vec<_> = store.list("names/").try_collect().await.unwrap();
    assert_eq!(pointers.len(), 2);
    // Pointers are not sealed: one swapped to the other org is checked against the org's
    // sealed descriptor, and the lookup falls back to listing.
    for pointer in &pointers {
        store.delete(&pointer.key).await.unwrap();
        store
            .put(
                &pointer.key,
                Bytes::from_static(b"00D000000000002AAA"),
                &PutOptions::default(),
            )
            .await
            .unwrap();
    }
    assert_eq!(repo.org_named("acme").await.unwrap().org_id(), ORG);
    assert_eq!(repo.org_named("globex").await.unwrap().org_id(), other);
}

/// The first run of an object keeps no map of versions (nothing stored to compare with): the
/// versions it queues are sorted when its segment is written, a version key read twice is
/// indexed once, and the live count is that of each record's newest version.
#[tokio::test]
async fn a_first_run_sorts_its_versions_and_drops_repeats() {
    let (_, _, org) = new_org().await;
    let mut writer = SnapshotWriter::begin(&org, RunKind::Full, "first".into(), 1)
        .await
        .unwrap();
    writer.load_known("Account").await.unwrap();
    let queue = [
        (2, 2000, false, 2),
        (1, 1000, false, 1),
        (2, 1000, false, 1), // an older version of 2, read after the newer one
        (1, 1000, false, 1), // the same version key again
        (3, 1000, true, 1),  // deleted
    ];
    for (i, stamp, deleted, version) in queue {
        writer
            .add_version(
                "Account",
                &account_id(i),
                stamp,
                deleted,
                account(i, version),
            )
            .await
            .unwrap();
    }
    // Nothing stored before: nothing to compare with.
    assert_eq!(
        writer.newest("Account", &RecordId::parse(&account_id(1)).unwrap()),
        None
    );
    assert_eq!(writer.live_count("Account").unwrap(), 2);
    writer.finish_object("Account", None, 2).await.unwrap();
    let manifest = writer
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 2)
        .await
        .unwrap();
    let segment = org
        .segment(&manifest.objects["Account"].index[0])
        .await
        .unwrap();
    let keys: Vec<(String, i64)> = segment
        .entries()
        .iter()
        .map(|e| (e.id.to_string(), e.stamp_ms))
        .collect();
    assert_eq!(
        keys,
        vec![
            (account_id(1), 1000),
            (account_id(2), 1000),
            (account_id(2), 2000),
            (account_id(3), 1000)
        ]
    );
    let newest = org
        .read_record(None, "Account", &account_id(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(newest.stamp_ms, 2000);
    assert_eq!(newest.canonical, Some(account(2, 2)));
    let deleted = org
        .read_record(None, "Account", &account_id(3))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.kind, EntryKind::Deleted);
    assert_eq!(org.verify(true).await.unwrap().records, 4);
}

/// An object with more versions than a segment holds is indexed in consecutive segments,
/// even when a record's versions fall on both sides of a cut: every version is found, the
/// newest first.
#[tokio::test]
async fn a_large_object_is_indexed_in_consecutive_segments() {
    let (_, _, org) = new_org().await;
    let mut writer = SnapshotWriter::begin(&org, RunKind::Full, "first".into(), 1)
        .await
        .unwrap();
    writer.load_known("Account").await.unwrap();
    let n = SEGMENT_ENTRIES;
    // The last Account of the first segment has a second version: the first of the next.
    let cut = n - 1;
    writer
        .add_version("Account", &account_id(cut), 2000, false, account(cut, 2))
        .await
        .unwrap();
    for i in (0..n).rev() {
        writer
            .add_version("Account", &account_id(i), 1000, false, account(i, 1))
            .await
            .unwrap();
    }
    writer
        .finish_object("Account", None, n as u64)
        .await
        .unwrap();
    let manifest = writer
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 2)
        .await
        .unwrap();
    let index = &manifest.objects["Account"].index;
    assert_eq!(index.len(), 2);
    let first = org.segment(&index[0]).await.unwrap();
    let second = org.segment(&index[1]).await.unwrap();
    assert_eq!(first.entries().len(), n);
    let last_of_first = first.entries().last().unwrap();
    assert_eq!(
        (last_of_first.id.to_string(), last_of_first.stamp_ms),
        (account_id(cut), 1000)
    );
    let keys: Vec<(String, i64)> = second
        .entries()
        .iter()
        .map(|e| (e.id.to_string(), e.stamp_ms))
        .collect();
    assert_eq!(keys, vec![(account_id(cut), 2000)]);
    for (i, stamp, version) in [(0, 1000, 1), (cut - 1, 1000, 1), (cut, 2000, 2)] {
        let found = org
            .read_record(None, "Account", &account_id(i))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.stamp_ms, stamp);
        assert_eq!(found.canonical, Some(account(i, version)));
    }
    assert_eq!(org.verify(true).await.unwrap().records, n as u64 + 1);
}

/// A ContentVersion line naming the file body `blob` (hex), at stamp 1000.
fn content_version(blob: &str) -> Vec<u8> {
    let record = json!({
        "Id": "068000000000001AAA",
        "SystemModstamp": rest(1000),
        "VersionData": {"coffer:blob": blob, "size": 5}
    });
    canonical(
        "ContentVersion",
        record.as_object().unwrap(),
        &["Id", "SystemModstamp", "VersionData"].map(String::from),
    )
    .unwrap()
}

/// Commits a snapshot of one ContentVersion whose VersionData names `body` (stored by the
/// object's writer), or, with no body, the body `name` that is never stored.
async fn commit_content_version(org: &OrgRepo, body: Option<&[u8]>, name: &str) {
    let id = RecordId::parse("068000000000001AAA").unwrap();
    let mut writer = SnapshotWriter::begin(org, RunKind::Full, "files".into(), 1)
        .await
        .unwrap();
    let mut object = writer.object_writer("ContentVersion").unwrap();
    object.load_known().await.unwrap();
    let name = match body {
        Some(body) => object.add_blob(body.to_vec()).await.unwrap().0,
        None => name.to_owned(),
    };
    object
        .add_version(id, 1000, false, content_version(&name))
        .await
        .unwrap();
    writer
        .finish(object.finish(None, 1).await.unwrap())
        .await
        .unwrap();
    writer
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 2)
        .await
        .unwrap();
}

/// `verify --read-data` resolves every file reference a record makes: a record naming a body
/// that no blob index holds is reported, one naming a stored body passes.
#[tokio::test]
async fn verify_resolves_the_file_references_of_records() {
    let (_, _, org) = new_org().await;
    commit_content_version(&org, Some(b"hello"), "").await;
    let report = org.verify(true).await.unwrap();
    assert_eq!((report.records, report.blob_refs, report.blobs), (1, 1, 1));

    // A reference to a body never stored: verify names the record and the body.
    let (_, _, org) = new_org().await;
    let missing = "cd".repeat(32);
    commit_content_version(&org, None, &missing).await;
    // Without reading data the records are not opened.
    assert_eq!(org.verify(false).await.unwrap().blob_refs, 0);
    let err = org.verify(true).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("068000000000001AAA") && text.contains(&missing),
        "{text}"
    );
}

/// Two objects of one run name the same new file body. The one that queued it first dies
/// before it finishes; the other, finished and journaled, must not name a body nothing stored:
/// it stores the body too, the run that continues it commits, and every reference resolves.
#[tokio::test]
async fn a_body_two_objects_name_is_stored_by_each_until_one_finishes() {
    let (_, _, org) = new_org().await;
    let body = b"the same file".to_vec();
    let mut writer = SnapshotWriter::begin(&org, RunKind::Full, "shared".into(), 1)
        .await
        .unwrap();
    let mut first = writer.object_writer("Attachment").unwrap();
    let mut second = writer.object_writer("ContentVersion").unwrap();
    first.load_known().await.unwrap();
    second.load_known().await.unwrap();
    let (name, new) = first.add_blob(body.clone()).await.unwrap();
    assert!(new);
    // Not indexed while the first object is unfinished: the second stores it as well.
    let (again, new) = second.add_blob(body.clone()).await.unwrap();
    assert_eq!((again.as_str(), new), (name.as_str(), true));
    let id = RecordId::parse("068000000000001AAA").unwrap();
    second
        .add_version(id, 1000, false, content_version(&name))
        .await
        .unwrap();
    writer
        .finish(second.finish(None, 1).await.unwrap())
        .await
        .unwrap();
    // Indexed once the second has finished: an object after that reuses it.
    let mut third = writer.object_writer("Document").unwrap();
    third.load_known().await.unwrap();
    assert!(!third.add_blob(body).await.unwrap().1);
    writer
        .finish(third.finish(None, 0).await.unwrap())
        .await
        .unwrap();

    // The first object never finishes: the run dies, and the next one continues it.
    drop(first);
    drop(writer);
    let resumed = SnapshotWriter::resume(&org).await.unwrap().unwrap();
    assert!(resumed.is_finished("ContentVersion") && !resumed.is_finished("Attachment"));
    resumed
        .commit(ORG, "https://127.0.0.1:1", "v62.0", 2)
        .await
        .unwrap();
    let report = org.verify(true).await.unwrap();
    assert_eq!((report.records, report.blob_refs, report.blobs), (1, 1, 1));
}
