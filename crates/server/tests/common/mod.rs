//! What the tests that run `coffer backup` against the simulator share: a temporary directory
//! with a repository, its master key file (mode 0600) and the simulator's CA certificate, and
//! the command lines that use them.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use coffer_sfsim::server::RunningSimulator;

/// The master key of the test repositories (32 bytes of `*`, base64).
pub(crate) const KEY_B64: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// A repository directory (not yet initialised), its key file and the simulator's CA.
pub(crate) struct Setup {
    /// Holds the files; removed on drop. Some tests put more files there.
    #[allow(dead_code, reason = "not every test crate adds files of its own")]
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) repo: String,
    pub(crate) key: String,
    pub(crate) ca: String,
}

impl Setup {
    pub(crate) fn new(sim: &RunningSimulator) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let path = |name: &str| tmp.path().join(name).to_str().unwrap().to_owned();
        let (repo, key, ca) = (path("repo"), path("master.key"), path("ca.pem"));
        std::fs::write(&ca, sim.ca_cert_pem().unwrap()).unwrap();
        std::fs::write(&key, KEY_B64).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        Setup { tmp, repo, key, ca }
    }

    /// `coffer init` of `repo` with the key file; asserts that it succeeds.
    pub(crate) fn init(&self, repo: &str) {
        let init = run(&["init", "--repo", repo, "--master-key-file", &self.key]);
        assert!(init.status.success(), "{init:?}");
    }

    /// `coffer backup` of `objects` (comma-separated) from the simulator into the repository,
    /// with the `--json` summary.
    pub(crate) fn backup_args<'a>(
        &'a self,
        sim: &'a RunningSimulator,
        objects: &'a str,
    ) -> [&'a str; 18] {
        [
            "backup",
            "--repo",
            &self.repo,
            "--master-key-file",
            &self.key,
            "--org",
            "acme",
            "--instance-url",
            sim.instance_url(),
            "--client-id",
            sim.client_id(),
            "--client-secret",
            sim.client_secret(),
            "--ca-cert",
            &self.ca,
            "--objects",
            objects,
            "--json",
        ]
    }

    /// `--repo R --master-key-file F`, for the repository commands.
    pub(crate) fn repo_args(&self) -> [&str; 4] {
        ["--repo", &self.repo, "--master-key-file", &self.key]
    }
}

/// The `coffer` binary with `args`, taking no key and no trusted root from the environment.
pub(crate) fn coffer(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_coffer"));
    command
        .args(args)
        .env_remove("COFFER_MASTER_KEY")
        .env_remove("SSL_CERT_FILE");
    command
}

/// Runs `coffer` with `args` to completion.
pub(crate) fn run(args: &[&str]) -> Output {
    coffer(args).output().unwrap()
}
