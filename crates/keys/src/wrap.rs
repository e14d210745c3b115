//! Wrapping one 256-bit key under another with AES-256-GCM, and the wrapped-key formats.
//!
//! Two formats use the same primitive (byte layouts in `docs/format/keyring.md`):
//! - [`WrappedDek`]: a data key wrapped under one version of an org's key-encryption key.
//! - [`WrappedKey`]: whatever a [`Kms`](crate::Kms) returns; for [`LocalKms`](crate::LocalKms)
//!   it is the `CFLK` format built here, for AWS KMS an opaque ciphertext blob.
//!
//! Each wrap draws a fresh random 96-bit nonce. NIST SP 800-38D (§8.3) bounds random-nonce GCM
//! to 2^32 encryptions per key; a KEK version wraps one data key per object or pack, and rotation
//! (automatic by period, if configured) replaces the KEK long before that.

use std::fmt;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_envelope::DataKey;
use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::context::{EncryptionContext, OrgId};
use crate::error::{Error, Result};

/// Length of a key (DEK, KEK or master key) in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// AES-GCM nonce length.
pub(crate) const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;
/// Nonce, encrypted key and tag: what [`seal_key`] produces.
pub(crate) const SEALED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// Draws a fresh key from the operating system's random number generator.
pub(crate) fn random_key() -> Result<DataKey> {
    let mut bytes = Zeroizing::new([0_u8; KEY_LEN]);
    getrandom::fill(bytes.as_mut()).map_err(Error::Random)?;
    key_from_slice(bytes.as_ref())
}

/// Copies 32 bytes into a [`DataKey`].
pub(crate) fn key_from_slice(bytes: &[u8]) -> Result<DataKey> {
    DataKey::from_slice(bytes).map_err(|_| {
        Error::InvalidArgument(format!("a key is {KEY_LEN} bytes, not {}", bytes.len()))
    })
}

/// Encrypts `key` under `wrapping` with a random nonce; returns `nonce || ciphertext || tag`.
pub(crate) fn seal_key(wrapping: &DataKey, aad: &[u8], key: &DataKey) -> Result<[u8; SEALED_LEN]> {
    let mut nonce = [0_u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(Error::Random)?;
    let cipher = Aes256Gcm::new(wrapping.expose_secret().into());
    let mut buffer = Zeroizing::new(*key.expose_secret());
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, buffer.as_mut())
        // AES-GCM refuses only inputs longer than 2^36 bytes; 32 bytes cannot fail.
        .map_err(|_| Error::Unwrap)?;
    let mut out = [0_u8; SEALED_LEN];
    out[..NONCE_LEN].copy_from_slice(&nonce);
    out[NONCE_LEN..NONCE_LEN + KEY_LEN].copy_from_slice(buffer.as_ref());
    out[NONCE_LEN + KEY_LEN..].copy_from_slice(&tag);
    Ok(out)
}

/// Reverses [`seal_key`]; any authentication failure is the opaque [`Error::Unwrap`].
pub(crate) fn open_key(wrapping: &DataKey, aad: &[u8], sealed: &[u8]) -> Result<DataKey> {
    if sealed.len() != SEALED_LEN {
        return Err(Error::Unwrap);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(KEY_LEN);
    let cipher = Aes256Gcm::new(wrapping.expose_secret().into());
    let mut buffer = Zeroizing::new([0_u8; KEY_LEN]);
    buffer.copy_from_slice(ciphertext);
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            aad,
            buffer.as_mut(),
            Tag::from_slice(tag),
        )
        .map_err(|_| Error::Unwrap)?;
    key_from_slice(buffer.as_ref())
}

/// Magic bytes of a [`WrappedDek`].
pub const DEK_MAGIC: [u8; 4] = *b"CFDK";
/// Format version of [`WrappedDek`] this build writes and reads.
pub const DEK_FORMAT_VERSION: u8 = 1;
/// Length of the [`WrappedDek`] header: magic, format version, KEK version.
const DEK_HEADER_LEN: usize = 4 + 1 + 4;
/// Length of a [`WrappedDek`] in bytes.
pub const WRAPPED_DEK_LEN: usize = DEK_HEADER_LEN + SEALED_LEN;
/// Domain-separation label at the start of a wrapped DEK's associated data.
const DEK_AAD_LABEL: &[u8] = b"coffer-keys/dek/v1\0";

/// A data key wrapped under one version of an org's key-encryption key (KEK).
///
/// 69 bytes: `CFDK`, format version `1`, the KEK version (big-endian `u32`), a random 96-bit
/// nonce, the encrypted key and the GCM tag. The associated data binds the header, the org id
/// and the canonical [`EncryptionContext`], so it unwraps only for the same org, KEK version and
/// context. Store it next to (or in place of a reference in) whatever it encrypts; it is not
/// secret, and rewrapping replaces it without touching the data.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WrappedDek([u8; WRAPPED_DEK_LEN]);

