//! The live org's storage: typed cells per field, rows in Id order, an Id index, object and
//! field metadata, the simulated clock and the Id allocator.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Number, Value};

use super::ApiError;
use crate::generate::GeneratedBlobs;
use crate::ids::{SfId, checksum_suffix};
use crate::time::{self, MILLIS};
use crate::{ObjectRecords, Org};

/// Field data types, as describe names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Id,
    Reference,
    String,
    Textarea,
    Picklist,
    Phone,
    Url,
    Email,
    Boolean,
    Int,
    Double,
    Currency,
    Percent,
    Date,
    DateTime,
    Base64,
    Address,
}

impl FieldType {
    /// The `type` value of describe.
    pub(crate) fn api_name(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::Reference => "reference",
            FieldType::String => "string",
            FieldType::Textarea => "textarea",
            FieldType::Picklist => "picklist",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Email => "email",
            FieldType::Boolean => "boolean",
            FieldType::Int => "int",
            FieldType::Double => "double",
            FieldType::Currency => "currency",
            FieldType::Percent => "percent",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Base64 => "base64",
            FieldType::Address => "address",
        }
    }

    /// The `soapType` value of describe.
    pub(crate) fn soap_type(self) -> &'static str {
        match self {
            FieldType::Id | FieldType::Reference => "tns:ID",
            FieldType::Boolean => "xsd:boolean",
            FieldType::Int => "xsd:int",
            FieldType::Double | FieldType::Currency | FieldType::Percent => "xsd:double",
            FieldType::Date => "xsd:date",
            FieldType::DateTime => "xsd:dateTime",
            FieldType::Base64 => "xsd:base64Binary",
            FieldType::Address => "urn:address",
            _ => "xsd:string",
        }
    }

    /// Text-like types (string cells compared case-insensitively).
    pub(crate) fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::String
                | FieldType::Textarea
                | FieldType::Picklist
                | FieldType::Phone
                | FieldType::Url
                | FieldType::Email
                | FieldType::Base64
        )
    }

    /// Id-valued types.
    pub(crate) fn is_id(self) -> bool {
        matches!(self, FieldType::Id | FieldType::Reference)
    }
}

/// One stored value. Datetimes and dates are numbers so that filters and sorts compare
/// integers, not strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Bool(bool),
    Num(Number),
    Str(Box<str>),
    /// Days since 1970-01-01.
    Date(i64),
    /// Epoch milliseconds, UTC.
    DateTime(i64),
    /// A compound value (address) kept as JSON.
    Json(Box<Value>),
}

/// A shared null for lookups that find nothing.
pub(crate) static NULL: Cell = Cell::Null;

impl Cell {
    /// The cell for JSON `value` stored in a field of type `ty`. Values that do not fit the type
    /// are kept as they came (strings stay strings), so loading never loses data.
    pub(crate) fn from_json(value: &Value, ty: FieldType) -> Cell {
        match value {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(*b),
            Value::Number(n) => Cell::Num(n.clone()),
            Value::String(s) => match ty {
                FieldType::DateTime => time::parse_datetime(s)
                    .map_or_else(|| Cell::Str(s.as_str().into()), Cell::DateTime),
                FieldType::Date => {
                    time::parse_date(s).map_or_else(|| Cell::Str(s.as_str().into()), Cell::Date)
                }
                _ => Cell::Str(s.as_str().into()),
            },
            Value::Array(_) | Value::Object(_) => Cell::Json(Box::new(value.clone())),
        }
    }

    /// The REST JSON value.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Num(n) => Value::Number(n.clone()),
            Cell::Str(s) => Value::String(s.to_string()),
            Cell::Date(d) => Value::String(time::date_days(*d)),
            Cell::DateTime(ms) => Value::String(time::datetime_millis(*ms)),
            Cell::Json(v) => (**v).clone(),
        }
    }

    /// Appends the Bulk CSV text (nulls are empty, datetimes end in `Z`).
    pub(crate) fn write_bulk(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Cell::Null => {}
            Cell::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            // Writing to a String cannot fail.
            Cell::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Cell::Str(s) => out.push_str(s),
            Cell::Date(d) => out.push_str(&time::date_days(*d)),
            Cell::DateTime(ms) => time::write_datetime_millis(out, *ms, "Z"),
            Cell::Json(v) => {
                let _ = write!(out, "{v}");
            }
        }
    }

    /// The string content, for string cells.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Cell::Null)
    }
}

