//! [`LocalKms`]: root keys held in this process, loaded from base64 in a variable or a file.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use coffer_envelope::DataKey;
use zeroize::Zeroizing;

use super::{GeneratedKey, Kms};
use crate::context::EncryptionContext;
use crate::error::{Error, MasterKeyError, Result};
use crate::wrap::{self, KEY_LEN, SEALED_LEN, WrappedKey};

/// Key id of a [`LocalKms`] master key when none is given.
pub const DEFAULT_LOCAL_KEY_ID: &str = "local";
/// Variable that [`LocalKms::from_default_env`] reads the base64 master key from.
pub const MASTER_KEY_ENV: &str = "COFFER_MASTER_KEY";
/// Variable naming a file that holds the base64 master key; preferred over
/// [`MASTER_KEY_ENV`] because a file's permissions can be checked and its content does not show
/// up in `/proc/<pid>/environ`.
pub const MASTER_KEY_FILE_ENV: &str = "COFFER_MASTER_KEY_FILE";

/// Magic bytes of a key wrapped by [`LocalKms`].
const MAGIC: [u8; 4] = *b"CFLK";
/// Format version written and read.
const FORMAT_VERSION: u8 = 1;
/// Domain-separation label at the start of the associated data.
const AAD_LABEL: &[u8] = b"coffer-keys/local-kms/v1\0";
/// Longest master key id.
const MAX_ID_LEN: usize = 128;
/// Largest key file read: a base64 key is 44 characters, a little slack for newlines.
const MAX_KEY_FILE_LEN: u64 = 1024;

/// A [`Kms`] whose root keys are 32-byte master keys held in this process.
///
/// Each master key has an id (default [`DEFAULT_LOCAL_KEY_ID`]); a `LocalKms` may hold several,
/// so a key ring can move from one master key to the next
/// ([`KeyManager::change_root_key`](crate::KeyManager::change_root_key)) while both are loaded.
/// Wrapping is AES-256-GCM with a random nonce and the key id, a format version and the
/// canonical encryption context as associated data (format in `docs/format/keyring.md`).
///
/// Make a master key with `openssl rand -base64 32`. Load it from a file
/// ([`LocalKms::from_file`], refused unless only its owner can read it) or a variable
/// ([`LocalKms::from_env`]). Unlike a real KMS the key lives in process memory (in a wiped-on-drop
/// box, never printed), so a process memory dump exposes it: use [`AwsKms`](crate::AwsKms) where
/// that matters.
pub struct LocalKms {
    keys: BTreeMap<String, DataKey>,
    default_id: String,
}

