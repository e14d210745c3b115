//! How a key ring is laid out in an object store and sealed there.
//!
//! Each generation of an org's ring is one object, `keyrings/<org>/<generation>` (generation
//! zero-padded to 20 digits so names sort numerically), written create-only: of two writers that
//! start from the same generation exactly one can create the next. The object is
//!
//! ```text
//! "CFKR" | version 1 | u16 root key id length | root key id | u16 wrapped length | wrapped doc key | envelope
//! ```
//!
//! where the document key is a fresh data key from the KMS under the ring's root key, and the
//! envelope (`coffer-envelope`) seals the ring's JSON under it, bound to the org, the generation
//! and the root key id. So the ring's metadata (states, primary, minimum version) is
//! authenticated and private, and a generation cannot be replayed under another name. Byte
//! layout in `docs/format/keyring.md`.
//!
//! A generation superseded by a newer one is overwritten with [`SUPERSEDED_MARKER`] (and, on a
//! versioned store, its older versions are deleted): the name stays taken, the content is gone.

use coffer_envelope::Header;

use crate::context::{EncryptionContext, OrgId};
use crate::error::{Error, Result};
use crate::kms::Kms;
use crate::ring::KeyRing;
use crate::wrap::WrappedKey;

/// Top-level prefix of key-ring objects in the store.
pub const RING_PREFIX: &str = "keyrings";
/// Magic bytes of a key-ring object.
pub const RING_OBJECT_MAGIC: [u8; 4] = *b"CFKR";
/// Format version of key-ring objects written and read.
pub const RING_OBJECT_VERSION: u8 = 1;
/// What a superseded generation is overwritten with. The object stays, so a writer that
/// loaded an old generation can never create its successor again (a deleted name could be
/// re-created, and a stale writer's rotation would then be silently lost); its key material is
/// gone.
pub const SUPERSEDED_MARKER: &[u8] = b"CFKS\x01";
/// The envelope key reference of a sealed ring document.
const ENVELOPE_KEY_REF: &[u8] = b"coffer-keys/keyring";

/// `keyrings/<org>/`.
pub(crate) fn org_prefix(org: &OrgId) -> String {
    format!("{RING_PREFIX}/{org}/")
}

/// `keyrings/<org>/<generation, 20 digits>`.
pub(crate) fn ring_key(org: &OrgId, generation: u64) -> Result<coffer_store::ObjectKey> {
    Ok(coffer_store::ObjectKey::new(format!(
        "{RING_PREFIX}/{org}/{generation:020}"
    ))?)
}

/// The generation named by an object key under `prefix`, if it is one of ours.
pub(crate) fn parse_generation(key: &str, prefix: &str) -> Option<u64> {
    let rest = key.strip_prefix(prefix)?;
    if rest.len() != 20 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok().filter(|g| *g > 0)
}

/// The encryption context of a ring document's key.
fn document_context(org: &OrgId, generation: u64, root_key_id: &str) -> EncryptionContext {
    EncryptionContext::new()
        .with("coffer:purpose", "keyring")
        .with("coffer:org", org.as_str())
        .with("coffer:generation", generation.to_string())
        .with("coffer:root-key", root_key_id)
}

/// The encryption context of a KEK version wrapped under the root key.
pub(crate) fn kek_context(org: &OrgId, version: u32) -> EncryptionContext {
    EncryptionContext::new()
        .with("coffer:purpose", "org-kek")
        .with("coffer:org", org.as_str())
        .with("coffer:kek-version", version.to_string())
}

/// The plaintext header of a persisted key-ring object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingObject<'a> {
    root_key_id: &'a str,
    wrapped_document_key: WrappedKey,
    envelope: &'a [u8],
}

impl<'a> RingObject<'a> {
    /// Splits a key-ring object into its parts without decrypting anything.
    ///
    /// # Errors
    /// [`Error::Malformed`] unless the bytes have the layout above and the envelope's header
    /// parses.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let malformed = |reason| Error::Malformed {
            what: "key ring object",
            reason,
        };
        let rest = bytes
            .strip_prefix(&RING_OBJECT_MAGIC)
            .ok_or_else(|| malformed("the magic bytes CFKR are missing"))?;
        let (&version, rest) = rest.split_first().ok_or_else(|| malformed("cut short"))?;
        if version != RING_OBJECT_VERSION {
            return Err(malformed("unsupported format version"));
        }
        let (root, rest) = take_field(rest).ok_or_else(|| malformed("cut short"))?;
        let root_key_id =
            std::str::from_utf8(root).map_err(|_| malformed("the root key id is not UTF-8"))?;
        if root_key_id.is_empty() {
            return Err(malformed("the root key id is empty"));
        }
        let (wrapped, envelope) = take_field(rest).ok_or_else(|| malformed("cut short"))?;
        let wrapped_document_key = WrappedKey::from_bytes(wrapped)
            .map_err(|_| malformed("the wrapped document key is empty or too long"))?;
        Header::parse(envelope).map_err(|_| malformed("the sealed document is not an envelope"))?;
        Ok(RingObject {
            root_key_id,
            wrapped_document_key,
            envelope,
        })
    }

    /// The root key the document key is wrapped under.
    pub fn root_key_id(&self) -> &str {
        self.root_key_id
    }

    /// The wrapped document key.
    pub fn wrapped_document_key(&self) -> &WrappedKey {
        &self.wrapped_document_key
    }
}

/// A `u16`-length-prefixed field and what follows it.
fn take_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    (rest.len() >= len).then(|| rest.split_at(len))
}

fn put_field(out: &mut Vec<u8>, field: &[u8]) -> Result<()> {
    let len = u16::try_from(field.len())
        .map_err(|_| Error::InvalidArgument("a root key id or wrapped key is too long".into()))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
    Ok(())
}

