//! `coffer`: the command line and reference HTTPS service of Coffer, encrypted backup and
//! archive for Salesforce org data.
//!
//! The binary is thin: it parses arguments and calls the library crates. Commands whose
//! capability has not landed say so and exit non-zero rather than pretend.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

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
    /// Directory of signed checkpoints (`<size>.checkpoint`).
    #[arg(long)]
    checkpoints: Option<PathBuf>,
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

/// `coffer audit verify`: loading and checking live in `coffer-audit`; this only reports.
fn audit_verify(args: AuditVerifyArgs) -> ExitCode {
    let paths = coffer_audit::offline::VerifyPaths {
        log: args.log,
        checkpoints: args.checkpoints,
        public_key: args.public_key,
        payloads: args.payloads,
        options: coffer_audit::verify::Options {
            allow_unanchored_tail: args.allow_unanchored_tail,
        },
    };
    match coffer_audit::offline::verify_paths(&paths) {
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

/// What `coffer demo` will do once the engine lands (issue 11).
const DEMO_PLAN: &str = "\
coffer demo will:
  1. start an in-process Salesforce simulator with a seeded org;
  2. create a repository under ./coffer-demo with a freshly generated local master key
     (file mode 0600; a demo key, not for real data);
  3. run a full backup of the simulated org;
  4. change the org (updates, deletes, creates);
  5. run an incremental backup;
  6. print what each run read and stored in a short table.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            println!("{DEMO_PLAN}");
            eprintln!(
                "coffer demo: not available yet: the backup engine (issue 11) has not landed; \
                 nothing was done"
            );
            ExitCode::from(2)
        }
        Command::Audit(AuditCommand::Verify(args)) => audit_verify(args),
    }
}
