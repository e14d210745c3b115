//! `coffer`: the command line and reference HTTPS service of Coffer, encrypted backup and
//! archive for Salesforce org data.
//!
//! The binary is thin: it parses arguments and calls the library crates. Commands whose
//! capability has not landed say so and exit non-zero rather than pretend.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    }
}
