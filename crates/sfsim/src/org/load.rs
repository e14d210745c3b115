//! `serve --data DIR`: an org loaded from the export layout (`DIR/records/<Object>.jsonl`,
//! `DIR/blobs/<Id>`), whatever objects and fields it holds.

use std::path::Path;

use super::model::{BlobSource, Store};
use crate::export;

/// Reads the records of `dir` and builds the store; bodies stay on disk until requested.
pub(crate) fn load_dir(dir: &Path) -> Result<Store, crate::Error> {
    let objects = export::read_records(dir)?;
    for object in &objects {
        for (index, record) in object.records.iter().enumerate() {
            if record.id().is_none() {
                return Err(crate::Error::InvalidRecord {
                    path: dir.join("records").join(format!("{}.jsonl", object.name)),
                    line: index + 1,
                    reason: "no valid 15- or 18-character Id",
                });
            }
        }
    }
    Ok(Store::build(objects, BlobSource::Dir(dir.join("blobs"))))
}
