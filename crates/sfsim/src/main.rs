//! `coffer-sfsim`: the simulator's command line, thin over the library.
//!
//! - `generate --seed S --records N --out DIR`: write a seeded org as JSONL and blobs.
//! - `serve --port P --seed S --records N [--data DIR] [--plain-http] [--faults RULES]`: serve
//!   the org on 127.0.0.1 and print one JSON line once ready:
//!   `{"instance_url":…,"ca_cert":PATH|null,"client_id":…,"client_secret":…}`. The CA
//!   certificate and a `client_secret` file (mode 0600) are written to `--state-dir` (default: a
//!   new `coffer-sfsim-<pid>` directory under the system temp dir). Serves until SIGINT/SIGTERM.
//! - `mutate --instance-url URL --seed S --update-pct X --delete-pct Y --create-pct Z
//!   [--ca-cert PEM]` and `count --instance-url URL [--ca-cert PEM]`: drive a running
//!   simulator's admin endpoints and print JSON. The client secret comes from
//!   `--client-secret`, `$COFFER_SFSIM_CLIENT_SECRET`, `--client-secret-file`, or else the
//!   `client_secret` file beside the `--ca-cert` PEM that `serve` wrote.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use coffer_sfsim::org::LiveOrg;
use coffer_sfsim::server::{AdminClient, FaultPlan, MutationRequest, Simulator};
use coffer_sfsim::{GenerateConfig, Org, export};

/// jemalloc rather than glibc's allocator: serving a backup allocates and frees many
/// short-lived buffers (rows, CSV pages, gzip output, file bodies) on every worker thread,
/// and glibc's arenas spent about a tenth of the simulator's CPU on it (`perf`, benches/peers).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

type CliResult = Result<(), Box<dyn std::error::Error>>;

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
        /// Scale the file bodies to about this many bytes in total (default: the generator's
        /// own sizes, 256 B to 512 KiB each).
        #[arg(long)]
        file_bytes: Option<u64>,
    },
    /// Serve the Salesforce APIs on 127.0.0.1 until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Mutate a running simulator's org and print the summary as JSON.
    Mutate {
        #[command(flatten)]
        target: Target,
        /// Seed of the record and value choices.
        #[arg(long)]
        seed: u64,
        /// Percentage (0-100) of live records to update.
        #[arg(long, default_value_t = 0.0)]
        update_pct: f64,
        /// Percentage (0-100) of live records to delete.
        #[arg(long, default_value_t = 0.0)]
        delete_pct: f64,
        /// Percentage (0-100) of live records to create.
        #[arg(long, default_value_t = 0.0)]
        create_pct: f64,
    },
    /// Print a running simulator's live record counts per object as JSON.
    Count {
        #[command(flatten)]
        target: Target,
    },
    /// Make a running simulator write its org as it is now (mutations included) to
    /// DIR/records/<Object>.jsonl and DIR/blobs/<Id>, the layout of `generate`; prints what it
    /// wrote as JSON. DIR is on the simulator's machine.
    Export {
        #[command(flatten)]
        target: Target,
        /// Output directory (created; its records/ and blobs/ must be empty or absent).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the generated org and of the fault draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Records of the generated org.
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Scale the generated org's file bodies to about this many bytes in total, as
    /// `generate --file-bytes` does (the same seed, records and total give the same org).
    #[arg(long)]
    file_bytes: Option<u64>,
    /// Serve the org in DIR (records/<Object>.jsonl, blobs/<Id>) instead of generating one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Plain HTTP instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// Fault rules, e.g. `expired-session:every=50,http-503:at=3,slow=250:rate=0.1`.
    #[arg(long)]
    faults: Option<String>,
    /// Where to write ca.pem and client_secret.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Connected app consumer key (default: random).
    #[arg(long)]
    client_id: Option<String>,
    /// API calls allowed per rolling 24 hours.
    #[arg(long, default_value_t = 100_000)]
    api_limit: u64,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 7200)]
    token_ttl_secs: u64,
    /// Make refresh tokens single-use (rotated on every refresh).
    #[arg(long)]
    rotate_refresh_tokens: bool,
    /// PEM public key that JWT bearer assertions are verified with.
    #[arg(long)]
    jwt_public_key: Option<PathBuf>,
    /// Only the first Bulk results page carries the CSV header row.
    #[arg(long)]
    bulk_header_first_page_only: bool,
}

