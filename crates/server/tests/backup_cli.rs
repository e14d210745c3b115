//! `coffer backup` and `coffer demo` as the real binary against the simulator over HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Setup, run as coffer};

use coffer_sfsim::org::Mutation;
use coffer_sfsim::server::Simulator;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn backup_twice_then_read_and_verify() {
    let sim = Simulator::builder()
        .seed(8)
        .records(1500)
        .start()
        .await
        .unwrap();
    let setup = Setup::new(&sim);
    setup.init(&setup.repo);
    let backup_args = setup.backup_args(&sim, "Account,Contact,ContentVersion");
    let first = coffer(&backup_args);
    assert!(first.status.success(), "{first:?}");
    let first: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["snapshot"], 1);
    let counts = sim.live_counts();
    assert_eq!(first["objects"]["Account"]["live"], counts["Account"]);
    assert!(first["new_blobs"].as_u64().unwrap() > 0);
    for key in [
        "snapshot",
        "records_seen",
        "blobs_seen",
        "new_records",
        "bytes_added",
        "duration_ms",
    ] {
        assert!(first.get(key).is_some(), "{key} missing from the summary");
    }

    sim.mutate(&Mutation {
        seed: 1,
        update_pct: 3.0,
        delete_pct: 1.0,
        create_pct: 1.0,
    });
    let second = coffer(&backup_args);
    assert!(second.status.success(), "{second:?}");
    let second: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(
        (second["snapshot"].as_u64(), second["kind"].as_str()),
        (Some(2), Some("incremental"))
    );
    assert!(second["new_records"].as_u64().unwrap() < first["new_records"].as_u64().unwrap() / 5);
    assert_eq!(
        second["objects"]["Contact"]["live"],
        sim.live_counts()["Contact"]
    );

    // A wrong secret is an authentication failure, and nothing is committed.
    let mut bad = backup_args.to_vec();
    let i = bad.iter().position(|a| *a == "--client-secret").unwrap();
    bad[i + 1] = "wrong";
    let refused = coffer(&bad);
    assert_eq!(refused.status.code(), Some(2));
    let repo_args = setup.repo_args();
    let list = coffer(&[&["snapshots"], &repo_args[..], &["--json"]].concat());
    assert_eq!(
        serde_json::from_slice::<Value>(&list.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let verify = coffer(&[&["verify"], &repo_args[..], &["--read-data"]].concat());
    assert!(verify.status.success(), "{verify:?}");
    sim.shutdown().await;
}

/// Off a terminal (a pipe here, as under scripts and CI) no bar is drawn: stderr stays free of
/// escape codes and carriage returns, and stdout is the JSON summary alone, with or without
/// `--no-progress`.
#[tokio::test(flavor = "multi_thread")]
async fn backup_off_a_terminal_draws_no_progress() {
    let sim = Simulator::builder()
        .seed(9)
        .records(300)
        .start()
        .await
        .unwrap();
    let setup = Setup::new(&sim);
    setup.init(&setup.repo);
    let backup_args = setup.backup_args(&sim, "Account,Contact");
    for (snapshot, extra) in [(1, &[][..]), (2, &["--no-progress"][..])] {
        let out = coffer(&[&backup_args[..], extra].concat());
        assert!(out.status.success(), "{out:?}");
        assert!(
            !out.stderr.iter().any(|b| *b == 0x1b || *b == b'\r'),
            "progress drawn on a pipe: {:?}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{out:?}");
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["snapshot"], snapshot);
        assert!(summary["objects"]["Contact"].is_object(), "{summary}");
    }
    sim.shutdown().await;
}

#[test]
fn demo_backs_up_changes_and_verifies_then_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let run = || {
        common::coffer(&["demo"])
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("full") && stdout.contains("incremental"),
        "{stdout}"
    );
    assert!(stdout.contains("verify --read-data: ok"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("DEMO master key"));
    // stderr is a pipe: the demo draws no progress bars either.
    assert!(
        !out.stderr.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = tmp.path().join("coffer-demo/master.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = run();
    assert_eq!(again.status.code(), Some(2));
}