/// How a reference field ties a child to its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    Lookup,
    MasterDetail,
}

/// One field's metadata.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) ty: FieldType,
    pub(crate) reference_to: Vec<String>,
    pub(crate) relationship_name: Option<String>,
    pub(crate) ref_kind: Option<RefKind>,
    pub(crate) createable: bool,
    pub(crate) updateable: bool,
    pub(crate) nillable: bool,
    pub(crate) defaulted_on_create: bool,
    pub(crate) unique: bool,
    pub(crate) external_id: bool,
    pub(crate) id_lookup: bool,
    pub(crate) auto_number: bool,
    pub(crate) calculated: bool,
    pub(crate) name_field: bool,
    pub(crate) custom: bool,
    pub(crate) compound_field_name: Option<String>,
    pub(crate) length: u32,
    pub(crate) precision: u32,
    pub(crate) scale: u32,
    pub(crate) digits: u32,
    pub(crate) picklist_values: Vec<String>,
}

impl FieldDef {
    /// A required field of a create: not nillable, createable, and with no default.
    pub(crate) fn required_on_create(&self) -> bool {
        !self.nillable && self.createable && !self.defaulted_on_create
    }
}

/// One object's metadata.
#[derive(Debug, Clone)]
pub(crate) struct ObjectDef {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) label_plural: String,
    pub(crate) key_prefix: Option<String>,
    pub(crate) custom: bool,
    pub(crate) createable: bool,
    pub(crate) updateable: bool,
    pub(crate) deletable: bool,
    pub(crate) replicateable: bool,
    /// Whether Bulk API 2.0 serves queries of this object (Attachment: no).
    pub(crate) bulk_queryable: bool,
    pub(crate) fields: Vec<FieldDef>,
    /// Lowercased field name to position.
    pub(crate) field_index: HashMap<String, usize>,
    /// Lowercased relationship name to the position of its reference field.
    pub(crate) relationship_index: HashMap<String, usize>,
}

impl ObjectDef {
    /// Position of field `name` (case-insensitive).
    pub(crate) fn field(&self, name: &str) -> Option<usize> {
        self.field_index.get(&name.to_ascii_lowercase()).copied()
    }

    /// Position of the reference field whose relationship is `name` (case-insensitive).
    pub(crate) fn relationship(&self, name: &str) -> Option<usize> {
        self.relationship_index
            .get(&name.to_ascii_lowercase())
            .copied()
    }

    /// Rebuilds the name indexes after `fields` changed.
    pub(crate) fn reindex(&mut self) {
        self.field_index = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
            .collect();
        self.relationship_index = self
            .fields
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.relationship_name
                    .as_ref()
                    .map(|r| (r.to_ascii_lowercase(), i))
            })
            .collect();
    }
}

/// One record.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: SfId,
    /// One cell per field of the object, in field order.
    pub(crate) cells: Vec<Cell>,
    /// When the record went to the Recycle Bin (epoch ms); None while live.
    pub(crate) deleted_at: Option<i64>,
}

/// One object: metadata and records in Id order.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) def: ObjectDef,
    pub(crate) rows: Vec<Row>,
    /// Field positions used on every write and replication call.
    pub(crate) audit: AuditColumns,
}

/// Positions of the system fields an object may carry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AuditColumns {
    pub(crate) is_deleted: Option<usize>,
    pub(crate) created_date: Option<usize>,
    pub(crate) created_by: Option<usize>,
    pub(crate) last_modified_date: Option<usize>,
    pub(crate) last_modified_by: Option<usize>,
    pub(crate) system_modstamp: Option<usize>,
    pub(crate) owner: Option<usize>,
}