#[derive(Debug, Args)]
struct Target {
    /// The simulator's instance URL, as `serve` printed it.
    #[arg(long)]
    instance_url: String,
    /// The CA certificate `serve` printed (needed for https).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// The client secret `serve` printed (it may begin with `-`).
    #[arg(
        long,
        env = "COFFER_SFSIM_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    client_secret: Option<String>,
    /// A file holding the client secret (default: `client_secret` beside --ca-cert).
    #[arg(long)]
    client_secret_file: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("coffer-sfsim: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, std::io::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn run(command: Command) -> CliResult {
    match command {
        Command::Generate {
            seed,
            records,
            out,
            file_bytes,
        } => {
            let mut org = Org::generate(&GenerateConfig { seed, records })?;
            if let Some(total) = file_bytes {
                org = org.with_file_bytes(total);
            }
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
        Command::Serve(args) => runtime()?.block_on(serve(args)),
        Command::Mutate {
            target,
            seed,
            update_pct,
            delete_pct,
            create_pct,
        } => {
            let client = admin_client(&target)?;
            let request = MutationRequest {
                seed,
                update_pct,
                delete_pct,
                create_pct,
            };
            let summary = runtime()?.block_on(client.mutate(&request))?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
        Command::Export { target, out } => {
            let client = admin_client(&target)?;
            // The simulator resolves the path, so a relative one must not depend on its cwd.
            let out = std::path::absolute(&out).map_err(|source| coffer_sfsim::Error::Io {
                path: out.clone(),
                source,
            })?;
            let summary = runtime()?.block_on(client.export(&out))?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
        Command::Count { target } => {
            let client = admin_client(&target)?;
            let counts = runtime()?.block_on(client.counts())?;
            println!("{}", serde_json::to_string(&counts)?);
            Ok(())
        }
    }
}

fn read(path: &Path) -> Result<String, coffer_sfsim::Error> {
    std::fs::read_to_string(path).map_err(|source| coffer_sfsim::Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn admin_client(target: &Target) -> Result<AdminClient, Box<dyn std::error::Error>> {
    let ca_pem = target.ca_cert.as_deref().map(read).transpose()?;
    let secret = match (
        &target.client_secret,
        &target.client_secret_file,
        &target.ca_cert,
    ) {
        (Some(secret), _, _) => secret.clone(),
        (None, Some(file), _) => read(file)?.trim().to_owned(),
        (None, None, Some(ca)) => {
            let beside = ca.with_file_name("client_secret");
            read(&beside)?.trim().to_owned()
        }
        (None, None, None) => {
            return Err("the client secret is needed: pass --client-secret, \
                        --client-secret-file or --ca-cert (with the client_secret file \
                        `serve` wrote beside it)"
                .into());
        }
    };
    Ok(AdminClient::new(
        &target.instance_url,
        ca_pem.as_deref(),
        &secret,
    )?)
}

/// Writes `contents` to `path`, readable by the owner only (it may be a secret).
fn write_private(path: &Path, contents: &str) -> Result<(), coffer_sfsim::Error> {
    let io = |source| coffer_sfsim::Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)
}

async fn serve(args: ServeArgs) -> CliResult {
    let mut builder = Simulator::builder()
        .seed(args.seed)
        .records(args.records)
        .plain_http(args.plain_http)
        .port(args.port)
        .api_request_limit(args.api_limit)
        .access_token_ttl(Duration::from_secs(args.token_ttl_secs))
        .rotate_refresh_tokens(args.rotate_refresh_tokens)
        .bulk_header_every_page(!args.bulk_header_first_page_only);
    match (&args.data, args.file_bytes) {
        (Some(_), Some(_)) => {
            return Err("--file-bytes applies to a generated org, not --data".into());
        }
        (Some(dir), None) => builder = builder.org(LiveOrg::load_dir(dir)?),
        (None, Some(total)) => {
            let org = Org::generate(&GenerateConfig {
                seed: args.seed,
                records: args.records,
            })?;
            builder = builder.org(LiveOrg::new(org.with_file_bytes(total)));
        }
        (None, None) => {}
    }
    if let Some(rules) = &args.faults {
        let mut plan: FaultPlan = rules.parse()?;
        plan.seed = args.seed;
        builder = builder.faults(plan);
    }
    if let Some(client_id) = args.client_id {
        builder = builder.client_id(client_id);
    }
    if let Some(path) = &args.jwt_public_key {
        builder = builder.jwt_public_key_pem(read(path)?);
    }
    let sim = builder.start().await?;

    let state_dir = args.state_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("coffer-sfsim-{}", std::process::id()))
    });
    std::fs::create_dir_all(&state_dir).map_err(|source| coffer_sfsim::Error::Io {
        path: state_dir.clone(),
        source,
    })?;
    write_private(&state_dir.join("client_secret"), sim.client_secret())?;
    let ca_cert = match sim.ca_cert_pem() {
        Some(pem) => {
            let path = state_dir.join("ca.pem");
            write_private(&path, pem)?;
            Some(path.display().to_string())
        }
        None => None,
    };
    let ready = serde_json::json!({
        "instance_url": sim.instance_url(),
        "ca_cert": ca_cert,
        "client_id": sim.client_id(),
        "client_secret": sim.client_secret(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{ready}")?;
    stdout.flush()?;
    drop(stdout);

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use clap::Parser as _;

    use super::{Cli, Command};

    /// `serve` draws its secret from the URL-safe base64 alphabet, so one in 64 begins with
    /// `-`; it must still pass as the value of `--client-secret`.
    #[test]
    fn a_client_secret_may_begin_with_a_hyphen() {
        let cli = Cli::try_parse_from([
            "coffer-sfsim",
            "count",
            "--instance-url",
            "https://127.0.0.1:1",
            "--client-secret",
            "-9aZ_x",
        ])
        .unwrap();
        let Command::Count { target } = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(target.client_secret.as_deref(), Some("-9aZ_x"));
    }
}