impl WrappedDek {
    /// Parses the bytes of a wrapped data key. Only the structure is checked here; whether it
    /// authenticates is known when it is unwrapped.
    ///
    /// # Errors
    /// [`Error::Malformed`] for a wrong length, magic or format version, or KEK version `0`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let malformed = |reason| Error::Malformed {
            what: "wrapped data key",
            reason,
        };
        let array: [u8; WRAPPED_DEK_LEN] = bytes
            .try_into()
            .map_err(|_| malformed("it is not 69 bytes long"))?;
        if array[..4] != DEK_MAGIC {
            return Err(malformed("the magic bytes CFDK are missing"));
        }
        if array[4] != DEK_FORMAT_VERSION {
            return Err(malformed("unsupported format version"));
        }
        let wrapped = WrappedDek(array);
        if wrapped.kek_version() == 0 {
            return Err(malformed("key version 0 does not exist"));
        }
        Ok(wrapped)
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The KEK version it is wrapped under.
    pub fn kek_version(&self) -> u32 {
        u32::from_be_bytes([self.0[5], self.0[6], self.0[7], self.0[8]])
    }

    /// Wraps `dek` under `kek` (version `kek_version` of `org`'s ring), bound to `context`.
    pub(crate) fn seal(
        kek: &DataKey,
        kek_version: u32,
        org: &OrgId,
        context: &EncryptionContext,
        dek: &DataKey,
    ) -> Result<Self> {
        let mut out = [0_u8; WRAPPED_DEK_LEN];
        out[..4].copy_from_slice(&DEK_MAGIC);
        out[4] = DEK_FORMAT_VERSION;
        out[5..DEK_HEADER_LEN].copy_from_slice(&kek_version.to_be_bytes());
        let aad = dek_aad(&out[..DEK_HEADER_LEN], org, context);
        out[DEK_HEADER_LEN..].copy_from_slice(&seal_key(kek, &aad, dek)?);
        Ok(WrappedDek(out))
    }

    /// Unwraps under `kek`, which must be the KEK version named in the header.
    pub(crate) fn open(
        &self,
        kek: &DataKey,
        org: &OrgId,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let aad = dek_aad(&self.0[..DEK_HEADER_LEN], org, context);
        open_key(kek, &aad, &self.0[DEK_HEADER_LEN..])
    }
}

/// Associated data of a wrapped DEK: label, header, org id, canonical context.
fn dek_aad(header: &[u8], org: &OrgId, context: &EncryptionContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DEK_AAD_LABEL.len() + header.len() + 68 + 64);
    aad.extend_from_slice(DEK_AAD_LABEL);
    aad.extend_from_slice(header);
    aad.extend_from_slice(&(org.as_str().len() as u32).to_be_bytes());
    aad.extend_from_slice(org.as_str().as_bytes());
    context.write_canonical(&mut aad);
    aad
}

impl fmt::Debug for WrappedDek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WrappedDek(v{}, {})",
            self.kek_version(),
            BASE64.encode(self.0)
        )
    }
}

impl Serialize for WrappedDek {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(self.0))
    }
}

