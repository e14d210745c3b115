//! The `coffer-sfsim` binary: `serve` prints its one JSON line and serves HTTPS until
//! SIGTERM; `count` and `mutate` drive it through the admin endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_coffer-sfsim");

/// Kills the server when a test ends, even by panic, so no simulator outlives its test.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_count_mutate_and_terminate() {
    let state = tempfile::tempdir().unwrap();
    let mut server = Server(
        Command::new(BIN)
            .args([
                "serve",
                "--port",
                "0",
                "--seed",
                "3",
                "--records",
                "800",
                "--state-dir",
            ])
            .arg(state.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    let keys: Vec<&str> = ready
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["ca_cert", "client_id", "client_secret", "instance_url"]
    );
    let url = ready["instance_url"].as_str().unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = ready["ca_cert"].as_str().unwrap();
    assert!(
        std::fs::read_to_string(ca)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let run = |args: &[&str]| -> Value {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    // The secret is read from the client_secret file beside the CA certificate.
    let before = run(&["count", "--instance-url", url, "--ca-cert", ca]);
    let accounts = before["Account"].as_u64().unwrap();
    assert!(accounts > 0);
    let summary = run(&[
        "mutate",
        "--instance-url",
        url,
        "--ca-cert",
        ca,
        "--seed",
        "1",
        "--update-pct",
        "10",
        "--delete-pct",
        "10",
        "--create-pct",
        "5",
    ]);
    let account = &summary["objects"]["Account"];
    let after = run(&[
        "count",
        "--instance-url",
        url,
        "--ca-cert",
        ca,
        "--client-secret",
        ready["client_secret"].as_str().unwrap(),
    ]);
    let created = account["created"].as_u64().unwrap_or(0);
    let deleted = account["deleted"].as_u64().unwrap_or(0);
    assert!(deleted > 0, "{summary}");
    assert_eq!(
        after["Account"].as_u64().unwrap(),
        accounts + created - deleted
    );

    // `export` writes the org as it is now: live records and the deleted ones (IsDeleted).
    let exported = tempfile::tempdir().unwrap();
    let out = exported.path().to_str().unwrap();
    let export = [
        "export",
        "--instance-url",
        url,
        "--ca-cert",
        ca,
        "--out",
        out,
    ];
    let written = run(&export);
    let lines = std::fs::read_to_string(exported.path().join("records/Account.jsonl")).unwrap();
    let (mut live, mut gone) = (0u64, 0u64);
    for line in lines.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["attributes"]["type"], "Account");
        match record["IsDeleted"].as_bool().unwrap() {
            true => gone += 1,
            false => live += 1,
        }
    }
    assert_eq!(live, after["Account"].as_u64().unwrap());
    assert!(gone >= deleted);
    assert!(written["records"].as_u64().unwrap() >= live + gone);
    assert!(written["blobs"].as_u64().unwrap() > 0);
    // Exporting over it again is refused, naming the reason.
    let again = Command::new(BIN).args(export).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("records"));

    // A wrong secret is refused.
    let refused = Command::new(BIN)
        .args([
            "count",
            "--instance-url",
            url,
            "--ca-cert",
            ca,
            "--client-secret",
            "wrong",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());

    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(server.0.wait().unwrap().success());
}

#[test]
fn serve_data_dir_serves_an_exported_org() {
    let data = tempfile::tempdir().unwrap();
    let generated = Command::new(BIN)
        .args(["generate", "--seed", "4", "--records", "500", "--out"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(generated.status.success());
    let mut server = Server(
        Command::new(BIN)
            .args(["serve", "--plain-http", "--data"])
            .arg(data.path())
            .arg("--state-dir")
            .arg(data.path().join("state"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["ca_cert"], Value::Null);
    let url = ready["instance_url"].as_str().unwrap();
    let secret = ready["client_secret"].as_str().unwrap();
    let output = Command::new(BIN)
        .args(["count", "--instance-url", url, "--client-secret", secret])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts: Value = serde_json::from_slice(&output.stdout).unwrap();
    let org = coffer_sfsim::Org::generate(&coffer_sfsim::GenerateConfig {
        seed: 4,
        records: 500,
    })
    .unwrap();
    for object in org.objects() {
        let live = object
            .records
            .iter()
            .filter(|r| r.get("IsDeleted") != Some(&Value::Bool(true)))
            .count() as u64;
        assert_eq!(
            counts[&object.name].as_u64().unwrap_or(0),
            live,
            "{}",
            object.name
        );
    }
    drop(server);
}
