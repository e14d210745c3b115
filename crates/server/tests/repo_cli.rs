//! The repository commands run as the real binary against a directory repository: `init`
//! (and its refusals), then `snapshots`, `cat-record`, `verify` and `stats` on snapshots the
//! engine wrote, and `verify --read-data` naming a damaged pack; and the same commands on a
//! repository in a folder of an S3 bucket (moto, started by `scripts/test`; without
//! `COFFER_TEST_S3_ENDPOINT` that test fails, it is never skipped).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use coffer_engine::repo::manifest::{RunKind, Watermark};
use coffer_engine::repo::record::canonical;
use coffer_engine::repo::{Repository, SnapshotWriter};
use coffer_keys::{KeyManager, LocalKms};
use coffer_store::{LocalFs, ObjectStore, Prefixed, S3, S3Config};
use serde_json::{Value, json};

const ORG: &str = "00D000000000001AAA";
const KEY_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

fn coffer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(args)
        .env_remove("COFFER_MASTER_KEY")
        .env_remove("COFFER_MASTER_KEY_FILE")
        .output()
        .unwrap()
}

fn key_file(dir: &Path, mode: u32) -> String {
    let path = dir.join(format!("master-{mode:o}.key"));
    std::fs::write(&path, KEY_B64).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.to_str().unwrap().to_owned()
}

fn record(i: u32, version: u32) -> Vec<u8> {
    // A stored line carries its version key: version v is stamped v × 10 ms.
    let stamp = coffer_salesforce::Timestamp(i64::from(version) * 10).to_rest();
    let fields = json!({"Id": format!("001{i:012}AAA"), "Name": format!("Acme {i} v{version}"),
                        "SystemModstamp": stamp});
    let order = ["Id", "Name", "SystemModstamp"].map(String::from);
    canonical("Account", fields.as_object().unwrap(), &order).unwrap()
}

/// Two snapshots through the engine: 5 accounts, then account 2 updated and 3 deleted.
async fn back_up(repo_dir: &Path) {
    back_up_into(Arc::new(LocalFs::new(repo_dir).unwrap())).await;
}

