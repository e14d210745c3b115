//! The one sealing rule of everything the engine stores (`docs/format/repository.md` §4.1):
//! an envelope under a fresh data key of the org's key ring, whose key reference is the
//! wrapped data key, so every sealed object opens with the ring alone and deleting it destroys
//! the only copy of its key.

use coffer_keys::{EncryptionContext, KeyManager, OrgId, WrappedDek};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Seals `plaintext` under a fresh data key of `org` bound to `context`.
pub(crate) async fn seal(
    keys: &KeyManager,
    org: &OrgId,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let dek = keys.generate_data_key(org, context).await?;
    coffer_envelope::seal(
        &dek.key,
        dek.wrapped.as_bytes(),
        &context.canonical_bytes(),
        plaintext,
    )
    .map_err(|_| Error::Crypto("sealing"))
}

/// The data key of a sealed object, from the wrapped key in its header.
pub(crate) async fn data_key(
    keys: &KeyManager,
    org: &OrgId,
    context: &EncryptionContext,
    header: &coffer_envelope::Header,
) -> Result<std::sync::Arc<coffer_envelope::DataKey>> {
    let wrapped = WrappedDek::from_bytes(header.key_ref()).map_err(|_| Error::Crypto("opening"))?;
    Ok(keys.unwrap_data_key(org, &wrapped, context).await?)
}

/// Opens what [`seal`] made, presenting `context` again.
pub(crate) async fn open(
    keys: &KeyManager,
    org: &OrgId,
    context: &EncryptionContext,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let header = coffer_envelope::Header::parse(sealed).map_err(|_| Error::Crypto("opening"))?;
    let key = data_key(keys, org, context, &header).await?;
    coffer_envelope::open(&key, &context.canonical_bytes(), sealed)
        .map(Zeroizing::new)
        .map_err(|_| Error::Crypto("opening"))
}