impl AuditColumns {
    pub(crate) fn of(def: &ObjectDef) -> Self {
        Self {
            is_deleted: def.field("IsDeleted"),
            created_date: def.field("CreatedDate"),
            created_by: def.field("CreatedById"),
            last_modified_date: def.field("LastModifiedDate"),
            last_modified_by: def.field("LastModifiedById"),
            system_modstamp: def.field("SystemModstamp"),
            owner: def.field("OwnerId"),
        }
    }
}

impl Table {
    /// A table of `def` and `rows`.
    pub(crate) fn new(def: ObjectDef, rows: Vec<Row>) -> Self {
        let audit = AuditColumns::of(&def);
        Self { def, rows, audit }
    }

    /// The SystemModstamp of row `row` (epoch ms), when the object has one.
    pub(crate) fn modstamp(&self, row: usize) -> Option<i64> {
        let col = self.audit.system_modstamp?;
        match self.rows.get(row)?.cells.get(col)? {
            Cell::DateTime(ms) => Some(*ms),
            _ => None,
        }
    }
}

/// Where blob bodies come from.
#[derive(Debug)]
pub(crate) enum BlobSource {
    /// Produced on demand from the generator's specs.
    Generated(GeneratedBlobs),
    /// Read from `DIR/blobs/<Id>` when requested.
    Dir(PathBuf),
}

/// Everything the live org holds.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) tables: Vec<Table>,
    /// Lowercased object name to table position.
    pub(crate) by_name: HashMap<String, usize>,
    /// Key prefix to table position.
    pub(crate) by_prefix: HashMap<String, usize>,
    /// Every record's (table, row).
    pub(crate) index: HashMap<SfId, (usize, usize)>,
    /// The last stamp given out (epoch ms).
    pub(crate) last_stamp: i64,
    /// The largest 15-character Id per key prefix, for allocating new Ids above it.
    pub(crate) max_id: HashMap<String, [u8; 15]>,
    /// The 3-character instance part for prefixes with no record yet.
    pub(crate) instance: [u8; 3],
    /// The user the API runs as (audit fields and owner of created records).
    pub(crate) run_as: Option<SfId>,
    pub(crate) blobs: BlobSource,
    /// Bodies written through the API (base64 `Body`/`VersionData` on create or update).
    pub(crate) written_blobs: HashMap<SfId, bytes::Bytes>,
    /// When the Recycle Bin was last emptied (epoch ms): `/deleted` cannot look before it.
    pub(crate) recycle_emptied_at: Option<i64>,
}

/// The wall clock in epoch milliseconds.
pub(crate) fn wall_clock_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Base-62 digits in Salesforce order; ASCII order equals numeric order.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The record number part (characters 6..15) plus one, or None when it would overflow.
fn increment_id(id15: &[u8; 15]) -> Option<[u8; 15]> {
    let mut next = *id15;
    for pos in (6..15).rev() {
        let digit = BASE62.iter().position(|&c| c == next[pos])?;
        if digit + 1 < BASE62.len() {
            next[pos] = BASE62[digit + 1];
            return Some(next);
        }
        next[pos] = b'0';
    }
    None
}

impl Store {
    /// The store of a generated org.
    pub(crate) fn from_generated(org: Org) -> Self {
        let (objects, blobs) = org.into_parts();
        Self::build(objects, BlobSource::Generated(blobs))
    }

    /// Builds tables, describes and indexes from records.
    pub(crate) fn build(objects: Vec<ObjectRecords>, blobs: BlobSource) -> Self {
        let tables = super::describe::build_tables(objects);
        let mut store = Self {
            tables,
            by_name: HashMap::new(),
            by_prefix: HashMap::new(),
            index: HashMap::new(),
            last_stamp: 0,
            max_id: HashMap::new(),
            instance: *b"000",
            run_as: None,
            blobs,
            written_blobs: HashMap::new(),
            recycle_emptied_at: None,
        };
        store.reindex();
        store
    }

