//! Writes a generated org to a directory other tools can read, and reads the records back.
//!
//! Layout (the contract for comparing Coffer with other backup tools on identical data):
//!
//! ```text
//! DIR/records/<Object>.jsonl   one record per line, REST shape (attributes first), Id order
//! DIR/blobs/<Id>               file body of each ContentVersion (VersionData) and Attachment (Body)
//! ```

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::generate::{ObjectRecords, Org};
use crate::record::Record;
use crate::schema::OBJECTS;

/// What [`write_dir`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// Records written over all `records/*.jsonl` files.
    pub records: usize,
    /// Bytes of JSONL written.
    pub record_bytes: u64,
    /// Files written under `blobs/`.
    pub blobs: usize,
    /// Bytes of file bodies written.
    pub blob_bytes: u64,
}

/// Writes `org` under `dir` (created if missing) in the layout above.
///
/// # Errors
/// [`Error::OutputNotEmpty`] when `dir/records` or `dir/blobs` already holds files (stale
/// files from another seed would silently mix two orgs); [`Error::Io`] on any write failure.
pub fn write_dir(org: &Org, dir: &Path) -> Result<ExportSummary, Error> {
    let records_dir = dir.join("records");
    let blobs_dir = dir.join("blobs");
    for sub in [&records_dir, &blobs_dir] {
        if sub.exists() && fs::read_dir(sub).map_err(io(sub))?.next().is_some() {
            return Err(Error::OutputNotEmpty { path: sub.clone() });
        }
        fs::create_dir_all(sub).map_err(io(sub))?;
    }
    let mut summary = ExportSummary::default();
    for object in org.objects() {
        let path = records_dir.join(format!("{}.jsonl", object.name));
        let file = File::create(&path).map_err(io(&path))?;
        let mut out = BufWriter::new(file);
        for record in &object.records {
            let line = record.to_json();
            out.write_all(line.as_bytes()).map_err(io(&path))?;
            out.write_all(b"\n").map_err(io(&path))?;
            summary.record_bytes += line.len() as u64 + 1;
            summary.records += 1;
        }
        out.flush().map_err(io(&path))?;
    }
    for id in org.blob_ids() {
        let path = blobs_dir.join(id.as_str());
        let body = org.blob_body(id).unwrap_or_default();
        fs::write(&path, &body).map_err(io(&path))?;
        summary.blobs += 1;
        summary.blob_bytes += body.len() as u64;
    }
    Ok(summary)
}

/// Reads every `dir/records/*.jsonl` back: known object types in [`OBJECTS`] order, then any
/// other files in name order.
///
/// # Errors
/// [`Error::Io`] when a file cannot be read, [`Error::Json`] when a line is not a JSON object.
pub fn read_records(dir: &Path) -> Result<Vec<ObjectRecords>, Error> {
    let records_dir = dir.join("records");
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(&records_dir).map_err(io(&records_dir))? {
        let entry = entry.map_err(io(&records_dir))?;
        let file_name = entry.file_name();
        if let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".jsonl")) {
            names.push(name.to_owned());
        }
    }
    let rank = |name: &str| {
        OBJECTS
            .iter()
            .position(|o| o.name == name)
            .unwrap_or(OBJECTS.len())
    };
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    names
        .into_iter()
        .map(|name| {
            let path = records_dir.join(format!("{name}.jsonl"));
            let reader = BufReader::new(File::open(&path).map_err(io(&path))?);
            let mut records = Vec::new();
            for (index, line) in reader.lines().enumerate() {
                let line = line.map_err(io(&path))?;
                let record: Record = serde_json::from_str(&line).map_err(|source| Error::Json {
                    path: path.clone(),
                    line: index + 1,
                    source,
                })?;
                records.push(record);
            }
            Ok(ObjectRecords { name, records })
        })
        .collect()
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: PathBuf::from(path),
        source,
    }
}
