//! The repository commands: `init`, `snapshots`, `cat-record`, `verify`, `stats`. Each opens
//! the repository through `coffer-engine` and only formats what it returns.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use coffer_engine::repo::index::EntryKind;
use coffer_engine::repo::manifest::RootKey;
use coffer_engine::repo::{OrgRepo, Repository};
use coffer_keys::{AwsKms, AwsKmsConfig, KeyManager, Kms, LocalKms};
use coffer_store::{LocalFs, ObjectStore, Prefixed, S3, S3Config};
use serde_json::json;

/// Where the repository is and how to reach its root key.
#[derive(Debug, Args)]
pub(crate) struct RepoArgs {
    /// The repository: a directory, `s3://BUCKET`, or `s3://BUCKET/PREFIX` (a folder of a
    /// bucket shared with other data).
    #[arg(long, value_name = "DIR|s3://BUCKET[/PREFIX]")]
    repo: String,
    /// Endpoint of an S3-compatible service for `s3://` repositories (path-style); AWS when
    /// absent.
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// Region of the bucket and of the KMS key.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// File holding the local master key (base64 of 32 bytes, mode 0600; `openssl rand
    /// -base64 32` makes one). Without it the key is read from `COFFER_MASTER_KEY`.
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Endpoint of an AWS KMS-compatible service; AWS when absent.
    #[arg(long, value_name = "URL")]
    kms_endpoint: Option<String>,
}

/// A failure to report: the message and the exit status.
pub(crate) struct Failure(pub(crate) String, pub(crate) u8);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string(), 2)
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("start the I/O runtime: {e}"), 2))
}

impl RepoArgs {
    async fn store(&self) -> Result<Arc<dyn ObjectStore>, Failure> {
        if let Some(rest) = self.repo.strip_prefix("s3://") {
            // s3://BUCKET or s3://BUCKET/PREFIX: a repository may share a bucket with other
            // data, inside one folder of it.
            let rest = rest.trim_end_matches('/');
            let (bucket, prefix) = match rest.split_once('/') {
                Some((bucket, prefix)) => (bucket, Some(prefix)),
                None => (rest, None),
            };
            if bucket.is_empty() {
                return Err(Failure(
                    format!("{}: expected s3://BUCKET or s3://BUCKET/PREFIX", self.repo),
                    2,
                ));
            }
            let mut config = S3Config::new(bucket, self.region.as_str());
            if let Some(endpoint) = &self.s3_endpoint {
                config = config.with_endpoint(endpoint).with_path_style(true);
            }
            let s3 = S3::connect(config).await;
            match prefix {
                Some(prefix) => {
                    Ok(Arc::new(Prefixed::new(s3, prefix).map_err(|e| {
                        Failure(format!("{}: bad prefix: {e}", self.repo), 2)
                    })?))
                }
                None => Ok(Arc::new(s3)),
            }
        } else {
            Ok(Arc::new(LocalFs::new(&self.repo)?))
        }
    }

    fn local_kms(&self) -> Result<LocalKms, Failure> {
        Ok(match &self.master_key_file {
            Some(path) => LocalKms::from_file(path)?,
            None => LocalKms::from_default_env()?,
        })
    }

    async fn kms(&self, root: &RootKey) -> Result<Arc<dyn Kms>, Failure> {
        Ok(match root {
            RootKey::Local { .. } => Arc::new(self.local_kms()?),
            RootKey::AwsKms { key_id, region } => {
                let mut config = AwsKmsConfig::new(key_id.as_str())
                    .with_region(region.clone().unwrap_or_else(|| self.region.clone()));
                if let Some(endpoint) = &self.kms_endpoint {
                    config = config.with_endpoint(endpoint);
                }
                Arc::new(AwsKms::connect(config).await)
            }
        })
    }

    /// Opens the repository: its config names the root key to use.
    pub(crate) async fn open(&self) -> Result<Repository, Failure> {
        let store = self.store().await?;
        let config_bytes = match store.get(&coffer_store::ObjectKey::new("config")?).await {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => {
                return Err(Failure(coffer_engine::Error::NotARepository.to_string(), 2));
            }
            Err(e) => return Err(e.into()),
        };
        let config = coffer_engine::repo::manifest::RepoConfig::from_json(&config_bytes)?;
        let kms = self.kms(&config.root_key).await?;
        Ok(Repository::open(store.clone(), KeyManager::new(store, kms)).await?)
    }
}

/// `coffer init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Protect the repository with this AWS KMS key (id, ARN or alias) instead of a local
    /// master key.
    #[arg(long, value_name = "KEY")]
    aws_kms_key_id: Option<String>,
}

pub(crate) async fn init(args: InitArgs) -> Result<(), Failure> {
    let root = match &args.aws_kms_key_id {
        Some(key_id) => RootKey::AwsKms {
            key_id: key_id.clone(),
            region: Some(args.repo.region.clone()),
        },
        None => {
            // Fail before writing anything if the key cannot be read.
            args.repo.local_kms()?;
            RootKey::Local {
                key_id: coffer_keys::DEFAULT_LOCAL_KEY_ID.to_owned(),
            }
        }
    };
    let store = args.repo.store().await?;
    let kms = args.repo.kms(&root).await?;
    let repo = Repository::init(store.clone(), KeyManager::new(store, kms), root).await?;
    println!(
        "created repository {} at {}",
        repo.config().id,
        args.repo.repo
    );
    Ok(())
}

/// `coffer snapshots`.
#[derive(Debug, Args)]
pub(crate) struct SnapshotsArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Only this org (its name or org id).
    #[arg(long)]
    org: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

