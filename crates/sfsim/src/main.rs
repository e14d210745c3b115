//! `coffer-sfsim`: the simulator's command line. For now only `generate` (the server
//! subcommands arrive with the HTTP simulator).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coffer_sfsim::{GenerateConfig, Org, export};

#[derive(Debug, Parser)]
#[command(name = "coffer-sfsim", version, about = "Salesforce org simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a seeded org and write DIR/records/<Object>.jsonl and DIR/blobs/<Id>.
    Generate {
        /// Seed: the same seed and record count give the same files.
        #[arg(long)]
        seed: u64,
        /// Total records over all object types.
        #[arg(long)]
        records: usize,
        /// Output directory (created; its records/ and blobs/ must be empty or absent).
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coffer-sfsim: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), coffer_sfsim::Error> {
    match command {
        Command::Generate { seed, records, out } => {
            let org = Org::generate(&GenerateConfig { seed, records })?;
            let summary = export::write_dir(&org, &out)?;
            for object in org.objects() {
                println!("{:>16} {:>9} records", object.name, object.records.len());
            }
            println!(
                "wrote {} records ({} bytes of JSONL) and {} files ({} bytes) to {}",
                summary.records,
                summary.record_bytes,
                summary.blobs,
                summary.blob_bytes,
                out.display()
            );
            Ok(())
        }
    }
}
