//! The live org's storage: typed cells per field, rows in Id order (their cells in one
//! row-major vector per table, their texts packed into shared buffers, so scans read memory
//! sequentially), an Id index, object and field metadata, the simulated clock and the Id
//! allocator.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Number, Value};

use super::ApiError;
use super::csv::quoting_class;
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

/// The text of a string cell: a span of an immutable buffer shared by many cells.
///
/// When a table is built its texts are packed into a few large buffers in row order (see
/// [`Table::new`]), so a scan over the rows, as Bulk serving does, reads text memory
/// sequentially instead of following one heap pointer per cell to a random address (that
/// chase, a cache miss per cell, was half the cost of preparing a Bulk result). A text
/// written later gets a buffer of its own; a buffer is freed with the last cell pointing into
/// it, so an org's text never takes more than what was packed plus what was written since.
///
/// A text also keeps its CSV quoting class (the bytes in it that force quotes, see
/// [`quoting_class`]): texts never change, so it is worked out once when the text is stored
/// rather than by every Bulk query.
#[derive(Clone)]
pub(crate) struct Text {
    buf: Arc<Box<str>>,
    /// Byte offset of the span in `buf`.
    start: u32,
    /// The span's byte length (bits 8..32) and quoting class (bits 0..8), or [`WHOLE`] for all
    /// of `buf` with its class worked out on demand (a text longer than [`MAX_SPAN`]).
    span: u32,
}

/// The `span` of a [`Text`] that is all of its buffer.
const WHOLE: u32 = u32::MAX;

/// The longest text held as a span: the length takes 24 bits, and all ones is [`WHOLE`].
const MAX_SPAN: usize = (1 << 24) - 2;

impl Text {
    /// A text with a buffer of its own.
    pub(crate) fn new(text: &str) -> Self {
        Self::owned(text.into())
    }

    fn owned(text: Box<str>) -> Self {
        let span = if text.len() <= MAX_SPAN {
            span(text.len(), quoting_class(text.as_bytes()))
        } else {
            WHOLE
        };
        Self {
            buf: Arc::new(text),
            start: 0,
            span,
        }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        if self.span == WHOLE {
            return &self.buf;
        }
        let start = self.start as usize;
        // Spans are made in bounds and on character boundaries (`pack_texts`).
        self.buf
            .get(start..start + (self.span >> 8) as usize)
            .unwrap_or_default()
    }

    /// The CSV quoting class of the text (see [`quoting_class`]).
    pub(crate) fn quoting_class(&self) -> u8 {
        if self.span == WHOLE {
            return quoting_class(self.buf.as_bytes());
        }
        // The low 8 bits.
        (self.span & 0xff) as u8
    }
}

/// The `span` of a text of `len` bytes (at most [`MAX_SPAN`]) and quoting class `class`.
fn span(len: usize, class: u8) -> u32 {
    // `len <= MAX_SPAN` fits 24 bits.
    ((len as u32) << 8) | u32::from(class)
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Text {
    fn from(text: String) -> Self {
        Self::owned(text.into_boxed_str())
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// One stored value. Datetimes and dates are numbers so that filters and sorts compare
/// integers, not strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Bool(bool),
    Num(Number),
    Str(Text),
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
            Cell::Str(s) => Value::String(s.as_str().to_owned()),
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
            Cell::Str(s) => Some(s.as_str()),
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

/// One record, owned: what loading and writes build, and what the undo journal keeps.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: SfId,
    /// One cell per field of the object, in field order.
    pub(crate) cells: Vec<Cell>,
    /// When the record went to the Recycle Bin (epoch ms); None while live.
    pub(crate) deleted_at: Option<i64>,
}

/// One record of a table, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowRef<'a> {
    pub(crate) id: SfId,
    /// One cell per field of the object, in field order.
    pub(crate) cells: Cells<'a>,
    /// When the record went to the Recycle Bin (epoch ms); None while live.
    pub(crate) deleted_at: Option<i64>,
}

impl RowRef<'_> {
    /// An owned copy.
    pub(crate) fn to_row(self) -> Row {
        Row {
            id: self.id,
            cells: self.cells.0.to_vec(),
            deleted_at: self.deleted_at,
        }
    }
}

/// The cells of a borrowed record, in field order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cells<'a>(pub(crate) &'a [Cell]);

impl Deref for Cells<'_> {
    type Target = [Cell];

    fn deref(&self) -> &[Cell] {
        self.0
    }
}

