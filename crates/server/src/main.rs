//! `coffer`: the command line and reference HTTPS service of Coffer, encrypted backup and
//! archive for Salesforce org data.
//!
//! The binary is thin: it parses arguments and calls the library crates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod backup_cli;
mod repo_cli;

/// jemalloc rather than glibc's allocator: a backup frees and reallocates multi-MiB buffers
/// (blocks, packs, pages) on several threads, and glibc kept them in per-thread arenas, so a
/// full backup's peak memory grew with the org (benches/peers).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Encrypted, verifiable backup and archive of Salesforce org data.
#[derive(Debug, Parser)]
#[command(name = "coffer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Back up a simulated org into ./coffer-demo, change it, back it up again, and show
    /// what happened.
    Demo,
    /// Back up an org: a full run the first time, then changes since the previous run.
    Backup(backup_cli::BackupArgs),
    /// Create a repository: a directory, `s3://BUCKET` or `s3://BUCKET/PREFIX`, protected by a
    /// local master key or an AWS KMS key.
    Init(repo_cli::InitArgs),
    /// List the snapshots of a repository.
    Snapshots(repo_cli::SnapshotsArgs),
    /// Print a record as it was in a snapshot (the latest by default).
    CatRecord(repo_cli::CatRecordArgs),
    /// Authenticate every manifest and index (and with --read-data every pack and record).
    /// Exits 1 naming what is wrong.
    Verify(repo_cli::VerifyArgs),
    /// Sizes and counts of a repository.
    Stats(repo_cli::StatsArgs),
    /// Work with the tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify an audit log against its signed checkpoints (and, optionally, the stored
    /// personal-data payloads). Exits 0 when verified, 1 naming the first bad entry, 2 when
    /// the inputs cannot be read.
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
struct AuditVerifyArgs {
    /// The log: a directory of segment files or a single log file.
    #[arg(long)]
    log: PathBuf,
    /// Signed checkpoints (`<size>.checkpoint`): a directory (for a `LocalFs` object store,
    /// `ROOT/objects/<prefix>`), or `s3://BUCKET/PREFIX` read through the S3 API (credentials
    /// from the standard AWS chain).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    checkpoints: Option<String>,
    /// Endpoint of an S3-compatible service for `s3://` locations (path-style addressing);
    /// AWS when absent.
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// Region of the bucket of `s3://` locations.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// The log's public key: a verifier-key text `name+keyid+base64`, a base64 Ed25519
    /// public key, or a file holding either.
    #[arg(long)]
    public_key: String,
    /// Directory of personal-data payloads (`<seq>.payload`) to check against the log.
    #[arg(long)]
    payloads: Option<PathBuf>,
    /// Accept entries after the last checkpoint (a log that was not shut down cleanly).
    #[arg(long)]
    allow_unanchored_tail: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// `coffer audit verify`: loading and checking live in `coffer-audit` (and, for checkpoints in
/// S3, `coffer-engine`); this only reports.
fn audit_verify(args: AuditVerifyArgs) -> ExitCode {
    let options = coffer_audit::verify::Options {
        allow_unanchored_tail: args.allow_unanchored_tail,
    };
    let result = match args.checkpoints.as_deref().map(parse_s3_location) {
        Some(Some((bucket, prefix))) => verify_with_s3_checkpoints(&args, bucket, prefix, options),
        _ => {
            let paths = coffer_audit::offline::VerifyPaths {
                log: args.log.clone(),
                checkpoints: args.checkpoints.as_ref().map(PathBuf::from),
                public_key: args.public_key.clone(),
                payloads: args.payloads.clone(),
                options,
            };
            coffer_audit::offline::verify_paths(&paths).map_err(|e| e.to_string())
        }
    };
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{report}");
            }
            if report.is_verified() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("coffer audit verify: {e}");
            ExitCode::from(2)
        }
    }
}

