//! Personal data minimisation: the log commits to personal values, a separate erasable store
//! holds them.
//!
//! Two event fields are personal data: the acting **user name** (it names a person) and the
//! **source IP address** (personal data under the GDPR, CJEU C-582/14 *Breyer*). Everything
//! else in an event is an opaque system identifier (org, object type, record id, key id,
//! request id) or a fixed vocabulary (action, outcome), and stays in the log in clear.
//!
//! For each event with personal fields the writer draws a fresh random 32-byte key and stores
//! in the event, per field, `HMAC-SHA-256(key, "coffer-audit/v1/" || field || 0x00 || value)`.
//! The key and the values form the event's [`Opening`], kept in a [`PayloadStore`] under the
//! event's sequence number. Erasure deletes the opening: the leaf, and so every Merkle proof,
//! is unchanged, and the remaining tag is a MAC under a key that no longer exists, so it can
//! neither be reversed nor linked to other events of the same person. (A key per log instead
//! of per event would leave a stable pseudonym behind after erasure, which is still personal
//! data; that is why this design spends 32 bytes per event instead.)
//!
//! Anyone holding an opening can check it against the event: third-party verification of a
//! disclosed value needs no secret of the log operator.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::Error;
use crate::event::{Commitment, Event};

/// The canonical text of an IP address: IPv4-mapped IPv6 addresses become IPv4, IPv6 is
/// written in RFC 5952 form (what `std` prints), IPv4 in dotted decimal.
pub fn canonical_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// The secret half of an event's personal fields: the per-event key and the values.
#[derive(Clone, PartialEq, Eq)]
pub struct Opening {
    key: Zeroizing<[u8; 32]>,
    /// The user name, if the event has one.
    pub user: Option<String>,
    /// The canonical source IP, if the event has one.
    pub ip: Option<String>,
}

impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data and the key stay out of logs and panic messages.
        f.debug_struct("Opening")
            .field("user", &self.user.as_ref().map(|_| "<redacted>"))
            .field("ip", &self.ip.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpeningJson {
    key: String,
    user: Option<String>,
    ip: Option<String>,
}

fn tag(key: &[u8; 32], field: &str, value: &str) -> Commitment {
    // RFC 2104 pads a key shorter than the hash block with zeros, so HMAC under the 32-byte
    // key equals HMAC under this 64-byte block, and the block-sized constructor cannot fail.
    let mut block = Zeroizing::new([0u8; 64]);
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&(*block).into());
    mac.update(b"coffer-audit/v1/");
    mac.update(field.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    Commitment(mac.finalize().into_bytes().into())
}

impl Opening {
    /// A fresh opening with a random key, or `None` when there is nothing personal.
    pub fn new(user: Option<String>, ip: Option<IpAddr>) -> Result<Option<Self>, Error> {
        if user.is_none() && ip.is_none() {
            return Ok(None);
        }
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Some(Self {
            key,
            user,
            ip: ip.map(canonical_ip),
        }))
    }

    /// Commitment to the user name.
    pub fn user_commitment(&self) -> Option<Commitment> {
        self.user.as_deref().map(|u| tag(&self.key, "user", u))
    }

    /// Commitment to the source IP.
    pub fn ip_commitment(&self) -> Option<Commitment> {
        self.ip.as_deref().map(|ip| tag(&self.key, "ip", ip))
    }

    /// Whether this opening is the one `event` committed to (both fields, including absence).
    pub fn opens(&self, event: &Event) -> bool {
        // Commitments are public; a plain comparison leaks nothing an attacker lacks.
        self.user_commitment() == event.actor.user && self.ip_commitment() == event.ip
    }

    /// The stored form: `{"key":"<hex>","user":...,"ip":...}`.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let json = OpeningJson {
            key: hex::encode(self.key.as_ref()),
            user: self.user.clone(),
            ip: self.ip.clone(),
        };
        // Serialising a struct of strings cannot fail.
        Zeroizing::new(serde_json::to_vec(&json).unwrap_or_default())
    }

    /// Parses the stored form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let json: OpeningJson =
            serde_json::from_slice(bytes).map_err(|e| Error::MalformedPayload(e.to_string()))?;
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(&json.key, key.as_mut())
            .map_err(|_| Error::MalformedPayload("key is not 64 hex digits".into()))?;
        Ok(Self {
            key,
            user: json.user,
            ip: json.ip,
        })
    }
}