    /// Rebuilds every index and the clock floor from the tables.
    pub(crate) fn reindex(&mut self) {
        self.by_name.clear();
        self.by_prefix.clear();
        self.index.clear();
        let mut instance = None;
        for (t, table) in self.tables.iter().enumerate() {
            self.by_name.insert(table.def.name.to_ascii_lowercase(), t);
            if let Some(prefix) = &table.def.key_prefix {
                self.by_prefix.insert(prefix.clone(), t);
            }
            for (r, row) in table.rows.iter().enumerate() {
                self.index.insert(row.id, (t, r));
                let mut id15 = [0u8; 15];
                id15.copy_from_slice(&row.id.as_str().as_bytes()[..15]);
                instance.get_or_insert([id15[3], id15[4], id15[5]]);
                let entry = self
                    .max_id
                    .entry(row.id.key_prefix().to_owned())
                    .or_insert(id15);
                if id15 > *entry {
                    *entry = id15;
                }
                if let Some(ms) = table.modstamp(r) {
                    self.last_stamp = self.last_stamp.max(ms);
                }
            }
        }
        if let Some(instance) = instance {
            self.instance = instance;
        }
        self.run_as = self
            .table("User")
            .and_then(|t| self.tables[t].rows.first())
            .map(|row| row.id);
    }

    /// Rebuilds the Id index of table `t` (after rows were removed).
    pub(crate) fn reindex_table(&mut self, t: usize) {
        for (r, row) in self.tables[t].rows.iter().enumerate() {
            self.index.insert(row.id, (t, r));
        }
    }

