//! [`KeyManager`]: key rings persisted in an object store, keys unwrapped through a KMS and
//! cached in RAM.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use coffer_envelope::DataKey;
use coffer_store::{ObjectStore, PutOptions};
use futures::StreamExt;

use crate::cache::{CacheConfig, CacheStats, TtlCache};
use crate::clock::{Clock, SystemClock};
use crate::context::{EncryptionContext, OrgId};
use crate::error::{Error, Result};
use crate::event::{KeyEvent, KeyEventKind};
use crate::kms::Kms;
use crate::persist::{self, kek_context};
use crate::ring::{KeyOrigin, KeyRing};
use crate::wrap::{self, WrappedDek};

/// How often a load retries when the generation it listed vanishes under it (a concurrent
/// writer committed and cleaned up in between).
const LOAD_ATTEMPTS: usize = 4;

/// How a new key ring is set up.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RingOptions {
    /// The org's own KMS key (customer-managed key) instead of the KMS default.
    pub root_key_id: Option<String>,
    /// Rotate the primary automatically this often ([`KeyManager::rotate_if_due`]).
    pub rotation_period: Option<Duration>,
    /// The org's own 256-bit key as version 1 (bring your own key) instead of a generated one.
    pub imported_key: Option<DataKey>,
}

impl RingOptions {
    /// A generated first key under the KMS's default root key, no automatic rotation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses the org's own KMS key as the ring's root (customer-managed key).
    #[must_use]
    pub fn with_root_key(mut self, key_id: impl Into<String>) -> Self {
        self.root_key_id = Some(key_id.into());
        self
    }

    /// Rotates the primary automatically every `period`.
    #[must_use]
    pub fn with_rotation_period(mut self, period: Duration) -> Self {
        self.rotation_period = Some(period);
        self
    }

    /// Starts the ring with the org's own key (customer-provided key).
    #[must_use]
    pub fn with_imported_key(mut self, key: DataKey) -> Self {
        self.imported_key = Some(key);
        self
    }
}

/// A data key just made: use `key` now, store `wrapped` with the data.
#[derive(Debug, Clone)]
pub struct NewDataKey {
    /// The plaintext key, shared with the cache (wiped when the last holder drops it).
    pub key: Arc<DataKey>,
    /// The key wrapped under the org's primary KEK, bound to the context it was made for.
    pub wrapped: WrappedDek,
}

/// Counters of the manager's three caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyCacheStats {
    /// Unwrapped data keys.
    pub data_keys: CacheStats,
    /// Unwrapped key-encryption keys.
    pub keks: CacheStats,
    /// Key-ring metadata (no key material).
    pub rings: CacheStats,
}

#[derive(PartialEq, Eq)]
struct DekSlot {
    org: OrgId,
    wrapped: WrappedDek,
    context: EncryptionContext,
}

#[derive(PartialEq, Eq)]
struct KekSlot {
    org: OrgId,
    version: u32,
}

/// Configures a [`KeyManager`].
#[derive(Debug)]
pub struct KeyManagerBuilder {
    store: Arc<dyn ObjectStore>,
    kms: Arc<dyn Kms>,
    clock: Arc<dyn Clock>,
    cache: CacheConfig,
}

impl KeyManagerBuilder {
    /// Sets the clock (a [`ManualClock`](crate::ManualClock) in tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the caches' TTL and size bound (default 5 minutes, 100,000 entries).
    #[must_use]
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.cache = config;
        self
    }

    /// Builds the manager.
    pub fn build(self) -> KeyManager {
        KeyManager {
            inner: Arc::new(Inner {
                store: self.store,
                kms: self.kms,
                clock: self.clock,
                cache_config: self.cache,
                deks: TtlCache::new(self.cache),
                keks: TtlCache::new(self.cache),
                rings: TtlCache::new(self.cache),
                revocations: AtomicU64::new(0),
            }),
        }
    }
}

