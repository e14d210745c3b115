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
use crate::generate::{API_VERSION, ObjectRecords, Org};
use crate::ids::SfId;
use crate::org::model::{FieldType, Store};
use crate::record::Record;
use crate::schema::OBJECTS;

/// What [`write_dir`] (or a live org's export) wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
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
    let mut out = Layout::create(dir)?;
    for object in org.objects() {
        out.records(&object.name, object.records.iter().map(Record::to_json))?;
    }
    for id in org.blob_ids() {
        out.blob(id, &org.blob_body(id).unwrap_or_default())?;
    }
    Ok(out.summary)
}

/// Writes what a live org holds now (after mutations and writes) in the same layout: every
/// record, soft-deleted ones included (`IsDeleted` true, as `queryAll` returns them), with
/// `attributes` and then the object's fields in describe order, and the body of every file
/// record the org still has one for.
pub(crate) fn write_live(store: &Store, dir: &Path) -> Result<ExportSummary, Error> {
    let mut out = Layout::create(dir)?;
    for table in &store.tables {
        let name = &table.def.name;
        let lines = table.rows.iter().map(|row| {
            let mut record = Record::new();
            record.push(
                "attributes",
                serde_json::json!({
                    "type": name,
                    "url": format!("/services/data/{API_VERSION}/sobjects/{name}/{}", row.id),
                }),
            );
            for (field, cell) in table.def.fields.iter().zip(&row.cells) {
                record.push(field.name.clone(), cell.to_json());
            }
            record.to_json()
        });
        out.records(name, lines)?;
    }
    for table in &store.tables {
        if !table.def.fields.iter().any(|f| f.ty == FieldType::Base64) {
            continue;
        }
        for row in &table.rows {
            if let Some(body) = store.body(&row.id)? {
                out.blob(&row.id, &body)?;
            }
        }
    }
    Ok(out.summary)
}

/// The two directories of the layout being written, and what went into them.
struct Layout {
    records_dir: PathBuf,
    blobs_dir: PathBuf,
    summary: ExportSummary,
}

impl Layout {
    /// Creates `dir/records` and `dir/blobs`, refusing ones that already hold files.
    fn create(dir: &Path) -> Result<Self, Error> {
        let records_dir = dir.join("records");
        let blobs_dir = dir.join("blobs");
        for sub in [&records_dir, &blobs_dir] {
            if sub.exists() && fs::read_dir(sub).map_err(io(sub))?.next().is_some() {
                return Err(Error::OutputNotEmpty { path: sub.clone() });
            }
            fs::create_dir_all(sub).map_err(io(sub))?;
        }
        Ok(Self {
            records_dir,
            blobs_dir,
            summary: ExportSummary::default(),
        })
    }

    /// Writes `records/<object>.jsonl`, one line per item.
    fn records(&mut self, object: &str, lines: impl Iterator<Item = String>) -> Result<(), Error> {
        let path = self.records_dir.join(format!("{object}.jsonl"));
        let file = File::create(&path).map_err(io(&path))?;
        let mut out = BufWriter::new(file);
        for line in lines {
            out.write_all(line.as_bytes()).map_err(io(&path))?;
            out.write_all(b"\n").map_err(io(&path))?;
            self.summary.record_bytes += line.len() as u64 + 1;
            self.summary.records += 1;
        }
        out.flush().map_err(io(&path))
    }

    /// Writes `blobs/<id>`.
    fn blob(&mut self, id: &SfId, body: &[u8]) -> Result<(), Error> {
        let path = self.blobs_dir.join(id.as_str());
        fs::write(&path, body).map_err(io(&path))?;
        self.summary.blobs += 1;
        self.summary.blob_bytes += body.len() as u64;
        Ok(())
    }
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
