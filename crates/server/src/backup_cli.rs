//! `coffer backup` and `coffer demo`: an org through `coffer-salesforce` into a repository.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use coffer_engine::backup::{BackupOptions, BackupSummary, DEFAULT_PARALLEL_OBJECTS, backup};
use coffer_engine::repo::Repository;
use coffer_engine::repo::manifest::RootKey;
use coffer_keys::{KeyManager, LocalKms};
use coffer_salesforce::{Client, Credentials};
use coffer_store::{LocalFs, ObjectStore};
use secrecy::SecretString;

use crate::repo_cli::{Failure, RepoArgs};

mod progress;

/// `coffer backup`.
#[derive(Debug, Args)]
pub(crate) struct BackupArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The org's name in the repository (created on its first backup).
    #[arg(long)]
    org: String,
    /// The org's instance (My Domain) URL, e.g. `https://acme.my.salesforce.com`.
    #[arg(long)]
    instance_url: String,
    /// Connected app consumer key.
    #[arg(long)]
    client_id: String,
    /// Connected app consumer secret (client-credentials flow, or with --refresh-token).
    #[arg(
        long,
        env = "COFFER_SF_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_parser = secret_arg
    )]
    client_secret: Option<SecretString>,
    /// A refresh token (web-server flow) instead of the client-credentials flow.
    #[arg(
        long,
        env = "COFFER_SF_REFRESH_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_parser = secret_arg
    )]
    refresh_token: Option<SecretString>,
    /// A PEM root certificate to trust besides the system's (e.g. the simulator's CA);
    /// `SSL_CERT_FILE` works too.
    #[arg(long, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    /// Only these objects (comma-separated); all queryable objects by default.
    #[arg(long, value_delimiter = ',')]
    objects: Option<Vec<String>>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Draw no progress bars (they are drawn on stderr only when it is a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Objects read at once (each adds its own API calls and about 40 MiB of memory).
    #[arg(long, default_value_t = DEFAULT_PARALLEL_OBJECTS, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel_objects: u16,
}

/// Secrets and tokens go straight into `SecretString`, so `BackupArgs`' `Debug` redacts them.
fn secret_arg(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

fn client(
    instance_url: &str,
    credentials: Credentials,
    ca_pem: Option<Vec<u8>>,
) -> Result<Client, Failure> {
    let mut builder = Client::builder(instance_url, credentials);
    if let Some(pem) = ca_pem {
        builder = builder.extra_root_pem(pem);
    }
    Ok(builder.build()?)
}

pub(crate) async fn run_backup(args: BackupArgs) -> Result<(), Failure> {
    let credentials = match (&args.refresh_token, &args.client_secret) {
        (Some(token), secret) => Credentials::RefreshToken {
            client_id: args.client_id.clone(),
            client_secret: secret.clone(),
            refresh_token: token.clone(),
        },
        (None, Some(secret)) => Credentials::ClientCredentials {
            client_id: args.client_id.clone(),
            client_secret: secret.clone(),
        },
        (None, None) => {
            return Err(Failure(
                "give --client-secret (client credentials) or --refresh-token".into(),
                2,
            ));
        }
    };
    let ca_path = args
        .ca_cert
        .clone()
        .or_else(|| std::env::var_os("SSL_CERT_FILE").map(PathBuf::from));
    let ca_pem = match ca_path {
        Some(path) => Some(
            std::fs::read(&path)
                .map_err(|e| Failure(format!("read {}: {e}", path.display()), 2))?,
        ),
        None => None,
    };
    let repo = args.repo.open().await?;
    let api = Arc::new(client(&args.instance_url, credentials, ca_pem)?);
    let org_id = api.org_id().await?;
    let org = repo
        .org_or_create(&org_id, &args.org, &args.instance_url)
        .await?;
    let options = BackupOptions {
        objects: args.objects.clone(),
        progress: progress::Bars::on_stderr(!args.no_progress),
        parallel_objects: usize::from(args.parallel_objects),
        ..BackupOptions::default()
    };
    let summary = backup(&api, &org, &args.instance_url, api.api_version(), &options).await?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summaries(&[("backup", &summary)]);
    }
    Ok(())
}

/// One line per run, then one per object of the last run.
fn print_summaries(runs: &[(&str, &BackupSummary)]) {
    println!(
        "{:<14} {:>8} {:<12} {:>12} {:>12} {:>10} {:>14} {:>9}",
        "run",
        "snapshot",
        "kind",
        "records seen",
        "new versions",
        "new files",
        "bytes stored",
        "seconds"
    );
    for (label, s) in runs {
        println!(
            "{:<14} {:>8} {:<12} {:>12} {:>12} {:>10} {:>14} {:>9.2}",
            label,
            s.snapshot,
            format!("{:?}", s.kind).to_lowercase(),
            s.records_seen,
            s.new_records,
            s.new_blobs,
            s.bytes_added,
            s.duration_ms as f64 / 1000.0
        );
    }
}