impl<'a> IntoIterator for &Cells<'a> {
    type Item = &'a Cell;
    type IntoIter = std::slice::Iter<'a, Cell>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A table's records in Id order, their cells in one row-major vector.
///
/// One vector rather than one per record: a scan over the rows (Bulk serving above all) reads
/// cells sequentially, where separate allocations cost a cache miss at the start of each row
/// (it was a fifth of the time of a Bulk query once texts were packed).
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    /// Cells per row (the object's field count).
    width: usize,
    /// `len() * width` cells.
    cells: Vec<Cell>,
    ids: Vec<SfId>,
    deleted_at: Vec<Option<i64>>,
}

impl Rows {
    /// The rows of `rows`, each cut or padded with nulls to `width` cells.
    pub(crate) fn new(width: usize, rows: Vec<Row>) -> Self {
        let mut out = Self {
            width,
            cells: Vec::with_capacity(rows.len().saturating_mul(width)),
            ids: Vec::with_capacity(rows.len()),
            deleted_at: Vec::with_capacity(rows.len()),
        };
        for row in rows {
            out.push(row);
        }
        out
    }

    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Row `r`, if there is one.
    pub(crate) fn get(&self, r: usize) -> Option<RowRef<'_>> {
        let start = r.checked_mul(self.width)?;
        let cells = self.cells.get(start..start.checked_add(self.width)?)?;
        Some(RowRef {
            id: *self.ids.get(r)?,
            cells: Cells(cells),
            deleted_at: *self.deleted_at.get(r)?,
        })
    }

    /// Row `r`; like indexing a slice, out of range is a bug and panics.
    pub(crate) fn row(&self, r: usize) -> RowRef<'_> {
        RowRef {
            id: self.ids[r],
            cells: Cells(&self.cells[r * self.width..(r + 1) * self.width]),
            deleted_at: self.deleted_at[r],
        }
    }

    /// The first row.
    pub(crate) fn first(&self) -> Option<RowRef<'_>> {
        self.get(0)
    }

    /// The rows in order.
    pub(crate) fn iter(&self) -> RowsIter<'_> {
        RowsIter {
            rows: self,
            next: 0,
        }
    }

    /// Appends `row`, cut or padded with nulls to the table's width.
    pub(crate) fn push(&mut self, row: Row) {
        let mut cells = row.cells;
        cells.resize(self.width, Cell::Null);
        self.cells.append(&mut cells);
        self.ids.push(row.id);
        self.deleted_at.push(row.deleted_at);
    }

    /// Removes and returns the last row.
    pub(crate) fn pop(&mut self) -> Option<Row> {
        let id = self.ids.pop()?;
        let deleted_at = self.deleted_at.pop().flatten();
        let cells = self
            .cells
            .split_off(self.cells.len().saturating_sub(self.width));
        Some(Row {
            id,
            cells,
            deleted_at,
        })
    }

    /// Replaces row `r` with `row` (cut or padded to the table's width) and returns the old
    /// one; like indexing, out of range panics.
    pub(crate) fn replace(&mut self, r: usize, row: Row) -> Row {
        let mut cells = row.cells;
        cells.resize(self.width, Cell::Null);
        let slot = &mut self.cells[r * self.width..(r + 1) * self.width];
        let old_cells = slot
            .iter_mut()
            .zip(cells)
            .map(|(old, new)| std::mem::replace(old, new));
        Row {
            cells: old_cells.collect(),
            id: std::mem::replace(&mut self.ids[r], row.id),
            deleted_at: std::mem::replace(&mut self.deleted_at[r], row.deleted_at),
        }
    }

    /// Keeps only the rows `keep` accepts, in order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(RowRef<'_>) -> bool) {
        let width = self.width;
        // Rows 0..kept are the rows kept so far; the ones between hold what was dropped.
        let mut kept = 0;
        for r in 0..self.len() {
            if !keep(self.row(r)) {
                continue;
            }
            if kept != r {
                for c in 0..width {
                    self.cells.swap(kept * width + c, r * width + c);
                }
                self.ids[kept] = self.ids[r];
                self.deleted_at[kept] = self.deleted_at[r];
            }
            kept += 1;
        }
        self.cells.truncate(kept * width);
        self.ids.truncate(kept);
        self.deleted_at.truncate(kept);
    }
}

/// The rows of a table in order.
#[derive(Debug, Clone)]
pub(crate) struct RowsIter<'a> {
    rows: &'a Rows,
    next: usize,
}

impl<'a> Iterator for RowsIter<'a> {
    type Item = RowRef<'a>;