async fn orgs(repo: &Repository, name: Option<&str>) -> Result<Vec<OrgRepo>, Failure> {
    Ok(match name {
        Some(name) => vec![repo.org_named(name).await?],
        None => repo.orgs().await?,
    })
}

pub(crate) async fn snapshots(args: SnapshotsArgs) -> Result<(), Failure> {
    let repo = args.repo.open().await?;
    let mut rows = Vec::new();
    for org in orgs(&repo, args.org.as_deref()).await? {
        for seq in org.snapshots().await? {
            let m = org.manifest(seq).await?;
            let live: u64 = m.objects.values().map(|o| o.live).sum();
            let versions: u64 = m.objects.values().map(|o| o.versions_added).sum();
            rows.push(json!({
                "org": org.name(), "org_id": m.org_id, "snapshot": m.seq, "kind": m.kind,
                "started_ms": m.started_ms, "finished_ms": m.finished_ms,
                "records": live, "versions_added": versions,
                "blobs": m.blobs.count, "bytes_added": m.bytes_added,
            }));
        }
    }
    if args.json {
        println!("{}", serde_json::Value::Array(rows));
    } else {
        println!(
            "{:<16} {:>8} {:<12} {:>10} {:>10} {:>12}",
            "org", "snapshot", "kind", "records", "changed", "bytes added"
        );
        for r in &rows {
            println!(
                "{:<16} {:>8} {:<12} {:>10} {:>10} {:>12}",
                r["org"].as_str().unwrap_or_default(),
                r["snapshot"],
                r["kind"].as_str().unwrap_or_default(),
                r["records"],
                r["versions_added"],
                r["bytes_added"],
            );
        }
    }
    Ok(())
}

/// `coffer cat-record`.
#[derive(Debug, Args)]
pub(crate) struct CatRecordArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// The org (its name or org id).
    #[arg(long)]
    org: String,
    /// The object type, e.g. `Account`.
    #[arg(long)]
    object: String,
    /// The record's 18-character Id.
    #[arg(long)]
    id: String,
    /// The snapshot (latest when absent).
    #[arg(long)]
    snapshot: Option<u64>,
}

pub(crate) async fn cat_record(args: CatRecordArgs) -> Result<(), Failure> {
    let repo = args.repo.open().await?;
    let org = repo.org_named(&args.org).await?;
    let found = org
        .read_record(args.snapshot, &args.object, &args.id)
        .await?;
    let at = args.snapshot.map_or_else(
        || "the latest snapshot".to_owned(),
        |s| format!("snapshot {s}"),
    );
    match found {
        None => Err(Failure(
            format!("{} {} is not in {at}", args.object, args.id),
            1,
        )),
        Some(version) => {
            match version.kind {
                EntryKind::Version => {}
                EntryKind::Deleted => eprintln!(
                    "{} {} was deleted (in the Recycle Bin) as of {at}; this is its last version",
                    args.object, args.id
                ),
                EntryKind::Gone => {
                    println!("{{\"Id\":{:?},\"coffer:deleted\":true}}", args.id);
                    eprintln!(
                        "{} {} was deleted and purged from the org as of {at}; \
                         earlier snapshots hold its content",
                        args.object, args.id
                    );
                    return Ok(());
                }
            }
            let text = version
                .canonical
                .map(|c| String::from_utf8_lossy(&c).into_owned())
                .unwrap_or_default();
            println!("{text}");
            Ok(())
        }
    }
}

/// `coffer verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Also read back and authenticate every pack, every record against its index entry, and
    /// every file body against its name.
    #[arg(long)]
    read_data: bool,
}

pub(crate) async fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let repo = args.repo.open().await?;
    for org in repo.orgs().await? {
        match org.verify(args.read_data).await {
            Ok(r) => println!(
                "{} ({}): ok: {} snapshots, {} index segments, {} entries, {} packs, {} records read back, {} blob index segments, {} blob packs, {} file bodies read back, {} file references resolved",
                org.name(),
                org.org_id(),
                r.snapshots,
                r.segments,
                r.entries,
                r.packs,
                r.records,
                r.blob_segments,
                r.blob_packs,
                r.blobs,
                r.blob_refs
            ),
            Err(e) => {
                return Err(Failure(
                    format!("{} ({}): {e}", org.name(), org.org_id()),
                    1,
                ));
            }
        }
    }
    Ok(())
}

/// `coffer stats`.
#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn stats(args: StatsArgs) -> Result<(), Failure> {
    use futures::TryStreamExt;
    let repo = args.repo.open().await?;
    let stored: u64 = repo
        .store()
        .list("")
        .try_fold(0u64, |sum, meta| async move { Ok(sum + meta.size) })
        .await?;
    let (mut logical, mut versions, mut blobs, mut snapshots) = (0u64, 0u64, 0u64, 0u64);
    for org in repo.orgs().await? {
        let mut latest_blobs = 0;
        for seq in org.snapshots().await? {
            let m = org.manifest(seq).await?;
            logical += m.logical_bytes_added;
            versions += m.objects.values().map(|o| o.versions_added).sum::<u64>();
            latest_blobs = m.blobs.count;
            snapshots += 1;
        }
        blobs += latest_blobs;
    }
    if args.json {
        println!(
            "{}",
            json!({"logical_bytes": logical, "stored_bytes": stored, "record_versions": versions,
                   "blobs": blobs, "snapshots": snapshots})
        );
    } else {
        println!("logical bytes    {logical}");
        println!("stored bytes     {stored}");
        println!("record versions  {versions}");
        println!("blobs            {blobs}");
        println!("snapshots        {snapshots}");
    }
    Ok(())
}