/// Key rings of every org, persisted in an [`ObjectStore`], their KEKs wrapped by a [`Kms`],
/// and the data keys under them. Cheap to clone (shared state).
///
/// Changes (`create_ring`, `rotate`, `retire`, `destroy`...) always start from the ring in the
/// store, write the next generation create-only and return the [`KeyEvent`] to audit; losing a
/// race is [`Error::Conflict`] with nothing written. Reads of keys go through the caches, so a
/// hot data key costs a hash-map lookup and never a KMS call.
///
/// Another process sharing the store sees this one's changes when its cached copy of the ring
/// expires (the cache TTL); within this process they apply at once. That is why a version must
/// stay retired for one TTL before [`destroy`](KeyManager::destroy) accepts it: until then
/// another process may still wrap new data keys under it.
#[derive(Clone)]
pub struct KeyManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    kms: Arc<dyn Kms>,
    clock: Arc<dyn Clock>,
    cache_config: CacheConfig,
    deks: TtlCache<DekSlot, Arc<DataKey>>,
    keks: TtlCache<KekSlot, Arc<DataKey>>,
    rings: TtlCache<OrgId, Arc<KeyRing>>,
    /// Bumped before every change that revokes cached keys (destroy, shred, a higher
    /// minimum). An unwrap that started before a bump hands its key to its caller but does not
    /// put it into the cache, so a revoked key cannot slip back in.
    revocations: AtomicU64,
}