fn envelope_error(org: &OrgId, err: coffer_envelope::Error) -> Error {
    match err {
        coffer_envelope::Error::Random(source) => Error::Random(source),
        coffer_envelope::Error::Authentication => Error::CorruptRing {
            org: org.to_string(),
            reason: "the sealed ring does not authenticate (altered, or sealed for another \
                     org or generation)"
                .into(),
        },
        other => Error::CorruptRing {
            org: org.to_string(),
            reason: other.to_string(),
        },
    }
}

/// Seals `ring` for storage under a fresh document key from `kms`.
pub(crate) async fn seal_ring(kms: &dyn Kms, ring: &KeyRing) -> Result<Vec<u8>> {
    let context = document_context(ring.org(), ring.generation(), ring.root_key_id());
    let document_key = kms.generate_data_key(ring.root_key_id(), &context).await?;
    let envelope = coffer_envelope::seal(
        &document_key.plaintext,
        ENVELOPE_KEY_REF,
        &context.canonical_bytes(),
        &ring.to_json(),
    )
    .map_err(|err| envelope_error(ring.org(), err))?;
    let mut out = Vec::with_capacity(envelope.len() + 512);
    out.extend_from_slice(&RING_OBJECT_MAGIC);
    out.push(RING_OBJECT_VERSION);
    put_field(&mut out, ring.root_key_id().as_bytes())?;
    put_field(&mut out, document_key.wrapped.as_bytes())?;
    out.extend_from_slice(&envelope);
    Ok(out)
}

/// Opens the object stored as generation `generation` of `org`'s ring.
pub(crate) async fn open_ring(
    kms: &dyn Kms,
    org: &OrgId,
    generation: u64,
    bytes: &[u8],
) -> Result<KeyRing> {
    let object = RingObject::parse(bytes)?;
    let context = document_context(org, generation, object.root_key_id);
    let document_key = kms
        .unwrap(object.root_key_id, &object.wrapped_document_key, &context)
        .await
        .map_err(|err| match err {
            Error::Unwrap => Error::CorruptRing {
                org: org.to_string(),
                reason: "the document key does not unwrap under the root key (wrong root key, \
                         or the object was altered or renamed)"
                    .into(),
            },
            other => other,
        })?;
    let json = coffer_envelope::open(&document_key, &context.canonical_bytes(), object.envelope)
        .map_err(|err| envelope_error(org, err))?;
    let ring = KeyRing::from_json(&json)?;
    if ring.org() != org
        || ring.generation() != generation
        || ring.root_key_id() != object.root_key_id
    {
        return Err(Error::CorruptRing {
            org: org.to_string(),
            reason: "the document names another org, generation or root key than its object".into(),
        });
    }
    Ok(ring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::LocalKms;
    use crate::ring::KeyOrigin;

    fn org() -> OrgId {
        OrgId::new("00D000000000001").unwrap()
    }

    fn ring() -> KeyRing {
        let wrapped = WrappedKey::from_bytes(vec![9; 80]).unwrap();
        KeyRing::new(
            org(),
            "local".into(),
            wrapped,
            KeyOrigin::Generated,
            None,
            5,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn sealed_ring_round_trips_and_is_bound_to_its_name() {
        let kms = LocalKms::generate().unwrap();
        let ring = ring();
        let bytes = seal_ring(&kms, &ring).await.unwrap();
        assert_eq!(RingObject::parse(&bytes).unwrap().root_key_id(), "local");
        assert_eq!(open_ring(&kms, &org(), 1, &bytes).await.unwrap(), ring);

        // Stored under another generation or org: refused.
        assert!(matches!(
            open_ring(&kms, &org(), 2, &bytes).await,
            Err(Error::CorruptRing { .. })
        ));
        let other = OrgId::new("00D000000000002").unwrap();
        assert!(matches!(
            open_ring(&kms, &other, 1, &bytes).await,
            Err(Error::CorruptRing { .. })
        ));
        // Another master key: refused.
        let stranger = LocalKms::generate().unwrap();
        assert!(matches!(
            open_ring(&stranger, &org(), 1, &bytes).await,
            Err(Error::CorruptRing { .. })
        ));
        // Any flipped bit: refused, never a panic, never a different ring.
        for i in (0..bytes.len()).step_by(7) {
            let mut tampered = bytes.clone();
            tampered[i] ^= 0x20;
            assert!(
                open_ring(&kms, &org(), 1, &tampered).await.is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn object_names_sort_by_generation() {
        let prefix = org_prefix(&org());
        let key = ring_key(&org(), 42).unwrap();
        assert_eq!(
            key.as_str(),
            "keyrings/00D000000000001/00000000000000000042"
        );
        assert_eq!(parse_generation(key.as_str(), &prefix), Some(42));
        assert_eq!(
            parse_generation("keyrings/00D000000000001/42", &prefix),
            None
        );
        assert_eq!(
            parse_generation("keyrings/00D000000000001/0000000000000000000x", &prefix),
            None
        );
        assert_eq!(
            parse_generation("keyrings/00D000000000001/00000000000000000000", &prefix),
            None
        );
        assert!(ring_key(&org(), 9).unwrap().as_str() < ring_key(&org(), 10).unwrap().as_str());
    }

    #[test]
    fn truncated_objects_are_malformed() {
        for bytes in [
            &b""[..],
            b"CFKR",
            b"CFKR\x02",
            b"CFKR\x01\x00\x05abc",
            b"XXXX\x01",
        ] {
            assert!(
                matches!(RingObject::parse(bytes), Err(Error::Malformed { .. })),
                "{bytes:?}"
            );
        }
    }
}
