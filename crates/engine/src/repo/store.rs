//! The repository in an object store (`docs/format/repository.md` §1–§3, §7): the config, org
//! descriptors, sealed content-named objects, ranged reads of packs and the create-only commit
//! of snapshot manifests.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use coffer_keys::{EncryptionContext, KeyManager, OrgId, RingOptions};
use coffer_store::{ByteRange, ObjectKey, ObjectStore, PutOptions};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::blobs::{BLOB_NAME_LEN, BlobSegment, body_in_block, max_block_content};
use super::index::IndexSegment;
use super::manifest::{CONFIG_FORMAT, FORMAT_VERSION, Journal, Manifest, RepoConfig, RootKey};
use super::record::keyed_hash;
use crate::error::{Error, Result};
use crate::sealed::{data_key, open, seal};

/// Name of the config object.
pub const CONFIG_KEY: &str = "config";

/// The kinds of content-named sealed objects, with their folder and sealing purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentKind {
    /// Packs of record blocks.
    Pack,
    /// Index segments.
    Index,
    /// Compression dictionaries.
    Dictionary,
    /// Packs of file bodies.
    BlobPack,
    /// Blob index segments.
    BlobIndex,
}

impl ContentKind {
    fn folder(self) -> &'static str {
        match self {
            ContentKind::Pack => "packs",
            ContentKind::Index => "index",
            ContentKind::Dictionary => "dicts",
            ContentKind::BlobPack => "blobs",
            ContentKind::BlobIndex => "index",
        }
    }

    fn purpose(self) -> &'static str {
        match self {
            ContentKind::Pack => "pack",
            ContentKind::Index => "index",
            ContentKind::Dictionary => "dict",
            ContentKind::BlobPack => "blob",
            ContentKind::BlobIndex => "blobindex",
        }
    }
}

/// A content name: SHA-256 of the stored (sealed) bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentName(pub [u8; 32]);

impl ContentName {
    /// The name of `stored` bytes.
    pub fn of(stored: &[u8]) -> Self {
        Self(Sha256::digest(stored).into())
    }

    /// Lowercase hex, as in store keys and manifests.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses [`ContentName::to_hex`].
    pub fn from_hex(text: &str) -> Result<Self> {
        let bad = || Error::Corrupt {
            what: "content name".into(),
            reason: format!("{text:?} is not 64 lowercase hex digits"),
        };
        let mut out = [0u8; 32];
        if !decode_lower_hex(text, &mut out) {
            return Err(bad());
        }
        Ok(Self(out))
    }
}

/// Decodes exactly 64 lowercase hex digits into `out`; false for anything else. Lowercase only:
/// one spelling per name, as the store keys have it.
fn decode_lower_hex(text: &str, out: &mut [u8; 32]) -> bool {
    !text.bytes().any(|b| b.is_ascii_uppercase()) && hex::decode_to_slice(text, out).is_ok()
}