/// Where openings live: a store separate from the log, whose entries can be erased.
///
/// Openings hold personal data; a production store seals them
/// (`coffer_engine::audit_trail::SealedPayloads` seals each with `coffer-envelope` under its
/// own data key, so that erasing also crypto-shreds).
#[async_trait]
pub trait PayloadStore: Send + Sync {
    /// Stores the opening of event `seq`. Create-only: an existing payload is an error.
    async fn put(&self, seq: u64, payload: &[u8]) -> Result<(), Error>;
    /// The opening of event `seq`, or `None` if there is none (never stored, or erased).
    async fn get(&self, seq: u64) -> Result<Option<Zeroizing<Vec<u8>>>, Error>;
    /// Erases the opening of event `seq`; returns whether there was one.
    async fn erase(&self, seq: u64) -> Result<bool, Error>;
    /// Every stored sequence number, ascending.
    async fn list(&self) -> Result<Vec<u64>, Error>;
}

/// Openings in memory (tests, examples, short-lived tools).
#[derive(Debug, Default)]
pub struct MemoryPayloadStore {
    map: Mutex<BTreeMap<u64, Zeroizing<Vec<u8>>>>,
}

impl MemoryPayloadStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Zeroizing<Vec<u8>>>> {
        // A poisoned lock only means another thread panicked mid-operation on a map whose
        // operations are all single calls; the data is still consistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl PayloadStore for MemoryPayloadStore {
    async fn put(&self, seq: u64, payload: &[u8]) -> Result<(), Error> {
        let mut map = self.lock();
        if map.contains_key(&seq) {
            return Err(Error::AlreadyExists(format!("payload of event {seq}")));
        }
        map.insert(seq, Zeroizing::new(payload.to_vec()));
        Ok(())
    }

    async fn get(&self, seq: u64) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        Ok(self.lock().get(&seq).cloned())
    }

    async fn erase(&self, seq: u64) -> Result<bool, Error> {
        Ok(self.lock().remove(&seq).is_some())
    }

    async fn list(&self) -> Result<Vec<u64>, Error> {
        Ok(self.lock().keys().copied().collect())
    }
}

/// Openings as files `<seq, 20 digits>.payload` in one directory.
///
/// Deleting a file does not scrub the medium; on its own this store is for tests and for a
/// deployment that encrypts the directory. The sealed wrapper is what makes erasure final.
#[derive(Debug, Clone)]
pub struct DirPayloadStore {
    dir: PathBuf,
}

impl DirPayloadStore {
    /// A store in `dir`, created if missing.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        let dir = dir.into();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io("create payload directory", e))?;
        Ok(Self { dir })
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(payload_file_name(seq))
    }
}

/// The file name of event `seq`'s payload in a [`DirPayloadStore`].
pub fn payload_file_name(seq: u64) -> String {
    format!("{seq:020}.payload")
}