impl fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyManager")
            .field("store", &self.inner.store)
            .field("kms", &self.inner.kms)
            .field("cache", &self.inner.cache_config)
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    /// A manager with the system clock and default caches.
    pub fn new(store: Arc<dyn ObjectStore>, kms: Arc<dyn Kms>) -> Self {
        Self::builder(store, kms).build()
    }

    /// A builder to set the clock and cache bounds.
    pub fn builder(store: Arc<dyn ObjectStore>, kms: Arc<dyn Kms>) -> KeyManagerBuilder {
        KeyManagerBuilder {
            store,
            kms,
            clock: Arc::new(SystemClock),
            cache: CacheConfig::default(),
        }
    }

    /// The KMS holding the root keys.
    pub fn kms(&self) -> &Arc<dyn Kms> {
        &self.inner.kms
    }

    fn now(&self) -> u64 {
        self.inner.clock.unix_seconds()
    }

    // ------------------------------------------------------------------ loading and committing

    /// Every generation of `org`'s ring present in the store with its object size, ascending.
    async fn generations(&self, org: &OrgId) -> Result<Vec<(u64, u64)>> {
        let prefix = persist::org_prefix(org);
        let mut listing = self.inner.store.list(&prefix);
        let mut generations = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            match persist::parse_generation(meta.key.as_str(), &prefix) {
                Some(generation) => generations.push((generation, meta.size)),
                None => {
                    tracing::warn!(key = %meta.key, "ignoring a foreign object among key rings")
                }
            }
        }
        generations.sort_unstable();
        Ok(generations)
    }

    /// The newest generation of `org`'s ring in the store, if any; refreshes the ring cache.
    async fn load_latest(&self, org: &OrgId) -> Result<Option<KeyRing>> {
        let mut last_seen = 0;
        for _ in 0..LOAD_ATTEMPTS {
            let Some(&(latest, _)) = self.generations(org).await?.last() else {
                return Ok(None);
            };
            last_seen = latest;
            match self.inner.store.get(&persist::ring_key(org, latest)?).await {
                // Superseded between the listing and the read: list again.
                Ok(bytes) if bytes.as_ref() == persist::SUPERSEDED_MARKER => continue,
                Ok(bytes) => {
                    let ring = persist::open_ring(&*self.inner.kms, org, latest, &bytes).await?;
                    self.remember(ring.clone());
                    return Ok(Some(ring));
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(Error::CorruptRing {
            org: org.to_string(),
            reason: format!("the newest generation {last_seen} is marked superseded"),
        })
    }

    async fn load_for_update(&self, org: &OrgId) -> Result<KeyRing> {
        self.load_latest(org)
            .await?
            .ok_or_else(|| Error::UnknownOrg {
                org: org.to_string(),
            })
    }

    fn remember(&self, ring: KeyRing) -> Arc<KeyRing> {
        let ring = Arc::new(ring);
        let cache = &self.inner.rings;
        cache.insert(
            cache.hash_of(ring.org()),
            ring.org().clone(),
            ring.clone(),
            self.inner.clock.now(),
        );
        ring
    }

    fn cached_ring(&self, org: &OrgId) -> Option<Arc<KeyRing>> {
        let cache = &self.inner.rings;
        cache.get(cache.hash_of(org), |k| k == org, self.inner.clock.now())
    }

    async fn ring_for_use(&self, org: &OrgId) -> Result<Arc<KeyRing>> {
        if let Some(ring) = self.cached_ring(org) {
            return Ok(ring);
        }
        self.refresh_ring(org).await
    }

    async fn refresh_ring(&self, org: &OrgId) -> Result<Arc<KeyRing>> {
        match self.load_latest(org).await? {
            Some(ring) => Ok(Arc::new(ring)),
            None => Err(Error::UnknownOrg {
                org: org.to_string(),
            }),
        }
    }

    /// Seals and writes `next` create-only, then removes older generations. With `erasing`,
    /// failing to remove them is an error (they still hold key material the change erased).
    async fn commit(&self, next: KeyRing, kind: KeyEventKind, erasing: bool) -> Result<KeyEvent> {
        let org = next.org().clone();
        let bytes = persist::seal_ring(&*self.inner.kms, &next).await?;
        let key = persist::ring_key(&org, next.generation())?;
        match self
            .inner
            .store
            .put(&key, Bytes::from(bytes), &PutOptions::create_only())
            .await
        {
            Ok(_) => {}
            Err(coffer_store::Error::AlreadyExists { .. }) => {
                self.forget_ring(&org);
                return Err(Error::Conflict {
                    org: org.to_string(),
                    generation: next.generation(),
                });
            }
            Err(err) => return Err(err.into()),
        }
        let event = KeyEvent {
            org: org.clone(),
            generation: next.generation(),
            at: next.updated_at(),
            kind,
        };
        let generation = next.generation();
        self.remember(next);
        tracing::info!(org = %org, generation, action = event.kind.action(), "key ring changed");
        if let Err(source) = self.purge_before(&org, generation, false).await {
            if erasing {
                return Err(Error::ErasureIncomplete {
                    org: org.to_string(),
                    event: Box::new(event),
                    source,
                });
            }
            tracing::warn!(org = %org, error = %source, "could not remove superseded key-ring generations");
        }
        Ok(event)
    }

    fn forget_ring(&self, org: &OrgId) {
        self.inner.rings.retain(|k| k != org);
    }

    /// Overwrites every generation of `org`'s ring older than `generation` with the
    /// superseded marker and, on a versioned store, deletes every older version of it. With
    /// `verify_all`, generations already marked are checked for leftover versions too.
    async fn purge_before(
        &self,
        org: &OrgId,
        generation: u64,
        verify_all: bool,
    ) -> Result<(), coffer_store::Error> {
        let store = &self.inner.store;
        let versioned = store.capabilities().versions;
        let generations = self.generations(org).await.map_err(|err| match err {
            Error::Store(inner) => inner,
            other => coffer_store::Error::Unavailable {
                detail: other.to_string(),
            },
        })?;
        let marker_len = persist::SUPERSEDED_MARKER.len() as u64;
        for (old, size) in generations.into_iter().filter(|(g, _)| *g < generation) {
            let marked = size == marker_len;
            if marked && !(versioned && verify_all) {
                continue;
            }
            let key =
                persist::ring_key(org, old).map_err(|err| coffer_store::Error::Unavailable {
                    detail: err.to_string(),
                })?;
            if !marked {
                let marker = Bytes::from_static(persist::SUPERSEDED_MARKER);
                store.put(&key, marker, &PutOptions::overwrite()).await?;
            }
            if versioned {
                // Versions are listed newest first: keep the marker, delete what it replaced.
                for version in store.list_versions(&key).await?.into_iter().skip(1) {
                    store.delete_version(&key, &version.version).await?;
                }
            }
        }
        Ok(())
    }

    /// Erases every superseded copy of `org`'s ring (after an [`Error::ErasureIncomplete`],
    /// once the store allows it). Idempotent.
    ///
    /// # Errors
    /// [`Error::UnknownOrg`], or the store's refusal.
    pub async fn purge_history(&self, org: &OrgId) -> Result<()> {
        let latest = self.generations(org).await?.last().map(|(g, _)| *g);
        let latest = latest.ok_or_else(|| Error::UnknownOrg {
            org: org.to_string(),
        })?;
        Ok(self.purge_before(org, latest, true).await?)
    }

    // ------------------------------------------------------------------ reading rings

    /// The current ring of `org`, read from the store (not the cache).
    ///
    /// # Errors
    /// [`Error::UnknownOrg`], KMS and store errors, [`Error::CorruptRing`].
    pub async fn ring(&self, org: &OrgId) -> Result<KeyRing> {
        self.load_for_update(org).await
    }

    /// Every org that has a key ring in the store, sorted.
    ///
    /// # Errors
    /// Store errors.
    pub async fn orgs(&self) -> Result<Vec<OrgId>> {
        let prefix = format!("{}/", persist::RING_PREFIX);
        let mut listing = self.inner.store.list(&prefix);
        let mut orgs: Vec<OrgId> = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let Some(org) = meta
                .key
                .as_str()
                .strip_prefix(&prefix)
                .and_then(|r| r.split('/').next())
            else {
                continue;
            };
            if orgs.last().is_some_and(|last| last.as_str() == org) {
                continue;
            }
            if let Ok(org) = OrgId::new(org) {
                orgs.push(org);
            }
        }
        orgs.dedup();
        Ok(orgs)
    }

    // ------------------------------------------------------------------ lifecycle

    /// Creates `org`'s key ring with version 1 as its primary.
    ///
    /// # Errors
    /// [`Error::RingExists`]; [`Error::Conflict`] if another writer created it meanwhile; KMS
    /// and store errors (nothing is written then).
    pub async fn create_ring(&self, org: &OrgId, options: RingOptions) -> Result<KeyEvent> {
        if self.load_latest(org).await?.is_some() {
            return Err(Error::RingExists {
                org: org.to_string(),
            });
        }
        let kms = &self.inner.kms;
        let root = options
            .root_key_id
            .unwrap_or_else(|| kms.default_key_id().to_owned());
        let context = kek_context(org, 1);
        let (kek, wrapped, origin) = match options.imported_key {
            Some(key) => {
                let wrapped = kms.wrap(&root, &key, &context).await?;
                (key, wrapped, KeyOrigin::Imported)
            }
            None => {
                let generated = kms.generate_data_key(&root, &context).await?;
                (generated.plaintext, generated.wrapped, KeyOrigin::Generated)
            }
        };
        let ring = KeyRing::new(
            org.clone(),
            root.clone(),
            wrapped,
            origin,
            options.rotation_period,
            self.now(),
        )?;
        let event = self
            .commit(
                ring,
                KeyEventKind::RingCreated {
                    version: 1,
                    root_key_id: root,
                    origin,
                },
                false,
            )
            .await?;
        self.cache_kek(org, 1, kek, self.revocation_epoch());
        Ok(event)
    }

    /// Makes a new KMS-generated version the primary; the previous primary becomes
    /// decrypt-only. New data keys use the new version at once (in this process).
    ///
    /// # Errors
    /// [`Error::UnknownOrg`], [`Error::Conflict`], KMS and store errors.
    pub async fn rotate(&self, org: &OrgId) -> Result<KeyEvent> {
        self.add_version(org, None, false).await.and_then(|event| {
            event.ok_or_else(|| Error::UnknownOrg {
                org: org.to_string(),
            })
        })
    }

    /// Imports the org's own 256-bit key as the new primary version (bring your own key). The
    /// key is wrapped by the ring's root key; keep your own copy: this crate never exports it.
    ///
    /// # Errors
    /// As [`KeyManager::rotate`].
    pub async fn import_key(&self, org: &OrgId, key: DataKey) -> Result<KeyEvent> {
        self.add_version(org, Some(key), false)
            .await
            .and_then(|event| {
                event.ok_or_else(|| Error::UnknownOrg {
                    org: org.to_string(),
                })
            })
    }

    /// Rotates if the ring's rotation period has passed since its primary was created; `None`
    /// if not due (no period, no primary, or not yet). Call it from a scheduler for every org
    /// ([`KeyManager::orgs`]).
    ///
    /// # Errors
    /// As [`KeyManager::rotate`].
    pub async fn rotate_if_due(&self, org: &OrgId) -> Result<Option<KeyEvent>> {
        self.add_version(org, None, true).await
    }

    async fn add_version(
        &self,
        org: &OrgId,
        imported: Option<DataKey>,
        only_if_due: bool,
    ) -> Result<Option<KeyEvent>> {
        let ring = self.load_for_update(org).await?;
        let now = self.now();
        if only_if_due && !ring.rotation_due(now) {
            return Ok(None);
        }
        let version = ring.latest_version() + 1;
        let context = kek_context(org, version);
        let kms = &self.inner.kms;
        let (kek, wrapped, origin) = match imported {
            Some(key) => {
                let wrapped = kms.wrap(ring.root_key_id(), &key, &context).await?;
                (key, wrapped, KeyOrigin::Imported)
            }
            None => {
                let generated = kms.generate_data_key(ring.root_key_id(), &context).await?;
                (generated.plaintext, generated.wrapped, KeyOrigin::Generated)
            }
        };
        let next = ring.add_version(wrapped, origin, now)?;
        let kind = KeyEventKind::Rotated {
            version,
            previous: ring.primary(),
            origin,
            automatic: only_if_due,
        };
        let epoch = self.revocation_epoch();
        let event = self.commit(next, kind, false).await?;
        self.cache_kek(org, version, kek, epoch);
        Ok(Some(event))
    }

    /// Makes the active version `version` decrypt-only. Retiring the primary freezes the org:
    /// its data stays readable, new data keys fail with [`Error::NoActiveVersion`] until the next
    /// rotation.
    ///
    /// # Errors
    /// [`Error::UnknownOrg`], [`Error::UnknownVersion`], [`Error::InvalidTransition`] unless it
    /// is active, [`Error::Conflict`], KMS and store errors.
    pub async fn retire(&self, org: &OrgId, version: u32) -> Result<KeyEvent> {
        let ring = self.load_for_update(org).await?;
        let next = ring.retire(version, self.now())?;
        self.commit(next, KeyEventKind::Retired { version }, false)
            .await
    }

    /// Destroys the decrypt-only version `version`: its wrapped KEK is erased from the ring,
    /// every older stored copy of the ring is deleted, and this process's caches drop it and
    /// every data key under it. Data wrapped under it can never be read again, by anyone
    /// holding anything. Rewrap first ([`KeyManager::rewrap_all`]) to keep the data.
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] unless it is decrypt-only; [`Error::RetiredTooRecently`]
    /// within one cache TTL of its retirement; [`Error::ErasureIncomplete`] if the destroy was
    /// committed but older copies could not be deleted; the errors of [`KeyManager::retire`].
    pub async fn destroy(&self, org: &OrgId, version: u32) -> Result<KeyEvent> {
        let ring = self.load_for_update(org).await?;
        let now = self.now();
        let next = ring.destroy(version, now)?;
        let retired_at = ring.version(version)?.retired_at().unwrap_or(0);
        let grace = self.inner.cache_config.ttl.as_secs();
        let allowed_at = retired_at.saturating_add(grace);
        if now < allowed_at {
            return Err(Error::RetiredTooRecently {
                org: org.to_string(),
                version,
                retry_after_secs: allowed_at - now,
            });
        }
        self.revoke(org, |v| v == version);
        let result = self
            .commit(next, KeyEventKind::Destroyed { version }, true)
            .await;
        self.revoke(org, |v| v == version);
        result
    }

    /// Destroys every remaining version of `org`'s ring at once (crypto-shredding: the org was
    /// disconnected or must be erased). Everything ever encrypted for the org becomes
    /// unreadable. No grace period applies: the org is meant to stop now.
    ///
    /// # Errors
    /// [`Error::UnknownOrg`], [`Error::Conflict`], [`Error::ErasureIncomplete`], KMS and store
    /// errors.
    pub async fn shred(&self, org: &OrgId) -> Result<KeyEvent> {
        let ring = self.load_for_update(org).await?;
        let (next, versions) = ring.shred(self.now())?;
        self.revoke(org, |_| true);
        let result = self
            .commit(next, KeyEventKind::Shredded { versions }, true)
            .await;
        self.revoke(org, |_| true);
        result
    }

    /// Sets the minimum decryption version: older versions refuse to unwrap (their key
    /// material is kept, so lowering it again restores them).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] outside 1..=latest; the errors of [`KeyManager::retire`].
    pub async fn set_min_decryption_version(&self, org: &OrgId, minimum: u32) -> Result<KeyEvent> {
        let ring = self.load_for_update(org).await?;
        let from = ring.min_decryption_version();
        let next = ring.set_min_decryption_version(minimum, self.now())?;
        let kind = KeyEventKind::MinDecryptionVersionSet { from, to: minimum };
        self.revoke(org, |v| v < minimum);
        let result = self.commit(next, kind, false).await;
        self.revoke(org, |v| v < minimum);
        result
    }

    /// Sets or clears the automatic rotation period.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a period under one second; the errors of
    /// [`KeyManager::retire`].
    pub async fn set_rotation_period(
        &self,
        org: &OrgId,
        period: Option<Duration>,
    ) -> Result<KeyEvent> {
        let ring = self.load_for_update(org).await?;
        let next = ring.set_rotation_period(period, self.now())?;
        let kind = KeyEventKind::RotationPeriodSet {
            seconds: next.rotation_period().map(|p| p.as_secs()),
        };
        self.commit(next, kind, false).await
    }

    /// Moves `org`'s ring to another root key (say, the org's own KMS key, or the next local
    /// master key): every live KEK is re-wrapped KMS-side (`ReEncrypt` on AWS) and the ring is
    /// sealed under the new root. Data keys and data are untouched. Older copies of the ring,
    /// wrapped under the old root, are deleted.
    ///
    /// # Errors
    /// [`Error::ErasureIncomplete`], and the errors of [`KeyManager::retire`].
    pub async fn change_root_key(&self, org: &OrgId, root_key_id: &str) -> Result<KeyEvent> {
        let ring = self.load_for_update(org).await?;
        let from = ring.root_key_id().to_owned();
        let mut rewrapped = Vec::new();
        for entry in ring.versions() {
            let Some(wrapped) = entry.wrapped_kek() else {
                continue;
            };
            let context = kek_context(org, entry.version());
            let moved = self
                .inner
                .kms
                .rewrap(&from, wrapped, &context, root_key_id, &context)
                .await?;
            rewrapped.push((entry.version(), moved));
        }
        let next = ring.change_root(root_key_id.to_owned(), rewrapped, self.now())?;
        let kind = KeyEventKind::RootKeyChanged {
            from,
            to: root_key_id.to_owned(),
        };
        self.commit(next, kind, true).await
    }

    // ------------------------------------------------------------------ data keys

    /// Makes a data key for an object of `org`, wrapped under the primary KEK and bound to
    /// `context`, and caches it.
    ///
    /// # Errors
    /// [`Error::UnknownOrg`], [`Error::NoActiveVersion`], KMS and store errors.
    pub async fn generate_data_key(
        &self,
        org: &OrgId,
        context: &EncryptionContext,
    ) -> Result<NewDataKey> {
        let epoch = self.revocation_epoch();
        let ring = self.ring_for_use(org).await?;
        let version = ring.primary_version()?.version();
        let kek = self.kek(&ring, version).await?;
        let dek = wrap::random_key()?;
        let wrapped = WrappedDek::seal(&kek, version, org, context, &dek)?;
        let key = Arc::new(dek);
        self.cache_dek(org, wrapped, context, key.clone(), epoch);
        Ok(NewDataKey { key, wrapped })
    }

    /// The data key `wrapped` holds, from the cache if it is there (no KMS call, no store
    /// access), otherwise unwrapped and cached.
    ///
    /// # Errors
    /// [`Error::UnknownOrg`], [`Error::UnknownVersion`], [`Error::VersionDestroyed`],
    /// [`Error::VersionDisabled`], [`Error::Unwrap`] (wrong context or altered bytes), KMS and
    /// store errors.
    pub async fn unwrap_data_key(
        &self,
        org: &OrgId,
        wrapped: &WrappedDek,
        context: &EncryptionContext,
    ) -> Result<Arc<DataKey>> {
        if let Some(key) = self.cached_data_key(org, wrapped, context) {
            return Ok(key);
        }
        let epoch = self.revocation_epoch();
        let version = wrapped.kek_version();
        let mut ring = self.ring_for_use(org).await?;
        if version > ring.latest_version() {
            // Perhaps another process rotated since this one cached the ring.
            ring = self.refresh_ring(org).await?;
        }
        ring.decryptable(version)?;
        let kek = self.kek(&ring, version).await?;
        let key = Arc::new(wrapped.open(&kek, org, context)?);
        self.cache_dek(org, *wrapped, context, key.clone(), epoch);
        Ok(key)
    }

    /// The data key `wrapped` holds if it is in the cache: a hash-map lookup, nothing else.
    pub fn cached_data_key(
        &self,
        org: &OrgId,
        wrapped: &WrappedDek,
        context: &EncryptionContext,
    ) -> Option<Arc<DataKey>> {
        let cache = &self.inner.deks;
        let hash = cache.hash_of(&(org.as_str(), wrapped.as_bytes(), context));
        cache.get(
            hash,
            |slot| slot.wrapped == *wrapped && slot.org == *org && slot.context == *context,
            self.inner.clock.now(),
        )
    }

    /// Re-wraps one data key under the current primary; `None` if it already is. The data it
    /// encrypts is untouched: the key itself does not change, only its wrapping.
    ///
    /// # Errors
    /// As [`KeyManager::unwrap_data_key`], and [`Error::NoActiveVersion`].
    pub async fn rewrap_data_key(
        &self,
        org: &OrgId,
        wrapped: &WrappedDek,
        context: &EncryptionContext,
    ) -> Result<Option<WrappedDek>> {
        let ring = self.ring_for_use(org).await?;
        let target = ring.primary_version()?.version();
        self.rewrap_to(org, &ring, target, wrapped, context).await
    }

    pub(crate) async fn rewrap_to(
        &self,
        org: &OrgId,
        ring: &KeyRing,
        target: u32,
        wrapped: &WrappedDek,
        context: &EncryptionContext,
    ) -> Result<Option<WrappedDek>> {
        if wrapped.kek_version() == target {
            return Ok(None);
        }
        let epoch = self.revocation_epoch();
        let key = self.unwrap_data_key(org, wrapped, context).await?;
        let kek = self.kek(ring, target).await?;
        let rewrapped = WrappedDek::seal(&kek, target, org, context, &key)?;
        self.cache_dek(org, rewrapped, context, key, epoch);
        Ok(Some(rewrapped))
    }

    /// The current ring of `org` for a rewrap: fresh from the store when the cached copy's
    /// primary is not `target`.
    pub(crate) async fn ring_with_primary(&self, org: &OrgId, target: u32) -> Result<Arc<KeyRing>> {
        let ring = self.ring_for_use(org).await?;
        if ring.primary() == Some(target) {
            return Ok(ring);
        }
        let ring = self.refresh_ring(org).await?;
        if ring.primary() != Some(target) {
            return Err(Error::StaleRewrap {
                org: org.to_string(),
                target,
                primary: ring.primary(),
            });
        }
        Ok(ring)
    }

    pub(crate) async fn fresh_ring(&self, org: &OrgId) -> Result<Arc<KeyRing>> {
        self.refresh_ring(org).await
    }

    pub(crate) fn unix_now(&self) -> u64 {
        self.now()
    }

    /// The unwrapped KEK `version` of `ring`, from the cache or the KMS.
    async fn kek(&self, ring: &KeyRing, version: u32) -> Result<Arc<DataKey>> {
        let org = ring.org();
        let cache = &self.inner.keks;
        let hash = cache.hash_of(&(org.as_str(), version));
        let now = self.inner.clock.now();
        if let Some(kek) = cache.get(
            hash,
            |slot| slot.version == version && slot.org == *org,
            now,
        ) {
            return Ok(kek);
        }
        let epoch = self.revocation_epoch();
        let entry = ring.decryptable(version)?;
        let wrapped = entry.wrapped_kek().ok_or_else(|| Error::VersionDestroyed {
            org: org.to_string(),
            version,
        })?;
        let kek = self
            .inner
            .kms
            .unwrap(ring.root_key_id(), wrapped, &kek_context(org, version))
            .await?;
        Ok(self.cache_kek(org, version, kek, epoch))
    }

    fn revocation_epoch(&self) -> u64 {
        self.inner.revocations.load(Ordering::SeqCst)
    }

    fn cache_kek(&self, org: &OrgId, version: u32, kek: DataKey, epoch: u64) -> Arc<DataKey> {
        let kek = Arc::new(kek);
        if self.revocation_epoch() == epoch {
            let cache = &self.inner.keks;
            let slot = KekSlot {
                org: org.clone(),
                version,
            };
            cache.insert(
                cache.hash_of(&(org.as_str(), version)),
                slot,
                kek.clone(),
                self.inner.clock.now(),
            );
        }
        kek
    }

    fn cache_dek(
        &self,
        org: &OrgId,
        wrapped: WrappedDek,
        context: &EncryptionContext,
        key: Arc<DataKey>,
        epoch: u64,
    ) {
        if self.revocation_epoch() != epoch {
            return;
        }
        let cache = &self.inner.deks;
        let hash = cache.hash_of(&(org.as_str(), wrapped.as_bytes(), context));
        let slot = DekSlot {
            org: org.clone(),
            wrapped,
            context: context.clone(),
        };
        cache.insert(hash, slot, key, self.inner.clock.now());
    }

    /// Drops from this process's caches every KEK of `org` whose version matches, and every
    /// data key wrapped under one, and makes in-flight unwraps skip the cache.
    fn revoke(&self, org: &OrgId, matches: impl Fn(u32) -> bool) {
        self.inner.revocations.fetch_add(1, Ordering::SeqCst);
        self.inner
            .keks
            .retain(|slot| !(slot.org == *org && matches(slot.version)));
        self.inner
            .deks
            .retain(|slot| !(slot.org == *org && matches(slot.wrapped.kek_version())));
    }

    /// Empties the caches (keys are wiped as their last holder drops them).
    pub fn clear_cache(&self) {
        self.inner.deks.clear();
        self.inner.keks.clear();
        self.inner.rings.clear();
    }

    /// Empties only the key caches, keeping ring metadata (what a "cold key" measurement
    /// wants: the next unwrap calls the KMS but does not re-read the store).
    pub fn clear_key_cache(&self) {
        self.inner.deks.clear();
        self.inner.keks.clear();
    }

    /// Cache counters.
    pub fn cache_stats(&self) -> KeyCacheStats {
        KeyCacheStats {
            data_keys: self.inner.deks.stats(),
            keks: self.inner.keks.stats(),
            rings: self.inner.rings.stats(),
        }
    }
}
