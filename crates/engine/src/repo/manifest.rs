//! The repository's JSON documents (`docs/format/repository.md` §2, §3, §7): the unsealed
//! `config`, the sealed org descriptor and the sealed snapshot manifests. Unknown fields and
//! unknown versions are refused, so a reader never half-understands a document.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The `format` value of a repository config.
pub const CONFIG_FORMAT: &str = "coffer-repository";
/// The repository format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// The root key that protects every org key ring of the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RootKey {
    /// A local master key the operator supplies (`LocalKms`).
    Local {
        /// The key's name.
        key_id: String,
    },
    /// An AWS KMS key.
    AwsKms {
        /// Key ARN, id or alias.
        key_id: String,
        /// The key's region, if not the environment's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
    },
}

/// The repository config (`config`): what opening the repository needs to know first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Always [`CONFIG_FORMAT`].
    pub format: String,
    /// Always [`FORMAT_VERSION`] for this crate.
    pub version: u32,
    /// Random repository id (32 lowercase hex digits).
    pub id: String,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: i64,
    /// The root key.
    pub root_key: RootKey,
}

impl RepoConfig {
    /// Parses and checks a stored config.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let config: Self = serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
            what: "config".into(),
            reason: e.to_string(),
        })?;
        if config.format != CONFIG_FORMAT {
            return Err(Error::Corrupt {
                what: "config".into(),
                reason: format!("not a Coffer repository (format {:?})", config.format),
            });
        }
        if config.version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                what: "repository",
                version: config.version,
            });
        }
        Ok(config)
    }
}

/// The compound incremental cursor of one object: the last stored (SystemModstamp, Id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watermark {
    /// SystemModstamp, milliseconds since the Unix epoch.
    pub stamp_ms: i64,
    /// The record Id.
    pub id: String,
}

/// What a snapshot holds for one object type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectState {
    /// Where the next incremental run starts (None: nothing stored yet).
    pub watermark: Option<Watermark>,
    /// Live (not deleted) records as of the snapshot.
    pub live: u64,
    /// Versions this run added.
    pub versions_added: u64,
    /// Records this run found gone.
    pub gone_added: u64,
    /// Index segments (content names, hex), base first.
    pub index: Vec<String>,
    /// The object's compression dictionary (content name, hex), if it has one.
    pub dictionary: Option<String>,
    /// When the object was last fully reconciled (ms since the epoch).
    pub last_full_ms: Option<i64>,
}

/// How a snapshot's run read the org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// Everything, first run.
    Full,
    /// Changes since the parent's watermarks.
    Incremental,
    /// Everything again, compared with what is stored.
    Reconcile,
}

/// The file bodies of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobTotals {
    /// Distinct blobs stored.
    pub count: u64,
    /// Their plaintext bytes.
    pub bytes: u64,
    /// Blob index segments (content names, hex), oldest first: together they locate every
    /// body stored (repository.md §5).
    pub index: Vec<String>,
}

/// A snapshot manifest (`orgs/<org>/snapshots/<seq>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT_VERSION`].
    pub version: u32,
    /// Sequence number, from 1.
    pub seq: u64,
    /// The previous snapshot (None for the first).
    pub parent: Option<u64>,
    /// The run that made it.
    pub run: String,
    /// How the run read the org.
    pub kind: RunKind,
    /// Run start, ms since the epoch.
    pub started_ms: i64,
    /// Run end, ms since the epoch.
    pub finished_ms: i64,
    /// Salesforce org id.
    pub org_id: String,
    /// The org's instance URL at the time.
    pub instance_url: String,
    /// REST API version used.
    pub api_version: String,
    /// Per object type.
    pub objects: BTreeMap<String, ObjectState>,
    /// Blob totals.
    pub blobs: BlobTotals,
    /// Packs this run wrote (content names, hex).
    pub packs_added: Vec<String>,
    /// Stored bytes this run added.
    pub bytes_added: u64,
    /// Plaintext bytes this run stored: canonical records and file bodies, before compression.
    pub logical_bytes_added: u64,
}

impl Manifest {
    /// Parses and checks a manifest's plaintext; `seq` is the number in its name.
    pub fn from_json(bytes: &[u8], seq: u64) -> Result<Self> {
        let corrupt = |reason: String| Error::Corrupt {
            what: format!("snapshot {seq}"),
            reason,
        };
        let manifest: Self = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if manifest.version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                what: "snapshot manifest",
                version: manifest.version,
            });
        }
        if manifest.seq != seq {
            return Err(corrupt(format!("names itself snapshot {}", manifest.seq)));
        }
        let expected_parent = seq.checked_sub(1).filter(|&p| p > 0);
        if manifest.parent != expected_parent {
            return Err(corrupt(format!(
                "parent {:?} where {:?} was expected",
                manifest.parent, expected_parent
            )));
        }
        Ok(manifest)
    }

    /// The manifest as stored (before sealing).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::InvalidArgument(format!("manifest: {e}")))
    }
}

/// A run journal (`orgs/<org>/runs/<run>/<n>`, repository.md §8): what a run has finished so
/// far, so that a run that died can be continued instead of started again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// Always [`FORMAT_VERSION`].
    pub version: u32,
    /// The run.
    pub run: String,
    /// Its number within the run, from 1 (the name's `<n>`).
    pub n: u64,
    /// The snapshot the run builds on.
    pub parent: Option<u64>,
    /// How the run reads the org.
    pub kind: RunKind,
    /// When the run started (ms since the epoch).
    pub started_ms: i64,
    /// Every object's state so far: the parent's, updated by the finished objects.
    pub objects: BTreeMap<String, ObjectState>,
    /// Objects the run finished: their packs and segments are stored and named above.
    pub finished: BTreeSet<String>,
    /// Packs the run stored for the finished objects.
    pub packs_added: Vec<String>,
    /// Bytes the run added to the store so far.
    pub bytes_added: u64,
    /// Plaintext bytes of the versions and file bodies stored so far.
    pub logical_bytes_added: u64,
    /// Blob totals so far.
    pub blobs: BlobTotals,
}

