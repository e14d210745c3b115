//! Loading a log, its checkpoints and payloads from disk for the offline verifier
//! (`coffer audit verify`). Blocking `std::fs` I/O; the checks themselves are in
//! [`crate::verify`], which does none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::Error;
use crate::checkpoint::{NoteVerifier, SignedNote};
use crate::checkpoint_store::parse_checkpoint_file_name;
use crate::pii::parse_payload_file_name;
use crate::sink::read_log_dir;
use crate::verify::{Options, Report, verify_log};

/// What to verify.
#[derive(Debug, Clone)]
pub struct VerifyPaths {
    /// A log directory (segments `<seq>.log`) or a single log file.
    pub log: PathBuf,
    /// A checkpoint directory (`<size>.checkpoint` files); `None` means no checkpoints.
    pub checkpoints: Option<PathBuf>,
    /// The trusted key: a verifier-key text, a raw base64 Ed25519 public key, or a file
    /// holding either.
    pub public_key: String,
    /// A payload directory (`<seq>.payload` files), to check personal data and erasures.
    pub payloads: Option<PathBuf>,
    /// Verifier options.
    pub options: Options,
}

/// Reads the log at `path` (directory of segments or single file).
pub fn read_log(path: &Path) -> Result<Vec<u8>, Error> {
    if path.is_dir() {
        read_log_dir(path)
    } else {
        std::fs::read(path).map_err(|e| Error::io("read log file", e))
    }
}

/// Reads every `<size>.checkpoint` in `dir`, ascending by size.
pub fn read_checkpoint_dir(dir: &Path) -> Result<Vec<Vec<u8>>, Error> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("list checkpoints", e))? {
        let entry = entry.map_err(|e| Error::io("list checkpoints", e))?;
        if let Some(size) = entry
            .file_name()
            .to_str()
            .and_then(parse_checkpoint_file_name)
        {
            found.push((size, entry.path()));
        }
    }
    found.sort_unstable();
    found
        .into_iter()
        .map(|(_, p)| std::fs::read(p).map_err(|e| Error::io("read checkpoint", e)))
        .collect()
}

/// Reads every `<seq>.payload` in `dir`.
pub fn read_payload_dir(dir: &Path) -> Result<BTreeMap<u64, Vec<u8>>, Error> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("list payloads", e))? {
        let entry = entry.map_err(|e| Error::io("list payloads", e))?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_payload_file_name) {
            let bytes = std::fs::read(entry.path()).map_err(|e| Error::io("read payload", e))?;
            out.insert(seq, bytes);
        }
    }
    Ok(out)
}

/// Parses the trusted key. A verifier-key text (`name+keyid+base64`) names itself; a raw
/// base64 public key takes its name from `origin`, the origin line of the checkpoints.
pub fn parse_public_key(text: &str, origin: Option<&str>) -> Result<NoteVerifier, Error> {
    let text = text.trim();
    if text.split('+').count() >= 3
        && let Ok(v) = NoteVerifier::from_vkey(text)
    {
        return Ok(v);
    }
    let raw = B64
        .decode(text)
        .map_err(|_| Error::BadKey("neither a verifier key nor base64".into()))?;
    let key: [u8; 32] = raw
        .try_into()
        .map_err(|_| Error::BadKey("an Ed25519 public key is 32 bytes".into()))?;
    let origin = origin.ok_or_else(|| {
        Error::BadKey("a raw public key needs checkpoints to learn the log's name".into())
    })?;
    Ok(NoteVerifier::new(origin, &key)?)
}

/// The origin line of the first checkpoint (unverified; used only to name a raw key).
fn origin_of(notes: &[Vec<u8>]) -> Option<String> {
    let note = SignedNote::parse(notes.first()?).ok()?;
    note.text.split('\n').next().map(str::to_owned)
}

/// Loads everything named by `paths` and verifies it.
pub fn verify_paths(paths: &VerifyPaths) -> Result<Report, Error> {
    let log = read_log(&paths.log)?;
    let notes = match &paths.checkpoints {
        Some(dir) => read_checkpoint_dir(dir)?,
        None => Vec::new(),
    };
    let key_text = match std::fs::read_to_string(&paths.public_key) {
        Ok(text) => text,
        Err(_) => paths.public_key.clone(),
    };
    let verifier = parse_public_key(&key_text, origin_of(&notes).as_deref())?;
    let payloads = match &paths.payloads {
        Some(dir) => Some(read_payload_dir(dir)?),
        None => None,
    };
    Ok(verify_log(
        &log,
        &notes,
        &verifier,
        payloads
            .as_ref()
            .map(|p| p as &dyn crate::verify::PayloadSource),
        paths.options,
    ))
}