impl LocalKms {
    /// A KMS with one master key under [`DEFAULT_LOCAL_KEY_ID`].
    pub fn new(master_key: DataKey) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(DEFAULT_LOCAL_KEY_ID.to_owned(), master_key);
        LocalKms {
            keys,
            default_id: DEFAULT_LOCAL_KEY_ID.to_owned(),
        }
    }

    /// A KMS with one master key under `id`, which becomes the default.
    ///
    /// # Errors
    /// [`MasterKeyError::InvalidId`] unless `id` is 1-128 characters of `A-Za-z0-9._:/-`.
    pub fn with_id(id: &str, master_key: DataKey) -> Result<Self> {
        validate_id(id)?;
        let mut keys = BTreeMap::new();
        keys.insert(id.to_owned(), master_key);
        Ok(LocalKms {
            keys,
            default_id: id.to_owned(),
        })
    }

    /// Adds another master key under `id` (replacing one of the same id); the default stays.
    ///
    /// # Errors
    /// [`MasterKeyError::InvalidId`] for an invalid id.
    pub fn add_key(mut self, id: &str, master_key: DataKey) -> Result<Self> {
        validate_id(id)?;
        self.keys.insert(id.to_owned(), master_key);
        Ok(self)
    }

    /// Makes `id` the default root key for new key rings.
    ///
    /// # Errors
    /// [`Error::KmsKeyNotFound`] if no master key has that id.
    pub fn set_default(mut self, id: &str) -> Result<Self> {
        if !self.keys.contains_key(id) {
            return Err(Error::KmsKeyNotFound {
                key_id: id.to_owned(),
            });
        }
        self.default_id = id.to_owned();
        Ok(self)
    }

    /// A KMS with a fresh random master key (tests, demos: nothing is saved anywhere).
    ///
    /// # Errors
    /// [`Error::Random`] if the system random number generator fails.
    pub fn generate() -> Result<Self> {
        Ok(Self::new(wrap::random_key()?))
    }

    /// Parses a base64 master key (surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`MasterKeyError::Encoding`] or [`MasterKeyError::WrongLength`].
    pub fn from_base64(text: &str) -> Result<Self> {
        Ok(Self::new(parse_master_key(text, "the given text")?))
    }

    /// Reads the base64 master key from the environment variable `var`.
    ///
    /// # Errors
    /// [`MasterKeyError::MissingEnv`], [`MasterKeyError::Encoding`] or
    /// [`MasterKeyError::WrongLength`].
    pub fn from_env(var: &str) -> Result<Self> {
        let text = Zeroizing::new(std::env::var(var).map_err(|_| MasterKeyError::MissingEnv {
            var: var.to_owned(),
        })?);
        Ok(Self::new(parse_master_key(&text, var)?))
    }

    /// Reads the base64 master key from `path`.
    ///
    /// On Unix the file must not be readable or writable by group or others (mode `0600` or
    /// stricter, like ssh's private keys): a key file anyone on the machine can read is refused,
    /// not merely warned about, because a warning in a log is easy to miss and the key protects
    /// every org.
    ///
    /// # Errors
    /// [`MasterKeyError::Io`], [`MasterKeyError::LaxPermissions`], [`MasterKeyError::Encoding`]
    /// or [`MasterKeyError::WrongLength`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io_error = |source| MasterKeyError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_error)?;
        // Checked on the open handle, so the file inspected is the file read.
        check_permissions(path, &file.metadata().map_err(io_error)?)?;
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_KEY_FILE_LEN)
            .read_to_string(&mut text)
            .map_err(io_error)?;
        Ok(Self::new(parse_master_key(
            &text,
            &path.display().to_string(),
        )?))
    }

    /// Loads the master key the conventional way: from the file named by
    /// [`MASTER_KEY_FILE_ENV`] if that is set, otherwise from [`MASTER_KEY_ENV`].
    ///
    /// # Errors
    /// As [`LocalKms::from_file`] or [`LocalKms::from_env`].
    pub fn from_default_env() -> Result<Self> {
        match std::env::var_os(MASTER_KEY_FILE_ENV) {
            Some(path) if !path.is_empty() => Self::from_file(path),
            _ => Self::from_env(MASTER_KEY_ENV),
        }
    }

    /// The ids of the master keys held, sorted.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    fn master(&self, key_id: &str) -> Result<&DataKey> {
        self.keys.get(key_id).ok_or_else(|| Error::KmsKeyNotFound {
            key_id: key_id.to_owned(),
        })
    }

    fn seal(&self, key_id: &str, key: &DataKey, context: &EncryptionContext) -> Result<WrappedKey> {
        let master = self.master(key_id)?;
        let header = header(key_id);
        let sealed = wrap::seal_key(master, &aad(&header, context), key)?;
        let mut out = header;
        out.extend_from_slice(&sealed);
        WrappedKey::from_bytes(out)
    }
}

/// `CFLK || version || id length || id`.
fn header(key_id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + key_id.len() + SEALED_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    // Ids are validated to at most 128 bytes when a key is added; a longer one is never found.
    out.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(key_id.as_bytes());
    out
}

fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + header.len() + 128);
    aad.extend_from_slice(AAD_LABEL);
    aad.extend_from_slice(header);
    context.write_canonical(&mut aad);
    aad
}

