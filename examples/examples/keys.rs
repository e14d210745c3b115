//! `coffer-keys` on its own: envelope encryption with a KMS for two tenants, then rotation,
//! rewrap, destroy of the old key version, and crypto-shredding of one tenant.
//!
//! ```text
//! cargo run -p coffer-examples --example keys
//! COFFER_MASTER_KEY="$(openssl rand -base64 32)" cargo run -p coffer-examples --example keys
//! ```
//!
//! Without `COFFER_MASTER_KEY` (or `COFFER_MASTER_KEY_FILE`) a throwaway master key is made.
//! The key rings live in an in-memory store here; give `KeyManager` an S3 or local-disk
//! `ObjectStore` and they travel with the bucket.

use std::sync::Arc;
use std::time::Duration;

use coffer_keys::{
    CacheConfig, DekRecord, EncryptionContext, Error, KeyEvent, KeyManager, LocalKms, ManualClock,
    MemoryDekCatalog, OrgId, RingOptions,
};
use coffer_store::Memory;

fn audit(event: &KeyEvent) {
    // A real service appends this to its audit log, with who asked and from where.
    println!("audit: {}", describe(event));
}

fn describe(event: &KeyEvent) -> String {
    format!(
        "{} org={} generation={} kind={:?}",
        event.kind.action(),
        event.org,
        event.generation,
        event.kind
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kms = match LocalKms::from_default_env() {
        Ok(kms) => kms,
        Err(Error::MasterKey(coffer_keys::MasterKeyError::MissingEnv { .. })) => {
            println!("no COFFER_MASTER_KEY set: using a throwaway master key");
            LocalKms::generate()?
        }
        Err(other) => return Err(other.into()),
    };
    // A manual clock, so the example can let the cache TTL pass instead of waiting 5 minutes.
    let clock = Arc::new(ManualClock::new(1_700_000_000));
    let keys = KeyManager::builder(Arc::new(Memory::new()), Arc::new(kms))
        .clock(clock.clone())
        .cache(CacheConfig::new())
        .build();

    let acme = OrgId::new("00D5g000004ACME01")?;
    let globex = OrgId::new("00D5g000004GLOBEX")?;
    for org in [&acme, &globex] {
        audit(
            &keys
                .create_ring(
                    org,
                    RingOptions::new().with_rotation_period(Duration::from_secs(90 * 86_400)),
                )
                .await?,
        );
    }

    // Encrypt a few objects per org: one data key each, wrapped under the org's primary KEK.
    let catalog = MemoryDekCatalog::new();
    let mut sealed = Vec::new();
    for org in [&acme, &globex] {
        for i in 0..3 {
            let path = format!("packs/{i:04}");
            let context = EncryptionContext::object(org, &path, "pack");
            let new = keys.generate_data_key(org, &context).await?;
            let body = format!("{org} records, pack {i}");
            let envelope = coffer_envelope::seal(
                &new.key,
                path.as_bytes(),
                &context.canonical_bytes(),
                body.as_bytes(),
            )?;
            catalog.insert(
                org,
                DekRecord {
                    id: path.clone(),
                    wrapped: new.wrapped,
                    context: context.clone(),
                },
            );
            sealed.push((org.clone(), path, context, envelope));
        }
    }
    println!(
        "sealed {} objects; each wrapped data key is {} bytes",
        sealed.len(),
        coffer_keys::WRAPPED_DEK_LEN
    );

    // Rotate acme, move its data keys to the new version (data untouched), destroy version 1.
    audit(&keys.rotate(&acme).await?);
    let mut cursor = keys.start_rewrap(&acme).await?;
    let done = keys
        .rewrap_all(&mut cursor, &catalog, 2, |c| {
            println!("rewrap progress: {:?}", c.progress())
        })
        .await?;
    audit(&done);
    match keys.destroy(&acme, 1).await {
        Err(Error::RetiredTooRecently {
            retry_after_secs, ..
        }) => {
            println!(
                "destroy refused for now: other processes may still use v1 for {retry_after_secs} s"
            );
            clock.advance(Duration::from_secs(retry_after_secs));
        }
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }
    audit(&keys.destroy(&acme, 1).await?);

    // Globex disconnects and asks for erasure: crypto-shred its ring.
    audit(&keys.shred(&globex).await?);

    for (org, path, context, envelope) in &sealed {
        let record = catalog.get(org, path).ok_or("record missing")?;
        match keys.unwrap_data_key(org, &record.wrapped, context).await {
            Ok(key) => {
                let body = coffer_envelope::open(&key, &context.canonical_bytes(), envelope)?;
                println!("{org} {path}: {}", String::from_utf8_lossy(&body));
            }
            Err(err) => println!("{org} {path}: unreadable ({err})"),
        }
    }

    let ring = keys.ring(&acme).await?;
    for version in ring.versions() {
        println!("acme KEK v{}: {}", version.version(), version.state());
    }
    let stats = keys.cache_stats();
    println!(
        "data-key cache: {} hits, {} misses",
        stats.data_keys.hits, stats.data_keys.misses
    );
    Ok(())
}
