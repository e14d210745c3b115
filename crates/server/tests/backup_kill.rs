//! Crash safety of `coffer backup`, as the real binary against the simulator over HTTPS: the
//! process is killed (SIGKILL) at 24 seeded random points, half in the first (full) run, half
//! in incremental runs with the org changing before each. After every kill the repository verifies with every record read
//! back and lists only whole snapshots (one per finished run, none or one per killed run:
//! none unless it died after its commit); at the end one more run
//! completes and the repository matches the org: the same Id sets, and every stored field equal
//! to the org's value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_engine::repo::Repository;
use coffer_engine::repo::index::EntryKind;
use coffer_keys::{KeyManager, LocalKms};
use coffer_sfsim::org::Mutation;
use coffer_sfsim::server::Simulator;
use coffer_store::{LocalFs, ObjectStore};
use serde_json::Value;

use common::{KEY_B64, Setup, coffer, run};

const OBJECTS: [&str; 3] = ["Account", "Contact", "Project__c"];
const KILLS: usize = 24;
/// SIGKILL's number (9 on every Unix Coffer runs on).
const SIGKILL: i32 = 9;

/// A small deterministic generator for kill delays (xorshift64*): the run is repeatable.
struct Delays(u64);

impl Delays {
    /// A delay in `[0, max)`.
    fn next(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        max.mul_f64(r as f64 / (1u64 << 53) as f64)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_backups_commit_nothing_partial_and_the_next_run_catches_up() {
    let sim = Simulator::builder()
        .seed(21)
        .records(1200)
        .start()
        .await
        .unwrap();
    let setup = Setup::new(&sim);
    setup.init(&setup.repo);
    let objects = OBJECTS.join(",");
    let backup = setup.backup_args(&sim, &objects);
    let repo_args = setup.repo_args();
    let repo_dir = Path::new(&setup.repo);

    // How long a full run lasts, measured on a scratch repository: the first kills are spread
    // over the later part of a full run (where its objects are read and stored), so
    // they land in the middle of writes, not only during start-up.
    let scratch = setup.tmp.path().join("scratch");
    let scratch = scratch.to_str().unwrap();
    setup.init(scratch);
    let mut calibrate = backup;
    calibrate[2] = scratch;
    let started = Instant::now();
    let calibrated = run(&calibrate);
    assert!(calibrated.status.success(), "{calibrated:?}");
    let full_time = started.elapsed();

    let mut delays = Delays(0x5EED_0000_0000_0021);
    let mut run_time = full_time;
    let mut finished = 0usize;
    let mut killed = 0usize;
    let mut killed_after_commit = 0usize;
    // Objects a run did not read again because the run it continued had finished them.
    let mut resumed = 0usize;
    let mut snapshots = 0usize;
    let mut attempt = 0u64;
    while killed < KILLS {
        attempt += 1;
        assert!(attempt < 200, "{killed} kills after {attempt} attempts");
        // Half the kills hit the first (full) run; then runs are incremental, each after a
        // change to the org, and their kills are spread over how long they take.
        let full_phase = killed < KILLS / 2 && snapshots == 0;
        let delay = if full_phase {
            full_time.mul_f64(0.2) + delays.next(full_time.mul_f64(0.8))
        } else {
            sim.mutate(&Mutation {
                seed: attempt,
                update_pct: 5.0,
                delete_pct: 1.0,
                create_pct: 2.0,
            });
            delays.next(run_time)
        };
        let started = Instant::now();
        let mut child = coffer(&backup)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let exited_by_itself = child.try_wait().unwrap().is_some();
        if !exited_by_itself {
            child.kill().unwrap();
        }
        let output = child.wait_with_output().unwrap();
        // A kill can still meet a process that exited between the check and the kill.
        let completed = output.status.signal() != Some(SIGKILL);
        if completed {
            // A complete run, and a hint of how long runs take.
            assert!(output.status.success(), "{output:?}");
            finished += 1;
            resumed += resumed_objects(&output.stdout);
            if exited_by_itself && !full_phase {
                run_time = started.elapsed();
            }
        } else {
            killed += 1;
            if !full_phase {
                // Runs take longer than `run_time` says (a loaded machine, a resumed full run
                // after the full phase): widen the delays until one finishes, or every
                // attempt could be killed before its end.
                run_time = run_time.mul_f64(1.25);
            }
        }

        // Nothing partial is visible, and what is visible is whole. A finished run added one
        // snapshot; a killed one added none, or one if it died after its commit (the commit is
        // one create-only write, so the snapshot is then complete).
        let listed = snapshot_count(&repo_args);
        let added = listed - snapshots;
        if completed {
            assert_eq!(
                added, 1,
                "attempt {attempt}: a finished run added {added} snapshots"
            );
        } else {
            assert!(
                added <= 1,
                "attempt {attempt}: a killed run added {added} snapshots"
            );
            killed_after_commit += added;
        }
        snapshots = listed;
        let verify = run(&[&["verify"], &repo_args[..], &["--read-data"]].concat());
        assert!(
            verify.status.success(),
            "after attempt {attempt}: {verify:?}"
        );
    }
    assert!(finished > 0, "no run ever finished: kills were too early");
    let packs_on_disk = walk_count(&repo_dir.join("objects"), "packs");

    // One more change, then a run that is left to finish.
    sim.mutate(&Mutation {
        seed: 999,
        update_pct: 2.0,
        delete_pct: 1.0,
        create_pct: 1.0,
    });
    let last = run(&backup);
    assert!(last.status.success(), "{last:?}");
    resumed += resumed_objects(&last.stdout);

    // The repository is the org: Id sets, deletions and every stored field's value.
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFs::new(repo_dir).unwrap());
    let kms = Arc::new(LocalKms::from_base64(KEY_B64).unwrap());
    let repository = Repository::open(store.clone(), KeyManager::new(store, kms))
        .await
        .unwrap();
    let org = repository.org_named("acme").await.unwrap();
    let mut committed_packs = 0;
    for seq in org.snapshots().await.unwrap() {
        committed_packs += org.manifest(seq).await.unwrap().packs_added.len();
    }
    // A killed run's packs are either reused by the run that continues it (objects `resumed`)
    // or stay behind unreferenced (verify ignores them): either is a sign that kills landed
    // inside runs, after writes, not only around them.
    let orphans = packs_on_disk.saturating_sub(committed_packs);
    eprintln!(
        "{killed} runs killed ({killed_after_commit} after their commit), {} finished; \
         packs written by killed runs before their commit: {orphans}; objects continued \
         from a killed run's journal: {resumed}",
        finished + 1,
    );
    assert!(
        orphans > 0 || resumed > 0,
        "no kill landed between a run's first write and its end"
    );
    for object in OBJECTS {
        let ids = sim
            .with_org(|o| o.query(&format!("SELECT Id FROM {object}"), true, "v62.0"))
            .unwrap()
            .records;
        assert!(!ids.is_empty(), "{object}");
        for row in ids {
            let id = row["Id"].as_str().unwrap();
            let stored = org
                .read_record(None, object, id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{object} {id} is not in the repository"));
            let mut fields: BTreeMap<String, Value> =
                serde_json::from_slice(&stored.canonical.unwrap()).unwrap();
            assert_eq!(fields.remove("attributes").unwrap()["type"], object);
            let names: Vec<&str> = fields.keys().map(String::as_str).collect();
            let in_org = sim
                .with_org(|o| {
                    o.query(
                        &format!("SELECT {} FROM {object} WHERE Id = '{id}'", names.join(",")),
                        true,
                        "v62.0",
                    )
                })
                .unwrap()
                .records;
            assert_eq!(in_org.len(), 1, "{object} {id}");
            for (name, value) in &fields {
                assert_eq!(&in_org[0][name], value, "{object} {id} {name}");
            }
            assert_eq!(
                stored.kind == EntryKind::Deleted,
                in_org[0]["IsDeleted"] == Value::Bool(true),
                "{object} {id}"
            );
        }
    }
    sim.shutdown().await;
}

/// Objects a finished run's `--json` summary reports as `resumed`.
fn resumed_objects(stdout: &[u8]) -> usize {
    let summary: Value = serde_json::from_slice(stdout).unwrap();
    summary["objects"]
        .as_object()
        .unwrap()
        .values()
        .filter(|o| o["read"] == "resumed")
        .count()
}

fn snapshot_count(repo_args: &[&str]) -> usize {
    let list = run(&[&["snapshots"], repo_args, &["--json"]].concat());
    assert!(list.status.success(), "{list:?}");
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    listed.as_array().unwrap().len()
}

fn walk_count(dir: &Path, name: &str) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|f| f == name) {
                n += std::fs::read_dir(&path).unwrap().count();
            } else {
                n += walk_count(&path, name);
            }
        }
    }
    n
}