/// `s3://BUCKET/PREFIX` as `(BUCKET, PREFIX)`; `None` for anything else (a directory).
fn parse_s3_location(location: &str) -> Option<(&str, &str)> {
    let rest = location.strip_prefix("s3://")?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

/// Verifies the local log against checkpoints read from `s3://bucket/prefix`.
fn verify_with_s3_checkpoints(
    args: &AuditVerifyArgs,
    bucket: &str,
    prefix: &str,
    options: coffer_audit::verify::Options,
) -> Result<coffer_audit::Report, String> {
    use coffer_audit::offline;

    let log = offline::read_log(&args.log).map_err(|e| e.to_string())?;
    let notes = read_s3_checkpoints(args, bucket, prefix)?;
    let key_text =
        std::fs::read_to_string(&args.public_key).unwrap_or_else(|_| args.public_key.clone());
    // A raw public key takes its name from the checkpoints' origin line, as in `verify_paths`.
    let origin = notes
        .first()
        .and_then(|note| coffer_audit::SignedNote::parse(note).ok())
        .and_then(|note| note.text.split('\n').next().map(str::to_owned));
    let verifier =
        offline::parse_public_key(&key_text, origin.as_deref()).map_err(|e| e.to_string())?;
    let payloads = match &args.payloads {
        Some(dir) => Some(offline::read_payload_dir(dir).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(coffer_audit::verify_log(
        &log,
        &notes,
        &verifier,
        payloads
            .as_ref()
            .map(|p| p as &dyn coffer_audit::verify::PayloadSource),
        options,
    ))
}

/// Every checkpoint under `prefix` in `bucket`, ascending by tree size.
fn read_s3_checkpoints(
    args: &AuditVerifyArgs,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Vec<u8>>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("start the I/O runtime: {e}"))?;
    runtime.block_on(async {
        let mut config = coffer_store::S3Config::new(bucket, args.s3_region.as_str());
        if let Some(endpoint) = &args.s3_endpoint {
            config = config.with_endpoint(endpoint).with_path_style(true);
        }
        let store = std::sync::Arc::new(coffer_store::S3::connect(config).await);
        let checkpoints = coffer_engine::audit_trail::StoreCheckpoints::new(store, prefix)
            .map_err(|e| e.to_string())?;
        let all = coffer_audit::checkpoint_store::load_all(&checkpoints)
            .await
            .map_err(|e| format!("read checkpoints from s3://{bucket}/{prefix}: {e}"))?;
        Ok(all.into_iter().map(|(_, note)| note).collect())
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => run("demo", |rt| {
            rt.block_on(backup_cli::demo(std::path::Path::new("coffer-demo")))
        }),
        Command::Backup(args) => run("backup", |rt| rt.block_on(backup_cli::run_backup(args))),
        Command::Audit(AuditCommand::Verify(args)) => audit_verify(args),
        Command::Init(args) => run("init", |rt| rt.block_on(repo_cli::init(args))),
        Command::Snapshots(args) => run("snapshots", |rt| rt.block_on(repo_cli::snapshots(args))),
        Command::CatRecord(args) => run("cat-record", |rt| rt.block_on(repo_cli::cat_record(args))),
        Command::Verify(args) => run("verify", |rt| rt.block_on(repo_cli::verify(args))),
        Command::Stats(args) => run("stats", |rt| rt.block_on(repo_cli::stats(args))),
    }
}

/// Runs a repository command on a fresh runtime; failures print `coffer NAME: message` and
/// exit with their status (1: the repository is not as it should be; 2: cannot run).
fn run(
    name: &str,
    command: impl FnOnce(&tokio::runtime::Runtime) -> Result<(), repo_cli::Failure>,
) -> ExitCode {
    match repo_cli::runtime().and_then(|rt| command(&rt)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(repo_cli::Failure(message, status)) => {
            eprintln!("coffer {name}: {message}");
            ExitCode::from(status)
        }
    }
}
