//! `coffer-store` on its own: a durable local store, wrapped in the residency, retry and
//! replication layers, then checked with `verify_replication`.
//!
//! ```text
//! cargo run -p coffer-examples --example store
//! ```

use bytes::Bytes;
use coffer_store::{
    Error, LocalFs, Memory, ObjectKey, ObjectStore, PutOptions, Region, Replicated, ResidencyLayer,
    Retry, RetryPolicy, verify_replication,
};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let eu = Region::new("eu-west-1")?;

    // Primary on local disk, replica in memory (in production: two S3 buckets in two
    // accounts). Both are in the EU; the org's data may only be written there.
    let primary = ResidencyLayer::new(LocalFs::new(dir.path())?, eu.clone(), [eu.clone()]);
    let secondary = ResidencyLayer::new(Memory::new(), eu.clone(), [eu.clone()]);
    let store = Retry::new(Replicated::new(primary, secondary), RetryPolicy::default());

    let manifest = ObjectKey::new("orgs/00D000000000001/snapshots/0001")?;
    store
        .put(
            &manifest,
            Bytes::from_static(b"{\"packs\":1}"),
            &PutOptions::create_only(),
        )
        .await?;
    match store
        .put(
            &manifest,
            Bytes::from_static(b"{}"),
            &PutOptions::create_only(),
        )
        .await
    {
        Err(Error::AlreadyExists { key }) => println!("second commit of {key} refused"),
        other => return Err(format!("unexpected: {other:?}").into()),
    }

    let keys: Vec<_> = store
        .list("orgs/")
        .map_ok(|m| (m.key, m.size))
        .try_collect()
        .await?;
    println!("objects: {keys:?}");

    // A store outside the EU refuses the write before any byte leaves.
    let us = ResidencyLayer::new(Memory::new(), Region::new("us-east-1")?, [eu]);
    let refused = us
        .put(
            &manifest,
            Bytes::from_static(b"x"),
            &PutOptions::overwrite(),
        )
        .await;
    println!(
        "write to us-east-1: {}",
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    );

    let replicated = store.inner();
    let report = verify_replication(replicated.primary(), replicated.secondary(), "").await?;
    println!(
        "replication: {} compared, consistent = {}",
        report.compared,
        report.is_consistent()
    );
    Ok(())
}