    fn next(&mut self) -> Option<RowRef<'a>> {
        let row = self.rows.get(self.next)?;
        self.next += 1;
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.rows.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for RowsIter<'_> {}

impl<'a> IntoIterator for &'a Rows {
    type Item = RowRef<'a>;
    type IntoIter = RowsIter<'a>;

    fn into_iter(self) -> RowsIter<'a> {
        self.iter()
    }
}

/// Most text bytes in one buffer of packed texts: a bound on what a few cells still in use can
/// keep alive after the rest were rewritten.
const PACK_BYTES: usize = 64 << 20;

/// One object: metadata and records in Id order.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) def: ObjectDef,
    pub(crate) rows: Rows,
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
    /// A table of `def` and `rows`, their texts packed (see [`Text`]).
    pub(crate) fn new(def: ObjectDef, rows: Vec<Row>) -> Self {
        let audit = AuditColumns::of(&def);
        let mut rows = Rows::new(def.fields.len(), rows);
        pack_texts(&mut rows.cells, PACK_BYTES);
        Self { def, rows, audit }
    }

    /// The SystemModstamp of row `row` (epoch ms), when the object has one.
    pub(crate) fn modstamp(&self, row: usize) -> Option<i64> {
        let col = self.audit.system_modstamp?;
        match self.rows.get(row)?.cells.0.get(col)? {
            Cell::DateTime(ms) => Some(*ms),
            _ => None,
        }
    }
}

