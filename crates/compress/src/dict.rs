//! Record dictionaries: zstd dictionaries trained on sample records of one Salesforce object
//! type, so small blocks of records compress well (field names, picklist values, Id prefixes and
//! date shapes are in the dictionary rather than in every block).
//!
//! A [`Dictionary`] is identified by a [`DictionaryId`], the SHA-256 of its serialized form, and
//! each block compressed with it names that id. Dictionaries are never edited: retraining an
//! object type produces a new dictionary with a new id, and blocks written with the old one keep
//! naming the old one. Keep every dictionary any live block names in the [`DictionarySet`] given
//! to the decompressor; a block whose dictionary is absent fails with
//! [`Error::DictionaryMissing`].
//!
//! Serialized form, version 1: one byte `0x01`, then the zstd dictionary (which starts with the
//! zstd dictionary magic `37 A4 30 EC` and carries a 32-bit zstd dictionary id).

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use zstd::zstd_safe::DDict;

use crate::error::{Error, Result};

/// Version byte of the serialized dictionary form.
const SERIALIZED_VERSION: u8 = 0x01;
/// Magic of a zstd dictionary (as stored, little-endian `0xEC30A437`).
const ZSTD_DICTIONARY_MAGIC: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];

/// Default dictionary size for record dictionaries: zstd's own default (110 KiB), which its
/// authors found a good trade-off between ratio and per-block setup cost.
pub const DEFAULT_DICTIONARY_SIZE: usize = 110 * 1024;

/// The content hash naming a dictionary: SHA-256 of its serialized form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DictionaryId([u8; 32]);

impl DictionaryId {
    /// Length in bytes.
    pub const LEN: usize = 32;

    /// Wraps 32 bytes (e.g. read from a block or an index).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for DictionaryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for DictionaryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DictionaryId({self})")
    }
}

/// A trained zstd dictionary, with its id and its decoder tables prepared once.
pub struct Dictionary {
    id: DictionaryId,
    serialized: Vec<u8>,
    zstd_id: NonZeroU32,
    decoder: DDict<'static>,
}

impl Dictionary {
    /// Parses a serialized dictionary (as produced by [`Dictionary::to_bytes`]).
    ///
    /// # Errors
    /// [`Error::InvalidDictionary`] when the version byte is unknown or the rest is not a zstd
    /// dictionary with a non-zero dictionary id.
    pub fn from_bytes(serialized: &[u8]) -> Result<Self> {
        let (&version, zstd_bytes) = serialized
            .split_first()
            .ok_or(Error::InvalidDictionary("empty"))?;
        if version != SERIALIZED_VERSION {
            return Err(Error::InvalidDictionary("unknown serialized version"));
        }
        Self::from_zstd(zstd_bytes)
    }

    /// Wraps a zstd dictionary (for example one trained by the `zstd --train` command).
    ///
    /// # Errors
    /// [`Error::InvalidDictionary`] when `zstd_bytes` is not a zstd dictionary with a non-zero
    /// dictionary id.
    pub fn from_zstd(zstd_bytes: &[u8]) -> Result<Self> {
        if !zstd_bytes.starts_with(&ZSTD_DICTIONARY_MAGIC) {
            return Err(Error::InvalidDictionary("missing zstd dictionary magic"));
        }
        let zstd_id = zstd::zstd_safe::get_dict_id_from_dict(zstd_bytes)
            .ok_or(Error::InvalidDictionary("zstd dictionary id is zero"))?;
        let mut serialized = Vec::with_capacity(1 + zstd_bytes.len());
        serialized.push(SERIALIZED_VERSION);
        serialized.extend_from_slice(zstd_bytes);
        let id = DictionaryId(Sha256::digest(&serialized).into());
        // Digest the entropy tables once here, not for every block decoded.
        let decoder = DDict::try_create(zstd_bytes).ok_or(Error::InvalidDictionary(
            "zstd rejected the dictionary tables",
        ))?;
        Ok(Self {
            id,
            serialized,
            zstd_id,
            decoder,
        })
    }

    /// The content hash naming this dictionary.
    pub fn id(&self) -> DictionaryId {
        self.id
    }

    /// The serialized form (version byte + zstd dictionary), to persist next to the data.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.serialized.clone()
    }

    /// The raw zstd dictionary bytes.
    pub fn zstd_bytes(&self) -> &[u8] {
        &self.serialized[1..]
    }

    /// The 32-bit id zstd writes into frames made with this dictionary.
    pub fn zstd_id(&self) -> NonZeroU32 {
        self.zstd_id
    }

    pub(crate) fn decoder(&self) -> &DDict<'static> {
        &self.decoder
    }
}

impl fmt::Debug for Dictionary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dictionary")
            .field("id", &self.id)
            .field("zstd_id", &self.zstd_id)
            .field("len", &self.serialized.len())
            .finish_non_exhaustive()
    }
}

/// Trains a dictionary of at most `max_size` bytes from sample records of one object type
/// (typically a few thousand JSON records; zstd wants the samples to total ~100× `max_size`).
///
/// # Errors
/// [`Error::Training`] when zstd cannot build a dictionary (too few or too small samples).
pub fn from_samples<S: AsRef<[u8]>>(samples: &[S], max_size: usize) -> Result<Dictionary> {
    let trained = zstd::dict::from_samples(samples, max_size)
        .map_err(|error| Error::Training(error.to_string()))?;
    Dictionary::from_zstd(&trained)
}

/// The dictionaries a decompressor may use, looked up by id.
#[derive(Debug, Default, Clone)]
pub struct DictionarySet {
    by_id: HashMap<DictionaryId, Arc<Dictionary>>,
}

impl DictionarySet {
    /// An empty set (blocks that need a dictionary then fail with
    /// [`Error::DictionaryMissing`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a dictionary; adding the same dictionary twice is harmless.
    pub fn insert(&mut self, dictionary: Arc<Dictionary>) {
        self.by_id.insert(dictionary.id(), dictionary);
    }

    /// The dictionary with `id`.
    pub fn get(&self, id: &DictionaryId) -> Option<&Arc<Dictionary>> {
        self.by_id.get(id)
    }

    /// Number of dictionaries.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl FromIterator<Arc<Dictionary>> for DictionarySet {
    fn from_iter<I: IntoIterator<Item = Arc<Dictionary>>>(iter: I) -> Self {
        let mut set = Self::new();
        iter.into_iter().for_each(|d| set.insert(d));
        set
    }
}