    /// Table position of object `name` (case-insensitive).
    pub(crate) fn table(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name.to_ascii_lowercase()).copied()
    }

    /// Table position of `name`, or the REST 404 Salesforce gives for an unknown object.
    pub(crate) fn table_or_404(&self, name: &str) -> Result<usize, ApiError> {
        self.table(name)
            .ok_or_else(|| ApiError::new(404, "NOT_FOUND", "The requested resource does not exist"))
    }

    /// Simulated now: the later of the wall clock and the last stamp given out.
    pub(crate) fn now_millis(&self) -> i64 {
        wall_clock_millis().max(self.last_stamp)
    }

    /// A stamp for a write now: whole seconds (the API shows `.000`, so filters on a shown
    /// value must match it), never before the last stamp given out.
    pub(crate) fn next_stamp(&mut self) -> i64 {
        let wall = wall_clock_millis().div_euclid(MILLIS) * MILLIS;
        let stamp = wall.max(self.last_stamp);
        self.last_stamp = stamp;
        stamp
    }

    /// Records the use of `stamp` (for callers choosing their own, later stamps).
    pub(crate) fn advance_clock(&mut self, stamp: i64) {
        self.last_stamp = self.last_stamp.max(stamp);
    }

    /// A new, unused Id for table `t`.
    pub(crate) fn allocate_id(&mut self, t: usize) -> Result<SfId, ApiError> {
        let prefix = self.tables[t].def.key_prefix.clone().ok_or_else(|| {
            ApiError::new(
                400,
                "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                format!(
                    "entity type {} does not support insert",
                    self.tables[t].def.name
                ),
            )
        })?;
        let current = match self.max_id.get(&prefix) {
            Some(id) => *id,
            None => {
                let mut id = [b'0'; 15];
                id[..3].copy_from_slice(prefix.as_bytes().get(..3).unwrap_or(b"000"));
                id[3..6].copy_from_slice(&self.instance);
                id
            }
        };
        let next = increment_id(&current).ok_or_else(|| {
            ApiError::new(400, "STORAGE_LIMIT_EXCEEDED", "storage limit exceeded")
        })?;
        self.max_id.insert(prefix, next);
        let mut full = [0u8; 18];
        full[..15].copy_from_slice(&next);
        full[15..].copy_from_slice(&checksum_suffix(&next));
        std::str::from_utf8(&full)
            .ok()
            .and_then(|s| s.parse::<SfId>().ok())
            .ok_or_else(|| ApiError::new(500, "UNKNOWN_EXCEPTION", "could not allocate an Id"))
    }

    /// Non-deleted records per object.
    pub(crate) fn live_counts(&self) -> BTreeMap<String, u64> {
        self.tables
            .iter()
            .map(|t| {
                let live = t.rows.iter().filter(|r| r.deleted_at.is_none()).count();
                (t.def.name.clone(), live as u64)
            })
            .collect()
    }

    /// Purges every soft-deleted record.
    pub(crate) fn empty_recycle_bin(&mut self) -> usize {
        let mut purged = 0;
        for t in 0..self.tables.len() {
            let before = self.tables[t].rows.len();
            let removed: Vec<SfId> = self.tables[t]
                .rows
                .iter()
                .filter(|r| r.deleted_at.is_some())
                .map(|r| r.id)
                .collect();
            if removed.is_empty() {
                continue;
            }
            self.tables[t].rows.retain(|r| r.deleted_at.is_none());
            for id in &removed {
                self.index.remove(id);
                self.written_blobs.remove(id);
            }
            purged += before - self.tables[t].rows.len();
            self.reindex_table(t);
        }
        self.recycle_emptied_at = Some(self.now_millis());
        purged
    }

    /// The body of a blob field and its content type.
    pub(crate) fn blob(
        &self,
        object: &str,
        id: &str,
        field: &str,
    ) -> Result<(bytes::Bytes, String), ApiError> {
        let not_found = || ApiError::new(404, "NOT_FOUND", "The requested resource does not exist");
        let t = self.table_or_404(object)?;
        let table = &self.tables[t];
        let f = table.def.field(field).ok_or_else(not_found)?;
        if table.def.fields[f].ty != FieldType::Base64 {
            return Err(not_found());
        }
        let sf_id: SfId = id.parse().map_err(|_| not_found())?;
        let &(rt, r) = self.index.get(&sf_id).ok_or_else(not_found)?;
        if rt != t || table.rows[r].deleted_at.is_some() {
            return Err(not_found());
        }
        let content_type = "application/octet-stream".to_owned();
        if let Some(body) = self.written_blobs.get(&sf_id) {
            return Ok((body.clone(), content_type));
        }
        let body = match &self.blobs {
            BlobSource::Generated(blobs) => {
                blobs.spec(&sf_id).ok_or_else(not_found)?;
                blobs.body(&sf_id).ok_or_else(not_found)?
            }
            BlobSource::Dir(dir) => {
                std::fs::read(dir.join(sf_id.as_str())).map_err(|_| not_found())?
            }
        };
        Ok((bytes::Bytes::from(body), content_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_increment_carries_in_base62_order() {
        let next = increment_id(b"001Dn000000000z").unwrap();
        assert_eq!(&next, b"001Dn0000000010");
        let next = increment_id(b"001Dn0000000009").unwrap();
        assert_eq!(&next, b"001Dn000000000A");
        assert!(increment_id(b"001Dn0zzzzzzzzz").is_none());
    }

    #[test]
    fn cells_round_trip_rest_json() {
        let dt = Value::from("2020-10-22T21:03:23.000+0000");
        let cell = Cell::from_json(&dt, FieldType::DateTime);
        assert_eq!(cell, Cell::DateTime(1_603_400_603_000));
        assert_eq!(cell.to_json(), dt);
        let mut bulk = String::new();
        cell.write_bulk(&mut bulk);
        assert_eq!(bulk, "2020-10-22T21:03:23.000Z");
        let amount = serde_json::json!(5000000.0);
        assert_eq!(
            Cell::from_json(&amount, FieldType::Currency).to_json(),
            amount
        );
        let odd = Value::from("not a date");
        assert_eq!(Cell::from_json(&odd, FieldType::Date).to_json(), odd);
    }
}