/// Splits a `CFLK` wrapped key into (key id, header, sealed part).
pub(crate) fn parse_wrapped(bytes: &[u8]) -> Result<(&str, &[u8], &[u8])> {
    let malformed = |reason| Error::Malformed {
        what: "local KMS wrapped key",
        reason,
    };
    if bytes.len() < 6 || bytes[..4] != MAGIC {
        return Err(malformed("the magic bytes CFLK are missing"));
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(malformed("unsupported format version"));
    }
    let id_len = usize::from(bytes[5]);
    let header_len = 6 + id_len;
    if id_len == 0 || bytes.len() != header_len + SEALED_LEN {
        return Err(malformed("the key id or sealed key has the wrong length"));
    }
    let id = std::str::from_utf8(&bytes[6..header_len])
        .map_err(|_| malformed("the key id is not UTF-8"))?;
    Ok((id, &bytes[..header_len], &bytes[header_len..]))
}

#[async_trait]
impl Kms for LocalKms {
    fn provider(&self) -> &'static str {
        "local"
    }

    fn default_key_id(&self) -> &str {
        &self.default_id
    }

    async fn generate_data_key(
        &self,
        key_id: &str,
        context: &EncryptionContext,
    ) -> Result<GeneratedKey> {
        let plaintext = wrap::random_key()?;
        let wrapped = self.seal(key_id, &plaintext, context)?;
        Ok(GeneratedKey { plaintext, wrapped })
    }

    async fn wrap(
        &self,
        key_id: &str,
        key: &DataKey,
        context: &EncryptionContext,
    ) -> Result<WrappedKey> {
        self.seal(key_id, key, context)
    }

    async fn unwrap(
        &self,
        key_id: &str,
        wrapped: &WrappedKey,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let master = self.master(key_id)?;
        let (wrapped_id, header, sealed) = parse_wrapped(wrapped.as_bytes())?;
        // Another master key's ciphertext: the same opaque failure AWS KMS reports for it.
        if wrapped_id != key_id {
            return Err(Error::Unwrap);
        }
        wrap::open_key(master, &aad(header, context), sealed)
    }
}

impl fmt::Debug for LocalKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKms")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("default", &self.default_id)
            .finish_non_exhaustive()
    }
}

fn validate_id(id: &str) -> Result<(), MasterKeyError> {
    let valid = |c: char| c.is_ascii_alphanumeric() || "._:/-".contains(c);
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(valid) {
        return Err(MasterKeyError::InvalidId(id.to_owned()));
    }
    Ok(())
}

/// Decodes a base64 master key; the decoded bytes never outlive this call unwiped.
fn parse_master_key(text: &str, source_name: &str) -> Result<DataKey, MasterKeyError> {
    let bytes = Zeroizing::new(BASE64.decode(text.trim().as_bytes()).map_err(|_| {
        MasterKeyError::Encoding {
            source_name: source_name.to_owned(),
        }
    })?);
    if bytes.len() != KEY_LEN {
        return Err(MasterKeyError::WrongLength {
            source_name: source_name.to_owned(),
            len: bytes.len(),
        });
    }
    DataKey::from_slice(&bytes).map_err(|_| MasterKeyError::WrongLength {
        source_name: source_name.to_owned(),
        len: bytes.len(),
    })
}