async fn back_up_into(store: Arc<dyn ObjectStore>) {
    let kms = Arc::new(LocalKms::from_base64(KEY_B64).unwrap());
    let repo = Repository::open(store.clone(), KeyManager::new(store, kms))
        .await
        .unwrap();
    let org = repo
        .org_or_create(ORG, "acme", "https://127.0.0.1:1")
        .await
        .unwrap();
    let mut w = SnapshotWriter::begin(&org, RunKind::Full, "r1".into(), 1)
        .await
        .unwrap();
    w.load_known("Account").await.unwrap();
    for i in 0..5 {
        w.add_version(
            "Account",
            &format!("001{i:012}AAA"),
            10,
            false,
            record(i, 1),
        )
        .await
        .unwrap();
    }
    w.finish_object(
        "Account",
        Some(Watermark {
            stamp_ms: 10,
            id: "001000000000004AAA".into(),
        }),
        5,
    )
    .await
    .unwrap();
    w.commit(ORG, "https://127.0.0.1:1", "v62.0", 2)
        .await
        .unwrap();
    let mut w = SnapshotWriter::begin(&org, RunKind::Incremental, "r2".into(), 3)
        .await
        .unwrap();
    w.load_known("Account").await.unwrap();
    w.add_version("Account", "001000000000002AAA", 20, false, record(2, 2))
        .await
        .unwrap();
    w.add_gone("Account", "001000000000003AAA", 20)
        .await
        .unwrap();
    w.finish_object("Account", None, 4).await.unwrap();
    w.commit(ORG, "https://127.0.0.1:1", "v62.0", 4)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn repository_commands_on_a_directory_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let repo = repo.to_str().unwrap();
    let good_key = key_file(tmp.path(), 0o600);

    // A key file others can read is refused, and nothing is created.
    let lax = coffer(&[
        "init",
        "--repo",
        repo,
        "--master-key-file",
        &key_file(tmp.path(), 0o644),
    ]);
    assert_eq!(lax.status.code(), Some(2), "{lax:?}");
    assert!(!Path::new(repo).join("objects/config").exists());

    let init = coffer(&["init", "--repo", repo, "--master-key-file", &good_key]);
    assert!(init.status.success(), "{init:?}");
    let again = coffer(&["init", "--repo", repo, "--master-key-file", &good_key]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    back_up(Path::new(repo)).await;
    let base = ["--repo", repo, "--master-key-file", good_key.as_str()];

    let list = coffer(&[&["snapshots"], &base[..], &["--json"]].concat());
    assert!(list.status.success(), "{list:?}");
    let rows: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["records"], 5);
    assert_eq!(rows[1]["kind"], "incremental");

    let cat = |id: &str, snapshot: Option<&str>| {
        let mut args = vec!["cat-record"];
        args.extend_from_slice(&base);
        args.extend_from_slice(&["--org", "acme", "--object", "Account", "--id", id]);
        if let Some(s) = snapshot {
            args.extend_from_slice(&["--snapshot", s]);
        }
        coffer(&args)
    };
    let latest = cat("001000000000002AAA", None);
    assert!(latest.status.success(), "{latest:?}");
    assert_eq!(
        String::from_utf8(latest.stdout)
            .unwrap()
            .trim_end()
            .as_bytes(),
        record(2, 2)
    );
    let first = cat("001000000000002AAA", Some("1"));
    assert_eq!(
        String::from_utf8(first.stdout)
            .unwrap()
            .trim_end()
            .as_bytes(),
        record(2, 1)
    );
    let gone = cat("001000000000003AAA", None);
    assert!(gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("deleted"));
    let missing = cat("001000000000009AAA", None);
    assert_eq!(missing.status.code(), Some(1));

    let verify = coffer(&[&["verify"], &base[..], &["--read-data"]].concat());
    assert!(verify.status.success(), "{verify:?}");
    assert!(String::from_utf8_lossy(&verify.stdout).contains("6 records read back"));

    let stats = coffer(&[&["stats"], &base[..], &["--json"]].concat());
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["record_versions"], 6);
    assert_eq!(stats["snapshots"], 2);
    assert!(stats["stored_bytes"].as_u64().unwrap() > 0);
    assert!(stats["logical_bytes"].as_u64().unwrap() > 0);

    // Damage a pack: only --read-data sees it, and it names the object.
    let packs = Path::new(repo).join(format!("objects/orgs/{ORG}/packs"));
    let pack = std::fs::read_dir(&packs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&pack).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&pack, bytes).unwrap();
    assert!(coffer(&[&["verify"], &base[..]].concat()).status.success());
    let bad = coffer(&[&["verify"], &base[..], &["--read-data"]].concat());
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("packs/"),
        "{bad:?}"
    );

    // The wrong key opens nothing.
    std::fs::write(&good_key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    let wrong = coffer(&[&["snapshots"], &base[..]].concat());
    assert_ne!(wrong.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn repository_commands_in_a_folder_of_an_s3_bucket() {
    let endpoint =
        coffer_testkit::endpoint(coffer_testkit::Service::S3).unwrap_or_else(|e| panic!("{e}"));
    let admin = coffer_testkit::s3_client()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let bucket = coffer_testkit::unique_name("cli-repo");
    admin.create_bucket().bucket(&bucket).send().await.unwrap();
    let whole_bucket = || {
        S3::from_client(
            admin.clone(),
            S3Config::new(bucket.as_str(), coffer_testkit::TEST_REGION),
        )
    };
    // Someone else's object at the bucket's root: the repository must neither see nor touch it.
    let neighbour = coffer_store::ObjectKey::new("other-team/notes").unwrap();
    whole_bucket()
        .put(
            &neighbour,
            "theirs".into(),
            &coffer_store::PutOptions::overwrite(),
        )
        .await
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let key = key_file(tmp.path(), 0o600);
    let repo = format!("s3://{bucket}/team/coffer");
    let base = [
        "--repo",
        repo.as_str(),
        "--s3-endpoint",
        endpoint.as_str(),
        "--master-key-file",
        key.as_str(),
    ];

    let init = coffer(&[&["init"], &base[..]].concat());
    assert!(init.status.success(), "{init:?}");
    back_up_into(Arc::new(
        Prefixed::new(whole_bucket(), "team/coffer").unwrap(),
    ))
    .await;

    let list = coffer(&[&["snapshots"], &base[..], &["--json"]].concat());
    assert!(list.status.success(), "{list:?}");
    let rows: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    let verify = coffer(&[&["verify"], &base[..], &["--read-data"]].concat());
    assert!(verify.status.success(), "{verify:?}");

    // Everything the repository wrote is under the folder; the neighbour is untouched.
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = whole_bucket().list_page("", token.as_ref()).await.unwrap();
        keys.extend(page.objects.into_iter().map(|m| m.key.into_string()));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert!(keys.contains(&"team/coffer/config".to_owned()), "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with("team/coffer/") || k == "other-team/notes"),
        "{keys:?}"
    );
    assert_eq!(whole_bucket().get(&neighbour).await.unwrap(), "theirs");

    // The bucket's root is not the repository.
    let root = format!("s3://{bucket}");
    let not_here = coffer(&[
        "snapshots",
        "--repo",
        &root,
        "--s3-endpoint",
        &endpoint,
        "--master-key-file",
        &key,
    ]);
    assert_eq!(not_here.status.code(), Some(2), "{not_here:?}");
}