/// Parses a [`payload_file_name`].
pub fn parse_payload_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".payload")?;
    (digits.len() == 20 && digits.bytes().all(|c| c.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

#[async_trait]
impl PayloadStore for DirPayloadStore {
    async fn put(&self, seq: u64, payload: &[u8]) -> Result<(), Error> {
        crate::fsutil::create_new_durable(&self.dir, &self.path(seq), payload)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    Error::AlreadyExists(format!("payload of event {seq}"))
                }
                _ => Error::io("write payload", e),
            })
    }

    async fn get(&self, seq: u64) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        match tokio::fs::read(self.path(seq)).await {
            Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read payload", e)),
        }
    }

    async fn erase(&self, seq: u64) -> Result<bool, Error> {
        match tokio::fs::remove_file(self.path(seq)).await {
            Ok(()) => {
                crate::fsutil::sync_dir(&self.dir)
                    .await
                    .map_err(|e| Error::io("sync payload directory", e))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("erase payload", e)),
        }
    }

    async fn list(&self) -> Result<Vec<u64>, Error> {
        let mut out = crate::fsutil::list_names(&self.dir)
            .await
            .map_err(|e| Error::io("list payloads", e))?
            .iter()
            .filter_map(|n| parse_payload_file_name(n))
            .collect::<Vec<_>>();
        out.sort_unstable();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Actor, Outcome, Target};
    use crate::time::Timestamp;

    #[test]
    fn ip_canonical_forms() {
        let cases = [
            ("203.0.113.9", "203.0.113.9"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("2001:DB8::A", "2001:db8::a"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical_ip(input.parse().unwrap()), want);
        }
    }

    #[test]
    fn openings_bind_values_and_round_trip() {
        let opening = Opening::new(
            Some("alice@example.com".into()),
            "::ffff:10.0.0.1".parse().ok(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(opening.ip.as_deref(), Some("10.0.0.1"));
        let mut event = Event {
            seq: 0,
            ts: Timestamp::EPOCH,
            actor: Actor {
                idp: "local".into(),
                user: opening.user_commitment(),
            },
            action: "login".into(),
            target: Target::default(),
            ip: opening.ip_commitment(),
            outcome: Outcome::Success,
            request_id: None,
            detail: None,
        };
        assert!(opening.opens(&event));
        let again = Opening::from_bytes(&opening.to_bytes()).unwrap();
        assert!(again.opens(&event));
        let mut other = again.clone();
        other.user = Some("mallory@example.com".into());
        assert!(!other.opens(&event));
        event.ip = None;
        assert!(!opening.opens(&event));
        // A second opening of the same values has an unrelated key: no linkage.
        let twin = Opening::new(Some("alice@example.com".into()), None)
            .unwrap()
            .unwrap();
        assert_ne!(twin.user_commitment(), opening.user_commitment());
        assert!(!format!("{opening:?}").contains("alice"));
        assert_eq!(Opening::new(None, None).unwrap(), None);
    }

    #[test]
    fn block_padded_key_gives_the_standard_hmac() {
        for byte in [0u8, 1, 0x5c, 0xff] {
            let key = [byte; 32];
            let mut standard = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
            standard.update(b"coffer-audit/v1/user\0alice");
            let expected: [u8; 32] = standard.finalize().into_bytes().into();
            assert_eq!(tag(&key, "user", "alice").0, expected);
        }
    }

    #[test]
    fn payload_file_names() {
        assert_eq!(payload_file_name(42), "00000000000000000042.payload");
        assert_eq!(parse_payload_file_name(&payload_file_name(42)), Some(42));
        assert_eq!(parse_payload_file_name("42.payload"), None);
        assert_eq!(
            parse_payload_file_name("99999999999999999999.payload"),
            None
        );
    }

    async fn exercise(store: &dyn PayloadStore) {
        store.put(3, b"three").await.unwrap();
        store.put(1, b"one").await.unwrap();
        assert!(matches!(
            store.put(3, b"again").await,
            Err(Error::AlreadyExists(_))
        ));
        assert_eq!(store.get(3).await.unwrap().unwrap().as_slice(), b"three");
        assert_eq!(store.list().await.unwrap(), vec![1, 3]);
        assert!(store.erase(3).await.unwrap());
        assert!(!store.erase(3).await.unwrap());
        assert_eq!(store.get(3).await.unwrap(), None);
        assert_eq!(store.list().await.unwrap(), vec![1]);
    }

    #[tokio::test]
    async fn memory_and_directory_stores_behave_alike() {
        exercise(&MemoryPayloadStore::new()).await;
        let dir = tempfile::tempdir().unwrap();
        exercise(&DirPayloadStore::open(dir.path()).await.unwrap()).await;
    }
}