/// Copies the texts of `cells`, in order, into shared buffers of at most `cap` bytes and
/// points the cells at them (see [`Text`]); a text longer than `cap` keeps its own buffer.
fn pack_texts(cells: &mut [Cell], cap: usize) {
    // `cap` below `u32::MAX` keeps every span's start in a u32.
    let cap = cap.min(u32::MAX as usize - 1);
    let packable = |cell: &Cell| match cell {
        Cell::Str(text) if text.len() <= cap.min(MAX_SPAN) => Some(text.len()),
        _ => None,
    };
    let mut packed = 0;
    loop {
        // The next run of cells whose texts fill one buffer.
        let (mut run, mut bytes) = (0, 0);
        for cell in &cells[packed..] {
            let len = packable(cell).unwrap_or(0);
            if bytes + len > cap {
                break;
            }
            bytes += len;
            run += 1;
        }
        if run == 0 {
            return;
        }
        let mut buf = String::with_capacity(bytes);
        for cell in &cells[packed..packed + run] {
            if let (Cell::Str(text), Some(_)) = (cell, packable(cell)) {
                buf.push_str(text);
            }
        }
        let buf = Arc::new(buf.into_boxed_str());
        let mut start = 0;
        for cell in &mut cells[packed..packed + run] {
            if let (Cell::Str(text), Some(len)) = (&*cell, packable(cell)) {
                *cell = Cell::Str(Text {
                    buf: Arc::clone(&buf),
                    // `start + len <= bytes <= cap < u32::MAX`.
                    start: u32::try_from(start).unwrap_or(0),
                    span: span(len, text.quoting_class()),
                });
                start += len;
            }
        }
        packed += run;
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
        if rt != t || table.rows.row(r).deleted_at.is_some() {
            return Err(not_found());
        }
        // Any failure to read a body from disk is a missing body to the API.
        let body = self.body(&sf_id).ok().flatten().ok_or_else(not_found)?;
        Ok((body, "application/octet-stream".to_owned()))
    }

    /// Produces and keeps every generated file body now ([`GeneratedBlobs::keep_all`]); bodies
    /// read from a directory are read when asked for.
    pub(crate) fn keep_generated_bodies(&self) {
        if let BlobSource::Generated(blobs) = &self.blobs {
            blobs.keep_all();
        }
    }

    /// The file body of record `id`, deleted or not: written through the API, else from the
    /// generator's spec (kept, [`Self::keep_generated_bodies`], or produced now) or
    /// `DIR/blobs/<id>`; `None` when it has none.
    pub(crate) fn body(&self, id: &SfId) -> Result<Option<bytes::Bytes>, crate::Error> {
        if let Some(body) = self.written_blobs.get(id) {
            return Ok(Some(body.clone()));
        }
        Ok(match &self.blobs {
            BlobSource::Generated(blobs) => blobs.body(id),
            BlobSource::Dir(dir) => {
                let path = dir.join(id.as_str());
                match std::fs::read(&path) {
                    Ok(body) => Some(bytes::Bytes::from(body)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(source) => return Err(crate::Error::Io { path, source }),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize, texts: &[Option<&str>]) -> Row {
        let mut cells: Vec<Cell> = texts
            .iter()
            .map(|t| t.map_or(Cell::Null, |t| Cell::Str(t.into())))
            .collect();
        cells.push(Cell::DateTime(1_603_400_603_000));
        Row {
            id: format!("001Dn{n:010}").parse().unwrap(),
            cells,
            deleted_at: None,
        }
    }

    #[test]
    fn packed_texts_read_back_and_share_buffers() {
        let texts: [&[Option<&str>]; 3] = [
            &[Some("Acme"), None, Some("")],
            &[Some("Grüße \"Ünïc\""), Some("a long text past the cap")],
            &[Some("x"), Some("yz")],
        ];
        let mut cells: Vec<Cell> = texts
            .iter()
            .enumerate()
            .flat_map(|(n, t)| row(n, t).cells)
            .collect();
        let before = cells.clone();
        pack_texts(&mut cells, 20);
        assert_eq!(before, cells);
        // Each text keeps the quoting class of its own bytes, not of its buffer's.
        for cell in &cells {
            if let Cell::Str(text) = cell {
                assert_eq!(
                    text.quoting_class(),
                    quoting_class(text.as_bytes()),
                    "{text:?}"
                );
            }
        }
        assert_ne!(quoting_class("Grüße \"Ünïc\"".as_bytes()), 0);
        let buf = |c: usize| match &cells[c] {
            Cell::Str(text) => Arc::clone(&text.buf),
            other => panic!("not a text: {other:?}"),
        };
        // Cells 0..4, 4..7 and 7..10 are the three rows. "Acme", "" and the 16-byte Unicode
        // text fill the first buffer exactly; the text longer than the cap keeps its own; "x"
        // and "yz" start the next buffer.
        assert!(Arc::ptr_eq(&buf(0), &buf(2)));
        assert!(Arc::ptr_eq(&buf(0), &buf(4)));
        assert_eq!(buf(0).len(), 20);
        assert!(!Arc::ptr_eq(&buf(4), &buf(5)));
        assert_eq!(&**buf(5), "a long text past the cap");
        assert!(Arc::ptr_eq(&buf(7), &buf(8)));
        assert!(!Arc::ptr_eq(&buf(4), &buf(7)));
        assert_eq!(cells[8].as_str(), Some("yz"));
        assert_eq!(cells[4].to_json(), Value::from("Grüße \"Ünïc\""));
    }

    #[test]
    fn rewritten_texts_keep_their_neighbours() {
        let mut cells = row(1, &[Some("one"), Some("two")]).cells;
        pack_texts(&mut cells, PACK_BYTES);
        cells[0] = Cell::Str(format!("{}!", cells[0].as_str().unwrap()).into());
        assert_eq!(cells[0].as_str(), Some("one!"));
        assert_eq!(cells[1].as_str(), Some("two"));
    }

    #[test]
    fn rows_keep_their_cells_through_every_edit() {
        let ids = |rows: &Rows| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        let texts = |rows: &Rows, r: usize| {
            rows.row(r)
                .cells
                .iter()
                .map(|c| c.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        let mut rows = Rows::new(
            3,
            (0..5)
                .map(|n| row(n, &[Some(&format!("a{n}")), Some(&format!("b{n}"))]))
                .collect(),
        );
        assert_eq!(rows.len(), 5);
        assert_eq!(
            texts(&rows, 3),
            [Some("a3".into()), Some("b3".into()), None]
        );
        // A row too short is padded with nulls, one too long cut.
        let mut short = row(5, &[Some("short")]);
        short.cells.truncate(1);
        rows.push(short);
        assert_eq!(texts(&rows, 5), [Some("short".into()), None, None]);
        let mut long = row(6, &[Some("x"), Some("y"), Some("z")]);
        long.deleted_at = Some(7);
        let old = rows.replace(1, long);
        assert_eq!(old.id, row(1, &[]).id);
        assert_eq!(old.cells[0].as_str(), Some("a1"));
        assert_eq!(
            texts(&rows, 1),
            [Some("x".into()), Some("y".into()), Some("z".into())]
        );
        assert_eq!(rows.row(1).deleted_at, Some(7));
        rows.retain(|r| r.id != row(2, &[]).id && r.id != row(4, &[]).id);
        assert_eq!(ids(&rows), [0, 6, 3, 5].map(|n| row(n, &[]).id));
        assert_eq!(
            texts(&rows, 2),
            [Some("a3".into()), Some("b3".into()), None]
        );
        let last = rows.pop().unwrap();
        assert_eq!(last.cells.len(), 3);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.get(3).map(|r| r.id), None);
        assert_eq!(rows.row(0).to_row().cells[1].as_str(), Some("b0"));
    }

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