/// `coffer demo`: everything on embedded defaults against a simulated org.
pub(crate) async fn demo(dir: &Path) -> Result<(), Failure> {
    use coffer_sfsim::org::Mutation;
    use coffer_sfsim::server::Simulator;

    if dir.exists() {
        return Err(Failure(
            format!(
                "{} already exists; remove it (it holds only a previous demo) and run again",
                dir.display()
            ),
            2,
        ));
    }
    println!("starting a simulated Salesforce org (seed 42, 5,000 records, HTTPS on loopback)");
    let sim = Simulator::builder().seed(42).records(5_000).start().await?;

    std::fs::create_dir_all(dir)?;
    let key_path = dir.join("master.key");
    write_demo_key(&key_path)?;
    eprintln!(
        "warning: {} is a freshly generated DEMO master key stored beside the repository; \
         never protect real data this way",
        key_path.display()
    );
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFs::new(dir.join("repo"))?);
    let kms = Arc::new(LocalKms::from_file(&key_path)?);
    let repo = Repository::init(
        store.clone(),
        KeyManager::new(store, kms),
        RootKey::Local {
            key_id: coffer_keys::DEFAULT_LOCAL_KEY_ID.to_owned(),
        },
    )
    .await?;
    let api = Arc::new(client(
        sim.instance_url(),
        Credentials::ClientCredentials {
            client_id: sim.client_id().to_owned(),
            client_secret: SecretString::from(sim.client_secret().to_owned()),
        },
        sim.ca_cert_pem().map(|pem| pem.as_bytes().to_vec()),
    )?);
    let org_id = api.org_id().await?;
    let org = repo
        .org_or_create(&org_id, "demo", sim.instance_url())
        .await?;
    let options = BackupOptions {
        progress: progress::Bars::on_stderr(true),
        ..BackupOptions::default()
    };

    println!("full backup into {} ...", dir.join("repo").display());
    let full = backup(&api, &org, sim.instance_url(), api.api_version(), &options).await?;
    let change = sim.mutate(&Mutation {
        seed: 7,
        update_pct: 2.0,
        delete_pct: 0.5,
        create_pct: 1.0,
    });
    println!(
        "changed the org: {} records updated, {} deleted, {} created",
        change.updated, change.deleted, change.created
    );
    println!("incremental backup ...");
    let incremental = backup(&api, &org, sim.instance_url(), api.api_version(), &options).await?;
    println!();
    print_summaries(&[("full", &full), ("incremental", &incremental)]);
    let report = org.verify(true).await?;
    println!();
    println!(
        "verify --read-data: ok ({} snapshots, {} records read back and authenticated)",
        report.snapshots, report.records
    );
    let example = sim.with_org(|o| {
        o.query("SELECT Id FROM Account LIMIT 1", false, "v62.0")
            .ok()
            .and_then(|q| {
                q.records
                    .first()
                    .and_then(|r| r["Id"].as_str().map(str::to_owned))
            })
    });
    if let Some(id) = example {
        println!(
            "look at a record: coffer cat-record --repo {} --master-key-file {} --org demo --object Account --id {id}",
            dir.join("repo").display(),
            key_path.display()
        );
    }
    sim.shutdown().await;
    Ok(())
}

/// A random 32-byte key, base64, in a file only its owner can read.
fn write_demo_key(path: &Path) -> Result<(), Failure> {
    use base64::Engine as _;
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(key.as_mut()).map_err(|e| Failure(format!("random source: {e}"), 2))?;
    let text =
        zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key.as_ref()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use clap::Parser;
    use secrecy::ExposeSecret as _;

    use super::BackupArgs;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BackupArgs,
    }

    /// Secrets and tokens are opaque: one that begins with `-` is still the option's value,
    /// and neither shows in `Debug`.
    #[test]
    fn secrets_may_begin_with_a_hyphen_and_are_redacted() {
        let cli = Cli::try_parse_from([
            "coffer",
            "--repo",
            "/tmp/r",
            "--org",
            "acme",
            "--instance-url",
            "https://acme.my.salesforce.com",
            "--client-id",
            "id",
            "--client-secret",
            "-9secret",
            "--refresh-token",
            "-5token",
        ])
        .unwrap();
        let secret = cli.args.client_secret.as_ref().unwrap();
        let token = cli.args.refresh_token.as_ref().unwrap();
        assert_eq!(secret.expose_secret(), "-9secret");
        assert_eq!(token.expose_secret(), "-5token");
        let rendered = format!("{cli:?}");
        assert!(!rendered.contains("9secret"), "{rendered}");
        assert!(!rendered.contains("5token"), "{rendered}");
    }
}
