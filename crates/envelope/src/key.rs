//! The data key an envelope is sealed under.

use std::fmt;

use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox};

use crate::Error;

/// A 256-bit data encryption key (DEK).
///
/// The bytes live on the heap in a [`SecretBox`], are wiped when the key is dropped, and are
/// reachable only through [`ExposeSecret`] — which the key ring needs to wrap the key under a
/// KEK, and nothing else should call. `Debug` prints no key material, and there is no `Display`
/// and no `Clone`: share a key by reference (or `Arc`) rather than by copying it.
///
/// One data key may seal any number of envelopes: every envelope draws a fresh 256-bit salt and
/// derives its own payload key from it, so nonces (segment counters) never repeat under a key.
pub struct DataKey(SecretBox<[u8; DataKey::LEN]>);

impl DataKey {
    /// Length of a data key in bytes.
    pub const LEN: usize = 32;

    /// Draws a fresh key from the operating system's random number generator.
    ///
    /// # Errors
    /// [`Error::Random`] if the generator fails.
    pub fn generate() -> Result<Self, Error> {
        let mut secret = SecretBox::new(Box::new([0_u8; Self::LEN]));
        getrandom::fill(secret.expose_secret_mut()).map_err(Error::Random)?;
        Ok(Self(secret))
    }

    /// Copies key material (for example a DEK just unwrapped by a KMS) into a new key.
    ///
    /// The caller still owns `bytes` and should wipe it (hold it in
    /// [`zeroize::Zeroizing`]).
    ///
    /// # Errors
    /// [`Error::InvalidKeyLength`] unless `bytes` is exactly [`DataKey::LEN`] long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != Self::LEN {
            return Err(Error::InvalidKeyLength(bytes.len()));
        }
        let mut secret = SecretBox::new(Box::new([0_u8; Self::LEN]));
        secret.expose_secret_mut().copy_from_slice(bytes);
        Ok(Self(secret))
    }
}

impl From<SecretBox<[u8; DataKey::LEN]>> for DataKey {
    fn from(secret: SecretBox<[u8; DataKey::LEN]>) -> Self {
        Self(secret)
    }
}

impl ExposeSecret<[u8; DataKey::LEN]> for DataKey {
    fn expose_secret(&self) -> &[u8; DataKey::LEN] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}