impl<'de> Deserialize<'de> for WrappedDek {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = BASE64.decode(text).map_err(serde::de::Error::custom)?;
        WrappedDek::from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// Largest wrapped key accepted from a KMS or a key-ring document (AWS KMS ciphertext blobs
/// for a 32-byte key are about 184 bytes; the bound only stops absurd inputs).
pub const MAX_WRAPPED_KEY_LEN: usize = 6144;

/// A key wrapped by a [`Kms`](crate::Kms) root key: opaque bytes only that KMS can unwrap.
///
/// Not secret; serialized as standard base64.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    /// Takes the bytes a KMS returned.
    ///
    /// # Errors
    /// [`Error::Malformed`] if empty or longer than [`MAX_WRAPPED_KEY_LEN`].
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.is_empty() || bytes.len() > MAX_WRAPPED_KEY_LEN {
            return Err(Error::Malformed {
                what: "wrapped key",
                reason: "it is empty or longer than 6144 bytes",
            });
        }
        Ok(WrappedKey(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey({} bytes)", self.0.len())
    }
}

impl Serialize for WrappedKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for WrappedKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = BASE64.decode(text).map_err(serde::de::Error::custom)?;
        WrappedKey::from_bytes(bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn org() -> OrgId {
        OrgId::new("00D000000000001").unwrap()
    }

    #[test]
    fn dek_round_trip_and_binding() {
        let kek = random_key().unwrap();
        let dek = random_key().unwrap();
        let ctx = EncryptionContext::object(&org(), "packs/1", "pack");
        let wrapped = WrappedDek::seal(&kek, 7, &org(), &ctx, &dek).unwrap();
        assert_eq!(wrapped.kek_version(), 7);
        assert_eq!(wrapped.as_bytes().len(), WRAPPED_DEK_LEN);
        let parsed = WrappedDek::from_bytes(wrapped.as_bytes()).unwrap();
        let opened = parsed.open(&kek, &org(), &ctx).unwrap();
        assert_eq!(opened.expose_secret(), dek.expose_secret());

        let other_ctx = EncryptionContext::object(&org(), "packs/2", "pack");
        assert!(matches!(
            parsed.open(&kek, &org(), &other_ctx),
            Err(Error::Unwrap)
        ));
        let other_org = OrgId::new("00D000000000002").unwrap();
        assert!(matches!(
            parsed.open(&kek, &other_org, &ctx),
            Err(Error::Unwrap)
        ));
        let other_kek = random_key().unwrap();
        assert!(matches!(
            parsed.open(&other_kek, &org(), &ctx),
            Err(Error::Unwrap)
        ));
    }

    #[test]
    fn every_flipped_bit_is_detected() {
        let kek = random_key().unwrap();
        let dek = random_key().unwrap();
        let ctx = EncryptionContext::new();
        let wrapped = WrappedDek::seal(&kek, 1, &org(), &ctx, &dek).unwrap();
        for i in 0..WRAPPED_DEK_LEN * 8 {
            let mut bytes = *wrapped.as_bytes().first_chunk::<WRAPPED_DEK_LEN>().unwrap();
            bytes[i / 8] ^= 1 << (i % 8);
            match WrappedDek::from_bytes(&bytes) {
                // A changed KEK version still parses; it must then fail to authenticate.
                Ok(tampered) => {
                    assert!(matches!(
                        tampered.open(&kek, &org(), &ctx),
                        Err(Error::Unwrap)
                    ))
                }
                Err(Error::Malformed { .. }) => assert!(i < 8 * DEK_HEADER_LEN),
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_dek_bytes_are_typed() {
        assert!(matches!(
            WrappedDek::from_bytes(b"short"),
            Err(Error::Malformed { .. })
        ));
        let mut bytes = [0_u8; WRAPPED_DEK_LEN];
        bytes[..4].copy_from_slice(&DEK_MAGIC);
        bytes[4] = 2;
        assert!(matches!(
            WrappedDek::from_bytes(&bytes),
            Err(Error::Malformed { .. })
        ));
        bytes[4] = 1;
        assert!(matches!(
            WrappedDek::from_bytes(&bytes),
            Err(Error::Malformed { .. })
        ));
        bytes[8] = 1;
        assert!(WrappedDek::from_bytes(&bytes).is_ok());
    }

    pub(crate) fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The vector in `docs/format/keyring.md`, computed independently (Python `cryptography`).
    #[test]
    fn dek_test_vector() {
        let kek = DataKey::from_slice(&(0..32).collect::<Vec<u8>>()).unwrap();
        let ctx = EncryptionContext::object(&org(), "packs/0001", "pack");
        assert_eq!(
            ctx.canonical_bytes(),
            unhex(
                "00000003000000036f72670000000f30304430303030303030303030303100000004706174680000\
                 000a7061636b732f3030303100000007707572706f7365000000047061636b"
            )
        );
        let bytes = unhex(
            "4346444b0100000003404142434445464748494a4bc2988c000219a124e5ed3d1db7493d7449f760\
             6f830039144f7e74deab2ed3e453d39d8a48a9ecbbea43b8790457e8a0",
        );
        let wrapped = WrappedDek::from_bytes(&bytes).unwrap();
        assert_eq!(wrapped.kek_version(), 3);
        let dek = wrapped.open(&kek, &org(), &ctx).unwrap();
        assert_eq!(
            dek.expose_secret().as_slice(),
            (32..64).collect::<Vec<u8>>().as_slice()
        );
    }

    #[test]
    fn wrapped_dek_serializes_as_base64() {
        let kek = random_key().unwrap();
        let dek = random_key().unwrap();
        let wrapped = WrappedDek::seal(&kek, 3, &org(), &EncryptionContext::new(), &dek).unwrap();
        let json = serde_json::to_string(&wrapped).unwrap();
        let back: WrappedDek = serde_json::from_str(&json).unwrap();
        assert_eq!(back, wrapped);
    }
}