/// A sequence number as it appears in object names (snapshots, journals): 20 decimal digits.
fn parse_number(name: &str) -> Option<u64> {
    (name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An opened repository.
#[derive(Debug, Clone)]
pub struct Repository {
    store: Arc<dyn ObjectStore>,
    keys: KeyManager,
    config: RepoConfig,
}

impl Repository {
    /// Creates a repository in an empty `store` (create-only: an existing config is
    /// [`Error::RepositoryExists`]).
    pub async fn init(
        store: Arc<dyn ObjectStore>,
        keys: KeyManager,
        root_key: RootKey,
    ) -> Result<Self> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|_| Error::Crypto("generating the repository id"))?;
        let config = RepoConfig {
            format: CONFIG_FORMAT.to_owned(),
            version: FORMAT_VERSION,
            id: hex::encode(id),
            created_ms: now_ms(),
            root_key,
        };
        let json = serde_json::to_vec_pretty(&config)
            .map_err(|e| Error::InvalidArgument(format!("config: {e}")))?;
        match store
            .put(
                &object_key(CONFIG_KEY)?,
                Bytes::from(json),
                &PutOptions::create_only(),
            )
            .await
        {
            Ok(_) => Ok(Self {
                store,
                keys,
                config,
            }),
            Err(coffer_store::Error::AlreadyExists { .. }) => Err(Error::RepositoryExists),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the repository in `store`.
    pub async fn open(store: Arc<dyn ObjectStore>, keys: KeyManager) -> Result<Self> {
        let bytes = match store.get(&object_key(CONFIG_KEY)?).await {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => return Err(Error::NotARepository),
            Err(e) => return Err(e.into()),
        };
        let config = RepoConfig::from_json(&bytes)?;
        Ok(Self {
            store,
            keys,
            config,
        })
    }

    /// The repository config.
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The org `org_id`, created (key ring and descriptor) if the repository does not hold it
    /// yet.
    pub async fn org_or_create(
        &self,
        org_id: &str,
        name: &str,
        instance_url: &str,
    ) -> Result<OrgRepo> {
        let org = OrgId::new(org_id)?;
        match self.keys.create_ring(&org, RingOptions::new()).await {
            Ok(_) | Err(coffer_keys::Error::RingExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let mut name_key = Zeroizing::new([0u8; 32]);
        getrandom::fill(name_key.as_mut()).map_err(|_| Error::Crypto("generating the name key"))?;
        let descriptor = OrgDescriptor {
            version: FORMAT_VERSION,
            org_id: org_id.to_owned(),
            name: name.to_owned(),
            instance_url: instance_url.to_owned(),
            name_key: hex::encode(name_key.as_ref()),
            created_ms: now_ms(),
        };
        let repo = OrgRepo {
            store: self.store.clone(),
            keys: self.keys.clone(),
            org,
            name_key: Arc::new(name_key),
            name: name.to_owned(),
        };
        let key = repo.key("org")?;
        let plaintext = Zeroizing::new(
            serde_json::to_vec(&descriptor)
                .map_err(|e| Error::InvalidArgument(format!("org descriptor: {e}")))?,
        );
        match repo.put_named(&key, "org", &plaintext).await {
            Ok(_) => {
                // The name pointer lets `org_named` find the org without listing the store.
                let pointer = name_pointer(name)?;
                match self
                    .store
                    .put(
                        &pointer,
                        Bytes::from(org_id.to_owned()),
                        &PutOptions::create_only(),
                    )
                    .await
                {
                    // Taken by another org of the same name: `org_named` checks the name it
                    // finds, and falls back to listing.
                    Ok(_) | Err(coffer_store::Error::AlreadyExists { .. }) => Ok(repo),
                    Err(e) => Err(e.into()),
                }
            }
            // Already there: the stored descriptor (and its name key) is the one that counts.
            Err(Error::Store(coffer_store::Error::AlreadyExists { .. })) => self.org(org_id).await,
            Err(e) => Err(e),
        }
    }

    /// Every org of the repository, by org id (lists the whole `orgs/` tree).
    pub async fn orgs(&self) -> Result<Vec<OrgRepo>> {
        let metas: Vec<_> = self.store.list("orgs/").try_collect().await?;
        let mut out = Vec::new();
        for meta in metas {
            let parts: Vec<&str> = meta.key.as_ref().split('/').collect();
            if let ["orgs", org_id, "org"] = parts.as_slice() {
                out.push(self.org(org_id).await?);
            }
        }
        Ok(out)
    }

    /// The org named `name` (its name in this repository, or its org id).
    pub async fn org_named(&self, name: &str) -> Result<OrgRepo> {
        // An org id, or a name with a pointer, is found without listing the store (which on
        // a large repository means walking every pack and blob).
        if OrgId::new(name).is_ok() {
            match self.org(name).await {
                Err(Error::UnknownOrg { .. }) => {}
                found => return found,
            }
        }
        match self.store.get(&name_pointer(name)?).await {
            Ok(bytes) => {
                if let Ok(org_id) = std::str::from_utf8(&bytes) {
                    match self.org(org_id).await {
                        Ok(org) if org.name() == name => return Ok(org),
                        // A pointer to an org of another name or none: list instead.
                        Ok(_) | Err(Error::UnknownOrg { .. } | Error::InvalidArgument(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        for org in self.orgs().await? {
            if org.name() == name || org.org_id() == name {
                return Ok(org);
            }
        }
        Err(Error::UnknownOrg {
            org: name.to_owned(),
        })
    }

    /// The org `org_id`, which must exist.
    pub async fn org(&self, org_id: &str) -> Result<OrgRepo> {
        let org = OrgId::new(org_id)?;
        let key = object_key(&format!("orgs/{org_id}/org"))?;
        let sealed = match self.store.get(&key).await {
            Ok(bytes) => bytes,
            Err(e) if e.is_not_found() => {
                return Err(Error::UnknownOrg {
                    org: org_id.to_owned(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let context = EncryptionContext::object(&org, key.as_ref(), "org");
        let plaintext = open(&self.keys, &org, &context, &sealed).await?;
        let mut descriptor: OrgDescriptor =
            serde_json::from_slice(&plaintext).map_err(|e| Error::Corrupt {
                what: format!("org descriptor of {org_id}"),
                reason: e.to_string(),
            })?;
        if descriptor.version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                what: "org descriptor",
                version: descriptor.version,
            });
        }
        if descriptor.org_id != org_id {
            return Err(Error::Corrupt {
                what: format!("org descriptor of {org_id}"),
                reason: format!("names org {}", descriptor.org_id),
            });
        }
        // Straight into zeroized memory, and an error that does not repeat the (secret) text.
        let mut name_key = Zeroizing::new([0u8; 32]);
        if !decode_lower_hex(&descriptor.name_key, &mut name_key) {
            return Err(Error::Corrupt {
                what: format!("org descriptor of {org_id}"),
                reason: "its name key is not 64 lowercase hex digits".into(),
            });
        }
        Ok(OrgRepo {
            store: self.store.clone(),
            keys: self.keys.clone(),
            org,
            name_key: Arc::new(name_key),
            name: std::mem::take(&mut descriptor.name),
        })
    }
}

/// The sealed org descriptor (`repository.md` §3).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgDescriptor {
    version: u32,
    org_id: String,
    name: String,
    instance_url: String,
    /// Hex of the 32-byte name key: wiped when the descriptor is dropped.
    name_key: String,
    created_ms: i64,
}

impl Drop for OrgDescriptor {
    fn drop(&mut self) {
        self.name_key.zeroize();
    }
}

/// `names/<hex SHA-256("coffer org name\0" || name)>`: where the org id of the org named
/// `name` is written (repository.md §1).
fn name_pointer(name: &str) -> Result<ObjectKey> {
    let mut hash = Sha256::new();
    hash.update(b"coffer org name\0");
    hash.update(name.as_bytes());
    object_key(&format!("names/{}", hex::encode(hash.finalize())))
}

fn object_key(name: &str) -> Result<ObjectKey> {
    ObjectKey::new(name).map_err(Error::from)
}

/// One org of a repository: its sealed objects and snapshots.
#[derive(Clone)]
pub struct OrgRepo {
    store: Arc<dyn ObjectStore>,
    keys: KeyManager,
    org: OrgId,
    /// Shared by the clones (each object a run writes holds one): never copied.
    name_key: Arc<Zeroizing<[u8; 32]>>,
    name: String,
}

impl std::fmt::Debug for OrgRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The name key is secret: never printed.
        f.debug_struct("OrgRepo")
            .field("org", &self.org)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl OrgRepo {
    /// The Salesforce org id.
    pub fn org_id(&self) -> &str {
        self.org.as_str()
    }

    /// The org's name in this repository.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn key(&self, relative: &str) -> Result<ObjectKey> {
        object_key(&format!("orgs/{}/{relative}", self.org.as_str()))
    }

    fn context(&self, purpose: &str, path: &str) -> EncryptionContext {
        EncryptionContext::object(&self.org, path, purpose)
    }

    fn content_key(&self, kind: ContentKind, name: &ContentName) -> Result<ObjectKey> {
        self.key(&format!("{}/{}", kind.folder(), name.to_hex()))
    }

    /// Seals and stores `plaintext` as a content-named object; returns its name and stored size.
    /// The plaintext is freed once sealed, before the store takes the sealed copy: a pack is
    /// not held twice while it is written (which takes longest on S3).
    pub async fn put_content(
        &self,
        kind: ContentKind,
        plaintext: Vec<u8>,
    ) -> Result<(ContentName, u64)> {
        let sealed = seal(
            &self.keys,
            &self.org,
            &self.context(kind.purpose(), ""),
            &plaintext,
        )
        .await?;
        drop(plaintext);
        let name = ContentName::of(&sealed);
        let size = sealed.len() as u64;
        match self
            .store
            .put(
                &self.content_key(kind, &name)?,
                Bytes::from(sealed),
                &PutOptions::create_only(),
            )
            .await
        {
            // The same name means the same bytes: already stored is stored.
            Ok(_) | Err(coffer_store::Error::AlreadyExists { .. }) => Ok((name, size)),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads and decodes the index segment named `name` (hex, as manifests list them).
    pub async fn segment(&self, name: &str) -> Result<IndexSegment> {
        let plaintext = self
            .get_content(ContentKind::Index, &ContentName::from_hex(name)?)
            .await?;
        IndexSegment::from_stored(&plaintext)
    }

    /// Reads, checks the name of, and opens a content-named object.
    pub async fn get_content(
        &self,
        kind: ContentKind,
        name: &ContentName,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let key = self.content_key(kind, name)?;
        let sealed = self.store.get(&key).await?;
        if ContentName::of(&sealed) != *name {
            return Err(Error::Tampered {
                key: key.to_string(),
            });
        }
        open(
            &self.keys,
            &self.org,
            &self.context(kind.purpose(), ""),
            &sealed,
        )
        .await
    }

    /// The name a file body is stored under: hex HMAC-SHA256(name key, `"blob\0"` || body).
    pub fn blob_name(&self, body: &[u8]) -> String {
        hex::encode(self.blob_key(body))
    }

    /// The raw 32 bytes of [`Self::blob_name`], as blob index segments hold them.
    pub fn blob_key(&self, body: &[u8]) -> [u8; BLOB_NAME_LEN] {
        keyed_hash(&self.name_key, b"blob\0", body)
    }

    /// Reads and decodes the blob index segment named `name` (hex, as manifests list them).
    pub async fn blob_segment(&self, name: &str) -> Result<BlobSegment> {
        let plaintext = self
            .get_content(ContentKind::BlobIndex, &ContentName::from_hex(name)?)
            .await?;
        BlobSegment::from_stored(&plaintext)
    }

    /// A stored file body (named as in a record's blob reference), as of the newest snapshot:
    /// found in the blob index, read from its block, and checked against its name.
    pub async fn get_blob(&self, name: &str) -> Result<Vec<u8>> {
        let unknown = || Error::InvalidArgument(format!("no file body named {name}"));
        let mut key = [0u8; BLOB_NAME_LEN];
        hex::decode_to_slice(name, &mut key).map_err(|_| unknown())?;
        let Some(manifest) = self.latest().await? else {
            return Err(unknown());
        };
        for segment_name in manifest.blobs.index.iter().rev() {
            let segment = self.blob_segment(segment_name).await?;
            let Some(entry) = segment.get(&key) else {
                continue;
            };
            let pack = ContentName(segment.pack_of(entry).copied().unwrap_or([0; 32]));
            let block = self
                .read_range(
                    ContentKind::BlobPack,
                    &pack,
                    entry.offset..entry.offset + u64::from(entry.length),
                )
                .await?;
            let content = coffer_compress::decompress(
                &block,
                &coffer_compress::Limits::new(max_block_content(entry)),
                &coffer_compress::DictionarySet::new(),
            )
            .map_err(Error::Compress)?;
            let body = body_in_block(&content, entry)?;
            if self.blob_key(body) != key {
                return Err(Error::Tampered {
                    key: format!(
                        "{} (blob {name})",
                        self.content_key(ContentKind::BlobPack, &pack)?
                    ),
                });
            }
            return Ok(body.to_vec());
        }
        Err(unknown())
    }

    /// The stored size of a content-named object (a store error if it is missing).
    pub async fn head_content(&self, kind: ContentKind, name: &ContentName) -> Result<u64> {
        Ok(self.store.head(&self.content_key(kind, name)?).await?.size)
    }

    /// Decrypts `range` of a pack's plaintext, fetching only the segments that cover it.
    pub async fn read_pack_range(
        &self,
        name: &ContentName,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<u8>> {
        self.read_range(ContentKind::Pack, name, range).await
    }

    /// Decrypts `range` of a content-named object's plaintext, fetching only the envelope
    /// segments that cover it.
    async fn read_range(
        &self,
        kind: ContentKind,
        name: &ContentName,
        range: std::ops::Range<u64>,
    ) -> Result<Vec<u8>> {
        let key = self.content_key(kind, name)?;
        let size = self.store.head(&key).await?.size;
        // The header is 77 bytes plus the 69-byte wrapped key; 4 KiB always holds it.
        let head = self
            .store
            .get_range(&key, ByteRange::new(0, size.min(4096))?)
            .await?;
        let header = coffer_envelope::Header::parse(&head).map_err(|_| Error::Crypto("opening"))?;
        let plan = header
            .plan_range(size, range)
            .map_err(|_| Error::Crypto("opening"))?;
        let context = self.context(kind.purpose(), "");
        let dek = data_key(&self.keys, &self.org, &context, &header).await?;
        let span = plan.ciphertext_range();
        let ciphertext = if span.is_empty() {
            Bytes::new()
        } else {
            self.store
                .get_range(&key, ByteRange::new(span.start, span.end)?)
                .await?
        };
        plan.open(&dek, &context.canonical_bytes(), &ciphertext)
            .map_err(|_| Error::Crypto("opening"))
    }

    fn snapshot_key(&self, seq: u64) -> Result<ObjectKey> {
        self.key(&format!("snapshots/{seq:020}"))
    }

    /// Committed snapshot numbers, ascending.
    pub async fn snapshots(&self) -> Result<Vec<u64>> {
        let prefix = format!("orgs/{}/snapshots/", self.org.as_str());
        let metas: Vec<_> = self.store.list(&prefix).try_collect().await?;
        let mut seqs = Vec::with_capacity(metas.len());
        for meta in metas {
            let name = meta.key.as_ref().strip_prefix(&prefix).unwrap_or_default();
            let seq = parse_number(name).ok_or_else(|| Error::Corrupt {
                what: "snapshot list".into(),
                reason: format!("unexpected object {}", meta.key),
            })?;
            seqs.push(seq);
        }
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// The manifest of snapshot `seq`.
    pub async fn manifest(&self, seq: u64) -> Result<Manifest> {
        let key = self.snapshot_key(seq)?;
        let plaintext = match self.get_named(&key, "manifest").await {
            Err(Error::Store(e)) if e.is_not_found() => return Err(Error::UnknownSnapshot { seq }),
            other => other?,
        };
        Manifest::from_json(&plaintext, seq)
    }

    /// The newest manifest, if any snapshot was committed.
    pub async fn latest(&self) -> Result<Option<Manifest>> {
        match self.snapshots().await?.last() {
            Some(&seq) => Ok(Some(self.manifest(seq).await?)),
            None => Ok(None),
        }
    }

    fn journal_key(&self, run: &str, n: u64) -> Result<ObjectKey> {
        self.key(&format!("runs/{run}/{n:020}"))
    }

    /// Stores journal `n` of its run (create-only; repository.md §8); returns its stored size.
    pub async fn put_journal(&self, journal: &Journal) -> Result<u64> {
        let key = self.journal_key(&journal.run, journal.n)?;
        self.put_named(&key, "journal", &journal.to_json()?).await
    }

    /// The newest journal of every run that has one, oldest run first (by start time).
    pub async fn journals(&self) -> Result<Vec<Journal>> {
        let prefix = format!("orgs/{}/runs/", self.org.as_str());
        let metas: Vec<_> = self.store.list(&prefix).try_collect().await?;
        let mut newest: BTreeMap<String, u64> = BTreeMap::new();
        for meta in metas {
            let name = meta.key.as_ref().strip_prefix(&prefix).unwrap_or_default();
            let parsed = name
                .split_once('/')
                .and_then(|(run, n)| Some((run.to_owned(), parse_number(n)?)));
            let Some((run, n)) = parsed else {
                return Err(Error::Corrupt {
                    what: "journal list".into(),
                    reason: format!("unexpected object {}", meta.key),
                });
            };
            let slot = newest.entry(run).or_insert(n);
            *slot = (*slot).max(n);
        }
        let mut journals = Vec::with_capacity(newest.len());
        for (run, n) in newest {
            let plaintext = self
                .get_named(&self.journal_key(&run, n)?, "journal")
                .await?;
            journals.push(Journal::from_json(&plaintext, &run, n)?);
        }
        journals.sort_by_key(|j| j.started_ms);
        Ok(journals)
    }

    /// Removes every journal of `run` (after its snapshot is committed, nothing needs them).
    pub async fn delete_journals(&self, run: &str) -> Result<()> {
        let prefix = format!("orgs/{}/runs/{run}/", self.org.as_str());
        let metas: Vec<_> = self.store.list(&prefix).try_collect().await?;
        for meta in metas {
            self.store.delete(&meta.key).await?;
        }
        Ok(())
    }

    /// Commits `manifest`: the create-only write that makes its snapshot exist. Another run
    /// that committed the same number first wins; this one gets [`Error::Conflict`].
    pub async fn commit(&self, manifest: &Manifest) -> Result<u64> {
        let key = self.snapshot_key(manifest.seq)?;
        match self.put_named(&key, "manifest", &manifest.to_json()?).await {
            Err(Error::Store(coffer_store::Error::AlreadyExists { .. })) => {
                Err(Error::Conflict { seq: manifest.seq })
            }
            other => other,
        }
    }

    /// Seals `plaintext` bound to the name it is stored under (`purpose`, path = `key`) and
    /// writes it create-only; returns the stored size. A name already taken is
    /// `Error::Store(AlreadyExists)`, for the caller to interpret.
    async fn put_named(&self, key: &ObjectKey, purpose: &str, plaintext: &[u8]) -> Result<u64> {
        let sealed = seal(
            &self.keys,
            &self.org,
            &self.context(purpose, key.as_ref()),
            plaintext,
        )
        .await?;
        let size = sealed.len() as u64;
        self.store
            .put(key, Bytes::from(sealed), &PutOptions::create_only())
            .await?;
        Ok(size)
    }

    /// Reads and opens an object written by [`Self::put_named`]. A missing object is
    /// `Error::Store(NotFound)`.
    async fn get_named(&self, key: &ObjectKey, purpose: &str) -> Result<Zeroizing<Vec<u8>>> {
        let sealed = self.store.get(key).await?;
        open(
            &self.keys,
            &self.org,
            &self.context(purpose, key.as_ref()),
            &sealed,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_64_lowercase_hex_digits_decode() {
        let mut out = [0u8; 32];
        let hex = "0123456789abcdef".repeat(4);
        assert!(decode_lower_hex(&hex, &mut out));
        assert_eq!(out[..8], [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        for bad in [
            hex.to_uppercase(),
            hex[..62].to_owned(),
            format!("{hex}00"),
            format!("{}zz", &hex[..62]),
        ] {
            assert!(!decode_lower_hex(&bad, &mut out), "{bad}");
            assert!(ContentName::from_hex(&bad).is_err(), "{bad}");
        }
        assert_eq!(ContentName::from_hex(&hex).unwrap().to_hex(), hex);
    }
}