impl Journal {
    /// Parses and checks a journal's plaintext; `run` and `n` come from its name.
    pub fn from_json(bytes: &[u8], run: &str, n: u64) -> Result<Self> {
        let corrupt = |reason: String| Error::Corrupt {
            what: format!("journal {run}/{n}"),
            reason,
        };
        let journal: Self = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if journal.version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                what: "run journal",
                version: journal.version,
            });
        }
        if journal.run != run || journal.n != n {
            return Err(corrupt(format!(
                "names itself {}/{}",
                journal.run, journal.n
            )));
        }
        if let Some(object) = journal
            .finished
            .iter()
            .find(|o| !journal.objects.contains_key(*o))
        {
            return Err(corrupt(format!("finished object {object} has no state")));
        }
        Ok(journal)
    }

    /// The journal as stored (before sealing).
    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::InvalidArgument(format!("journal: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(seq: u64) -> Manifest {
        let mut objects = BTreeMap::new();
        objects.insert(
            "Account".to_owned(),
            ObjectState {
                watermark: Some(Watermark {
                    stamp_ms: 1_700_000_000_000,
                    id: "001000000000001AAA".into(),
                }),
                live: 10,
                versions_added: 10,
                gone_added: 0,
                index: vec!["ab".repeat(32)],
                dictionary: None,
                last_full_ms: Some(1_700_000_000_000),
            },
        );
        Manifest {
            version: FORMAT_VERSION,
            seq,
            parent: seq.checked_sub(1).filter(|&p| p > 0),
            run: "0".repeat(32),
            kind: RunKind::Full,
            started_ms: 1,
            finished_ms: 2,
            org_id: "00D000000000001AAA".into(),
            instance_url: "https://127.0.0.1:1".into(),
            api_version: "v62.0".into(),
            objects,
            blobs: BlobTotals::default(),
            packs_added: vec![],
            bytes_added: 0,
            logical_bytes_added: 0,
        }
    }

    #[test]
    fn manifests_round_trip_and_must_sit_where_they_say() {
        let m = manifest(3);
        let json = m.to_json().unwrap();
        assert_eq!(Manifest::from_json(&json, 3).unwrap(), m);
        assert!(Manifest::from_json(&json, 4).is_err());
        let mut orphan = manifest(3);
        orphan.parent = Some(1);
        assert!(Manifest::from_json(&orphan.to_json().unwrap(), 3).is_err());
        assert!(Manifest::from_json(&manifest(1).to_json().unwrap(), 1).is_ok());
    }

    #[test]
    fn unknown_fields_and_versions_are_refused() {
        let mut value: serde_json::Value =
            serde_json::from_slice(&manifest(1).to_json().unwrap()).unwrap();
        value["surprise"] = serde_json::json!(1);
        assert!(Manifest::from_json(&serde_json::to_vec(&value).unwrap(), 1).is_err());
        let mut later = manifest(1);
        later.version = 2;
        assert!(matches!(
            Manifest::from_json(&later.to_json().unwrap(), 1),
            Err(Error::UnsupportedVersion { .. })
        ));
    }

    #[test]
    fn configs_are_checked() {
        let config = RepoConfig {
            format: CONFIG_FORMAT.into(),
            version: 1,
            id: "0".repeat(32),
            created_ms: 1_795_388_400_000,
            root_key: RootKey::Local {
                key_id: "local".into(),
            },
        };
        let json = serde_json::to_vec(&config).unwrap();
        assert!(
            String::from_utf8_lossy(&json)
                .contains(r#""root_key":{"kind":"local","key_id":"local"}"#)
        );
        assert_eq!(RepoConfig::from_json(&json).unwrap(), config);
        let other = RepoConfig {
            format: "restic".into(),
            ..config.clone()
        };
        assert!(RepoConfig::from_json(&serde_json::to_vec(&other).unwrap()).is_err());
        let later = RepoConfig {
            version: 2,
            ..config
        };
        assert!(matches!(
            RepoConfig::from_json(&serde_json::to_vec(&later).unwrap()),
            Err(Error::UnsupportedVersion { .. })
        ));
    }

    #[test]
    fn journals_round_trip_and_must_match_their_name() {
        let m = manifest(2);
        let journal = Journal {
            version: FORMAT_VERSION,
            run: "r1".into(),
            n: 3,
            parent: Some(1),
            kind: RunKind::Incremental,
            started_ms: 5,
            objects: m.objects.clone(),
            finished: m.objects.keys().cloned().collect(),
            packs_added: Vec::new(),
            bytes_added: 10,
            logical_bytes_added: 20,
            blobs: BlobTotals::default(),
        };
        let bytes = journal.to_json().unwrap();
        assert_eq!(Journal::from_json(&bytes, "r1", 3).unwrap(), journal);
        for (run, n) in [("r2", 3), ("r1", 4)] {
            assert!(matches!(
                Journal::from_json(&bytes, run, n),
                Err(Error::Corrupt { .. })
            ));
        }
        let mut orphan = journal.clone();
        orphan.finished.insert("Nowhere__c".into());
        assert!(matches!(
            Journal::from_json(&orphan.to_json().unwrap(), "r1", 3),
            Err(Error::Corrupt { .. })
        ));
    }
}