#[cfg(unix)]
fn check_permissions(path: &Path, metadata: &std::fs::Metadata) -> Result<(), MasterKeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(MasterKeyError::LaxPermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), MasterKeyError> {
    // Windows ACLs do not reduce to mode bits; protecting the file is left to its ACL.
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use secrecy::ExposeSecret;

    use super::*;

    const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn parses_openssl_output_with_newline() {
        let kms = LocalKms::from_base64(&format!("{KEY_B64}\n")).unwrap();
        let master = kms.master(DEFAULT_LOCAL_KEY_ID).unwrap();
        let expected: Vec<u8> = (0..32).collect();
        assert_eq!(master.expose_secret().as_slice(), expected.as_slice());
    }

    #[test]
    fn wrong_length_and_encoding_are_explained() {
        let short = BASE64.encode([7_u8; 16]);
        let err = LocalKms::from_base64(&short).unwrap_err();
        assert!(matches!(
            err,
            Error::MasterKey(MasterKeyError::WrongLength { len: 16, .. })
        ));
        assert!(err.to_string().contains("openssl rand -base64 32"), "{err}");

        let err = LocalKms::from_base64("not base64 at all!").unwrap_err();
        assert!(matches!(
            err,
            Error::MasterKey(MasterKeyError::Encoding { .. })
        ));
        assert!(err.to_string().contains("openssl rand -base64 32"), "{err}");
    }

    #[test]
    fn missing_variable_is_named() {
        let err = LocalKms::from_env("COFFER_TEST_SURELY_UNSET_MASTER_KEY_VAR").unwrap_err();
        assert!(matches!(
            err,
            Error::MasterKey(MasterKeyError::MissingEnv { .. })
        ));
        assert!(
            err.to_string()
                .contains("COFFER_TEST_SURELY_UNSET_MASTER_KEY_VAR")
        );
    }

    #[cfg(unix)]
    #[test]
    fn key_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "{KEY_B64}").unwrap();

        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalKms::from_file(file.path()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::MasterKey(MasterKeyError::LaxPermissions { mode: 0o644, .. })
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("chmod 600"), "{err}");

        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let kms = LocalKms::from_file(file.path()).unwrap();
        assert_eq!(kms.default_key_id(), DEFAULT_LOCAL_KEY_ID);

        let err = LocalKms::from_file(file.path().with_extension("missing")).unwrap_err();
        assert!(matches!(err, Error::MasterKey(MasterKeyError::Io { .. })));
    }

    #[test]
    fn ids_are_validated() {
        let key = || wrap::random_key().unwrap();
        assert!(LocalKms::with_id("alias/coffer-2025", key()).is_ok());
        for bad in ["", "has space", &"x".repeat(129)] {
            assert!(matches!(
                LocalKms::with_id(bad, key()),
                Err(Error::MasterKey(MasterKeyError::InvalidId(_)))
            ));
        }
        let kms = LocalKms::new(key()).add_key("next", key()).unwrap();
        assert_eq!(kms.key_ids().collect::<Vec<_>>(), ["local", "next"]);
        assert!(matches!(
            kms.set_default("nope"),
            Err(Error::KmsKeyNotFound { .. })
        ));
    }

    /// The vector in `docs/format/keyring.md`, computed independently (Python `cryptography`).
    #[tokio::test]
    async fn local_kms_test_vector() {
        let kms = LocalKms::new(DataKey::from_slice(&(0..32).collect::<Vec<u8>>()).unwrap());
        let ctx = EncryptionContext::new()
            .with("coffer:purpose", "org-kek")
            .with("coffer:org", "00D000000000001")
            .with("coffer:kek-version", "1");
        let wrapped = WrappedKey::from_bytes(crate::wrap::tests::unhex(
            "43464c4b01056c6f63616c404142434445464748494a4bc2988c000219a124e5ed3d1db7493d7449\
             f7606f830039144f7e74deab2ed3e45e1bef92f9d4fceaf6c4e56b5b01d2fb",
        ))
        .unwrap();
        let key = kms.unwrap("local", &wrapped, &ctx).await.unwrap();
        assert_eq!(
            key.expose_secret().as_slice(),
            (32..64).collect::<Vec<u8>>().as_slice()
        );
        let other = ctx.clone().with("coffer:kek-version", "2");
        assert!(matches!(
            kms.unwrap("local", &wrapped, &other).await,
            Err(Error::Unwrap)
        ));
    }

    #[test]
    fn wrapped_layout_is_parsed_strictly() {
        let kms = LocalKms::generate().unwrap();
        let ctx = EncryptionContext::new().with("k", "v");
        let key = wrap::random_key().unwrap();
        let wrapped = kms.seal("local", &key, &ctx).unwrap();
        let (id, header, sealed) = parse_wrapped(wrapped.as_bytes()).unwrap();
        assert_eq!(id, "local");
        assert_eq!(header.len(), 6 + 5);
        assert_eq!(sealed.len(), SEALED_LEN);
        assert!(parse_wrapped(&wrapped.as_bytes()[1..]).is_err());
        let mut longer = wrapped.as_bytes().to_vec();
        longer.push(0);
        assert!(parse_wrapped(&longer).is_err());
    }
}
