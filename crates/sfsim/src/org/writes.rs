//! Writes for restore: single and collection create, update, upsert and delete, with
//! Salesforce's validation errors and `allOrNone` rollback. Every change goes through
//! [`Store::insert_row`] or [`Store::replace_row`], which keep an undo journal while a
//! collection call with `allOrNone` runs.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::model::{Cell, FieldType, RefKind, Row, Store};
use super::{ApiError, UpsertOutcome};
use crate::ids::SfId;
use crate::time;

/// The most records one collection call may carry.
pub(crate) const MAX_COLLECTION: usize = 200;

/// One undo step of the journal.
#[derive(Debug)]
pub(crate) enum Undo {
    /// A row was appended to table `.0` with Id `.1`.
    Insert(usize, SfId),
    /// Row `.1` of table `.0` had the value `.2`.
    Replace(usize, usize, Box<Row>),
    /// A body was written for this Id (with the body it replaced).
    Blob(SfId, Option<bytes::Bytes>),
}

fn not_found() -> ApiError {
    ApiError::new(404, "NOT_FOUND", "The requested resource does not exist")
}

fn entity_is_deleted() -> ApiError {
    ApiError::new(400, "ENTITY_IS_DELETED", "entity is deleted")
}

fn malformed_id(id: &str) -> ApiError {
    ApiError::new(400, "MALFORMED_ID", format!("malformed id {id}"))
}

fn parser_error(kind: &str, value: &Value) -> ApiError {
    ApiError::new(
        400,
        "JSON_PARSER_ERROR",
        format!(
            "Cannot deserialize instance of {kind} from {} value {value} or request may be missing a required field",
            match value {
                Value::String(_) => "VALUE_STRING",
                Value::Number(_) => "VALUE_NUMBER",
                Value::Bool(_) => "VALUE_TRUE",
                Value::Array(_) => "START_ARRAY",
                Value::Object(_) => "START_OBJECT",
                Value::Null => "VALUE_NULL",
            }
        ),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Update,
}

/// A validated change: cells to set, and bodies to store.
struct Change {
    cells: Vec<(usize, Cell)>,
    blobs: Vec<bytes::Bytes>,
}

impl Store {
    /// Appends `row` to table `t`, journaled.
    pub(crate) fn insert_row(&mut self, t: usize, row: Row, journal: &mut Option<Vec<Undo>>) {
        let id = row.id;
        self.index.insert(id, (t, self.tables[t].rows.len()));
        self.tables[t].rows.push(row);
        if let Some(j) = journal {
            j.push(Undo::Insert(t, id));
        }
    }

    /// Replaces row `r` of table `t`, journaled.
    pub(crate) fn replace_row(
        &mut self,
        t: usize,
        r: usize,
        row: Row,
        journal: &mut Option<Vec<Undo>>,
    ) {
        let old = self.tables[t].rows.replace(r, row);
        if let Some(j) = journal {
            j.push(Undo::Replace(t, r, Box::new(old)));
        }
    }

    fn put_blob(&mut self, id: SfId, body: bytes::Bytes, journal: &mut Option<Vec<Undo>>) {
        let old = self.written_blobs.insert(id, body);
        if let Some(j) = journal {
            j.push(Undo::Blob(id, old));
        }
    }

    /// Undoes `journal`, newest first.
    pub(crate) fn roll_back(&mut self, journal: Vec<Undo>) {
        for step in journal.into_iter().rev() {
            match step {
                Undo::Insert(t, id) => {
                    self.tables[t].rows.pop();
                    self.index.remove(&id);
                }
                Undo::Replace(t, r, row) => {
                    self.tables[t].rows.replace(r, *row);
                }
                Undo::Blob(id, old) => match old {
                    Some(body) => {
                        self.written_blobs.insert(id, body);
                    }
                    None => {
                        self.written_blobs.remove(&id);
                    }
                },
            }
        }
    }

    /// The live row `id` of table `t` (any table when `t` is None).
    fn live_row(&self, t: Option<usize>, id: &str) -> Result<(usize, usize), ApiError> {
        let sf_id: SfId = id.parse().map_err(|_| malformed_id(id))?;
        let &(rt, r) = self.index.get(&sf_id).ok_or_else(not_found)?;
        if t.is_some_and(|t| t != rt) {
            return Err(not_found());
        }
        if self.tables[rt].rows.row(r).deleted_at.is_some() {
            return Err(entity_is_deleted());
        }
        Ok((rt, r))
    }

    /// Validates `fields` for a create or update of table `t`.
    fn validate(
        &self,
        t: usize,
        fields: &Map<String, Value>,
        mode: Mode,
        except: Option<&SfId>,
    ) -> Result<Change, ApiError> {
        let def = &self.tables[t].def;
        let mut change = Change {
            cells: Vec::new(),
            blobs: Vec::new(),
        };
        let mut read_only = Vec::new();
        for (name, value) in fields {
            if name == "attributes" {
                continue;
            }
            let Some(f) = def.field(name) else {
                return Err(ApiError::new(
                    400,
                    "INVALID_FIELD",
                    format!("No such column '{name}' on sobject of type {}", def.name),
                ));
            };
            let field = &def.fields[f];
            let allowed = match mode {
                Mode::Create => field.createable,
                Mode::Update => field.updateable,
            };
            if !allowed {
                read_only.push(field.name.clone());
                continue;
            }
            let cell = self.convert(field, value)?;
            if field.ty == FieldType::Base64 {
                if let Cell::Str(encoded) = &cell {
                    let body = base64::engine::general_purpose::STANDARD
                        .decode(encoded.as_bytes())
                        .map_err(|_| parser_error("base64", value))?;
                    change.blobs.push(bytes::Bytes::from(body));
                }
                continue;
            }
            if cell.is_null() && !field.nillable {
                return Err(ApiError::new(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    format!("Required fields are missing: [{}]", field.name),
                )
                .with_fields(vec![field.name.clone()]));
            }
            if field.unique && !cell.is_null() {
                self.check_unique(t, f, &cell, except)?;
            }
            change.cells.push((f, cell));
        }
        if !read_only.is_empty() {
            let verb = if mode == Mode::Create {
                "create"
            } else {
                "update"
            };
            return Err(ApiError::new(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to {verb} fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    read_only.join(", ")
                ),
            )
            .with_fields(read_only));
        }
        if mode == Mode::Create {
            let missing: Vec<String> = def
                .fields
                .iter()
                .enumerate()
                .filter(|(f, field)| {
                    field.required_on_create()
                        && !change
                            .cells
                            .iter()
                            .any(|(c, cell)| c == f && !cell.is_null())
                        && (field.ty != FieldType::Base64 || change.blobs.is_empty())
                })
                .map(|(_, field)| field.name.clone())
                .collect();
            if !missing.is_empty() {
                return Err(ApiError::new(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    format!("Required fields are missing: [{}]", missing.join(", ")),
                )
                .with_fields(missing));
            }
        }
        Ok(change)
    }

    fn check_unique(
        &self,
        t: usize,
        f: usize,
        cell: &Cell,
        except: Option<&SfId>,
    ) -> Result<(), ApiError> {
        let wanted = cell.as_str().map(str::to_lowercase);
        for row in &self.tables[t].rows {
            if row.deleted_at.is_some() || Some(&row.id) == except {
                continue;
            }
            let existing = &row.cells[f];
            let same = match (&wanted, existing.as_str()) {
                (Some(w), Some(e)) => e.to_lowercase() == *w,
                _ => existing == cell,
            };
            if same {
                let name = &self.tables[t].def.fields[f].name;
                return Err(ApiError::new(
                    400,
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {name} duplicates value on record with id: {}",
                        row.id
                    ),
                )
                .with_fields(vec![name.clone()]));
            }
        }
        Ok(())
    }

    /// The cell for a JSON value written to `field`.
    fn convert(&self, field: &super::model::FieldDef, value: &Value) -> Result<Cell, ApiError> {
        if value.is_null() {
            return Ok(Cell::Null);
        }
        Ok(match field.ty {
            FieldType::Id | FieldType::Reference => {
                let text = value.as_str().ok_or_else(|| parser_error("id", value))?;
                let id: SfId = text.parse().map_err(|_| {
                    ApiError::new(
                        400,
                        "MALFORMED_ID",
                        format!("{}: id value of incorrect type: {text}", field.label),
                    )
                    .with_fields(vec![field.name.clone()])
                })?;
                let bad_reference = || {
                    ApiError::new(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                    )
                    .with_fields(vec![field.name.clone()])
                };
                let &(t, r) = self.index.get(&id).ok_or_else(bad_reference)?;
                let target = &self.tables[t].def.name;
                if !field.reference_to.iter().any(|n| n == target) {
                    return Err(ApiError::new(
                        400,
                        "FIELD_INTEGRITY_EXCEPTION",
                        format!("{}: id value of incorrect type: {text}", field.label),
                    )
                    .with_fields(vec![field.name.clone()]));
                }
                if self.tables[t].rows.row(r).deleted_at.is_some() {
                    return Err(entity_is_deleted().with_fields(vec![field.name.clone()]));
                }
                Cell::Str(id.as_str().into())
            }
            FieldType::Boolean => Cell::Bool(
                value
                    .as_bool()
                    .ok_or_else(|| parser_error("boolean", value))?,
            ),
            FieldType::Int | FieldType::Double | FieldType::Currency | FieldType::Percent => {
                match value {
                    Value::Number(n) => Cell::Num(n.clone()),
                    Value::String(s) => s
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Cell::Num)
                        .ok_or_else(|| parser_error("double", value))?,
                    _ => return Err(parser_error("double", value)),
                }
            }
            FieldType::DateTime => {
                let text = value
                    .as_str()
                    .ok_or_else(|| parser_error("datetime", value))?;
                // Stored to the second, as the API shows it.
                let ms =
                    time::parse_datetime(text).ok_or_else(|| parser_error("datetime", value))?;
                Cell::DateTime(ms.div_euclid(1000) * 1000)
            }
            FieldType::Date => {
                let text = value.as_str().ok_or_else(|| parser_error("date", value))?;
                let day = text
                    .get(..10)
                    .and_then(time::parse_date)
                    .ok_or_else(|| parser_error("date", value))?;
                Cell::Date(day)
            }
            FieldType::Address => return Err(parser_error("address", value)),
            _ => {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(parser_error("string", value)),
                };
                if field.length > 0 && text.chars().count() > field.length as usize {
                    return Err(ApiError::new(
                        400,
                        "STRING_TOO_LONG",
                        format!(
                            "{}: data value too large: {text} (max length={})",
                            field.label, field.length
                        ),
                    )
                    .with_fields(vec![field.name.clone()]));
                }
                Cell::Str(text.into())
            }
        })
    }

    /// Keeps derived fields in step: compound addresses and the Contact/User full name.
    fn derive(&self, t: usize, row: &mut Row) {
        let def = &self.tables[t].def;
        for prefix in ["Billing", "Shipping", "Mailing"] {
            let Some(compound) = def.field(&format!("{prefix}Address")) else {
                continue;
            };
            let part = |suffix: &str| {
                def.field(&format!("{prefix}{suffix}"))
                    .map_or(Value::Null, |f| row.cells[f].to_json())
            };
            let parts = [
                ("city", part("City")),
                ("country", part("Country")),
                ("geocodeAccuracy", part("GeocodeAccuracy")),
                ("latitude", part("Latitude")),
                ("longitude", part("Longitude")),
                ("postalCode", part("PostalCode")),
                ("state", part("State")),
                ("street", part("Street")),
            ];
            row.cells[compound] = if parts.iter().all(|(_, v)| v.is_null()) {
                Cell::Null
            } else {
                Cell::Json(Box::new(Value::Object(
                    parts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                )))
            };
        }
        if matches!(def.name.as_str(), "Contact" | "User")
            && let (Some(name), Some(last)) = (def.field("Name"), def.field("LastName"))
        {
            let first = def
                .field("FirstName")
                .and_then(|f| row.cells[f].as_str())
                .unwrap_or("");
            let last = row.cells[last].as_str().unwrap_or("");
            let full = format!("{first} {last}").trim().to_owned();
            row.cells[name] = if full.is_empty() {
                Cell::Null
            } else {
                Cell::Str(full.into())
            };
        }
    }

    /// Stamps the modification audit fields of `row` at `stamp`.
    pub(crate) fn stamp_modified(&self, t: usize, row: &mut Row, stamp: i64) {
        let audit = self.tables[t].audit;
        // A record's SystemModstamp only moves forward: a change stamped no later than the
        // record's last one (two changes within one clock step) gets the next millisecond, as
        // in Salesforce, where every change of a record has a later stamp than the one before.
        // Readers rely on it: a version is (Id, SystemModstamp).
        let stamp = match audit.system_modstamp.map(|c| &row.cells[c]) {
            Some(Cell::DateTime(previous)) if *previous >= stamp => previous + 1,
            _ => stamp,
        };
        if let Some(c) = audit.last_modified_date {
            row.cells[c] = Cell::DateTime(stamp);
        }
        if let (Some(c), Some(user)) = (audit.last_modified_by, self.run_as) {
            row.cells[c] = Cell::Str(user.as_str().into());
        }
        if let Some(c) = audit.system_modstamp {
            row.cells[c] = Cell::DateTime(stamp);
        }
    }

    /// Creates a record in table `t` from validated `fields`.
    pub(crate) fn create_in(
        &mut self,
        t: usize,
        fields: &Map<String, Value>,
        journal: &mut Option<Vec<Undo>>,
    ) -> Result<SfId, ApiError> {
        if !self.tables[t].def.createable {
            return Err(ApiError::new(
                400,
                "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                format!(
                    "entity type {} does not support insert",
                    self.tables[t].def.name
                ),
            ));
        }
        let change = self.validate(t, fields, Mode::Create, None)?;
        let id = self.allocate_id(t)?;
        let stamp = self.next_stamp();
        let def = &self.tables[t].def;
        let audit = self.tables[t].audit;
        let mut cells: Vec<Cell> = def
            .fields
            .iter()
            .map(|f| {
                if f.ty == FieldType::Boolean {
                    Cell::Bool(false)
                } else {
                    Cell::Null
                }
            })
            .collect();
        if let Some(c) = def.field("Id") {
            cells[c] = Cell::Str(id.as_str().into());
        }
        let blob_field = def.fields.iter().position(|f| f.ty == FieldType::Base64);
        for (f, cell) in change.cells {
            cells[f] = cell;
        }
        let run_as = self.run_as.map(|u| Cell::Str(u.as_str().into()));
        if let (Some(c), Some(user)) = (audit.created_by, &run_as) {
            cells[c] = user.clone();
        }
        if let Some(c) = audit.created_date {
            cells[c] = Cell::DateTime(stamp);
        }
        if let (Some(c), Some(user)) = (audit.owner, &run_as)
            && cells[c].is_null()
        {
            cells[c] = user.clone();
        }
        if let (Some(f), Some(_)) = (blob_field, change.blobs.first()) {
            let name = &def.fields[f].name;
            cells[f] = Cell::Str(
                format!(
                    "/services/data/{}/sobjects/{}/{id}/{name}",
                    crate::API_VERSION,
                    def.name
                )
                .into(),
            );
        }
        let mut row = Row {
            id,
            cells,
            deleted_at: None,
        };
        self.stamp_modified(t, &mut row, stamp);
        self.derive(t, &mut row);
        self.insert_row(t, row, journal);
        if let Some(body) = change.blobs.into_iter().next() {
            self.put_blob(id, body, journal);
        }
        Ok(id)
    }

    /// Updates live row `r` of table `t`.
    pub(crate) fn update_at(
        &mut self,
        t: usize,
        r: usize,
        fields: &Map<String, Value>,
        journal: &mut Option<Vec<Undo>>,
    ) -> Result<(), ApiError> {
        let id = self.tables[t].rows.row(r).id;
        let change = self.validate(t, fields, Mode::Update, Some(&id))?;
        let stamp = self.next_stamp();
        let mut row = self.tables[t].rows.row(r).to_row();
        for (f, cell) in change.cells {
            row.cells[f] = cell;
        }
        self.stamp_modified(t, &mut row, stamp);
        self.derive(t, &mut row);
        self.replace_row(t, r, row, journal);
        if let Some(body) = change.blobs.into_iter().next() {
            self.put_blob(id, body, journal);
        }
        Ok(())
    }

    /// Soft-deletes live row `r` of table `t` at `stamp`, and its master-detail children;
    /// returns how many rows were deleted per table.
    pub(crate) fn delete_at(
        &mut self,
        t: usize,
        r: usize,
        stamp: i64,
        journal: &mut Option<Vec<Undo>>,
        counts: &mut Vec<(usize, u64)>,
    ) -> Result<(), ApiError> {
        if !self.tables[t].def.deletable {
            return Err(ApiError::new(
                400,
                "INSUFFICIENT_ACCESS_OR_READONLY",
                "insufficient access rights on object id",
            ));
        }
        let mut pending = vec![(t, r)];
        while let Some((t, r)) = pending.pop() {
            if self.tables[t].rows.row(r).deleted_at.is_some() {
                continue;
            }
            let id = self.tables[t].rows.row(r).id;
            let mut row = self.tables[t].rows.row(r).to_row();
            row.deleted_at = Some(stamp);
            if let Some(c) = self.tables[t].audit.is_deleted {
                row.cells[c] = Cell::Bool(true);
            }
            self.stamp_modified(t, &mut row, stamp);
            self.replace_row(t, r, row, journal);
            match counts.iter_mut().find(|(table, _)| *table == t) {
                Some((_, n)) => *n += 1,
                None => counts.push((t, 1)),
            }
            // Master-detail children go to the Recycle Bin with their parent.
            let parent = self.tables[t].def.name.clone();
            for (ct, child) in self.tables.iter().enumerate() {
                for (f, field) in child.def.fields.iter().enumerate() {
                    if field.ref_kind == Some(RefKind::MasterDetail)
                        && field.reference_to.contains(&parent)
                    {
                        for (cr, row) in child.rows.iter().enumerate() {
                            if row.deleted_at.is_none()
                                && row.cells[f].as_str() == Some(id.as_str())
                            {
                                pending.push((ct, cr));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn external_field(&self, t: usize, ext_field: &str) -> Result<usize, ApiError> {
        let def = &self.tables[t].def;
        def.field(ext_field)
            .filter(|&f| def.fields[f].external_id || def.fields[f].name == "Id")
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    "NOT_FOUND",
                    format!("Provided external ID field does not exist or is not accessible: {ext_field}"),
                )
            })
    }

    fn upsert_in(
        &mut self,
        t: usize,
        f: usize,
        value: &str,
        fields: &Map<String, Value>,
        journal: &mut Option<Vec<Undo>>,
    ) -> Result<UpsertOutcome, ApiError> {
        let wanted = value.to_lowercase();
        let matches: Vec<usize> = self.tables[t]
            .rows
            .iter()
            .enumerate()
            .filter(|(_, row)| {
                row.deleted_at.is_none()
                    && row.cells[f]
                        .as_str()
                        .is_some_and(|s| s.to_lowercase() == wanted)
            })
            .map(|(r, _)| r)
            .collect();
        match matches.as_slice() {
            [] => {
                let mut with_key = fields.clone();
                let name = self.tables[t].def.fields[f].name.clone();
                if name != "Id" {
                    with_key.insert(name, Value::from(value));
                }
                let id = self.create_in(t, &with_key, journal)?;
                Ok(UpsertOutcome::Created(id.to_string()))
            }
            [r] => {
                let mut without_key = fields.clone();
                without_key.remove(&self.tables[t].def.fields[f].name);
                self.update_at(t, *r, &without_key, journal)?;
                Ok(UpsertOutcome::Updated(
                    self.tables[t].rows.row(*r).id.to_string(),
                ))
            }
            many => Ok(UpsertOutcome::Multiple(
                many.iter()
                    .map(|&r| self.tables[t].rows.row(r).id.to_string())
                    .collect(),
            )),
        }
    }
}

/// `POST /sobjects/T`.
pub(crate) fn create(
    store: &mut Store,
    object: &str,
    fields: &Map<String, Value>,
) -> Result<String, ApiError> {
    let t = store.table_or_404(object)?;
    store
        .create_in(t, fields, &mut None)
        .map(|id| id.to_string())
}

/// `PATCH /sobjects/T/ID`.
pub(crate) fn update(
    store: &mut Store,
    object: &str,
    id: &str,
    fields: &Map<String, Value>,
) -> Result<(), ApiError> {
    let t = store.table_or_404(object)?;
    let (t, r) = store.live_row(Some(t), id)?;
    store.update_at(t, r, fields, &mut None)
}

/// `PATCH /sobjects/T/Field/value`.
pub(crate) fn upsert(
    store: &mut Store,
    object: &str,
    ext_field: &str,
    value: &str,
    fields: &Map<String, Value>,
) -> Result<UpsertOutcome, ApiError> {
    let t = store.table_or_404(object)?;
    let f = store.external_field(t, ext_field)?;
    store.upsert_in(t, f, value, fields, &mut None)
}

/// `DELETE /sobjects/T/ID`.
pub(crate) fn delete(store: &mut Store, object: Option<&str>, id: &str) -> Result<(), ApiError> {
    let t = object.map(|o| store.table_or_404(o)).transpose()?;
    let (t, r) = store.live_row(t, id)?;
    let stamp = store.next_stamp();
    store.delete_at(t, r, stamp, &mut None, &mut Vec::new())
}

/// The `records` and `allOrNone` of a collection body.
fn collection_body(body: &Value) -> Result<(&Vec<Value>, bool), ApiError> {
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::new(
                400,
                "JSON_PARSER_ERROR",
                "The request body must be an object with a records array",
            )
        })?;
    check_size(records.len())?;
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((records, all_or_none))
}

fn check_size(n: usize) -> Result<(), ApiError> {
    if n > MAX_COLLECTION {
        return Err(ApiError::new(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    Ok(())
}

/// The table named in a record's `attributes.type`.
fn record_table(store: &Store, record: &Value) -> Result<usize, ApiError> {
    let object = record
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::new(400, "INVALID_TYPE", "Must send a concrete entity type."))?;
    store.table(object).ok_or_else(|| {
        ApiError::new(
            400,
            "INVALID_TYPE",
            format!("sObject type '{object}' is not supported."),
        )
    })
}

fn fields_of(record: &Value) -> Result<&Map<String, Value>, ApiError> {
    record.as_object().ok_or_else(|| {
        ApiError::new(
            400,
            "JSON_PARSER_ERROR",
            "Each record must be a JSON object",
        )
    })
}

/// One record's outcome in a collection: (Id, created) or (Id if known, error).
type RecordOutcome = Result<(Option<String>, bool), (Option<String>, ApiError)>;

/// Runs `op` on every record in order, with `allOrNone` rollback; builds the result array.
fn run_collection(
    store: &mut Store,
    count: usize,
    all_or_none: bool,
    upsert: bool,
    mut op: impl FnMut(&mut Store, usize, &mut Option<Vec<Undo>>) -> RecordOutcome,
) -> Value {
    let mut journal = all_or_none.then(Vec::new);
    let outcomes: Vec<RecordOutcome> = (0..count).map(|i| op(store, i, &mut journal)).collect();
    let failed = outcomes.iter().any(Result::is_err);
    if let Some(journal) = journal.filter(|_| failed) {
        store.roll_back(journal);
    }
    let rolled_back = ApiError::new(
        400,
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using AllOrNone header",
    );
    let results = outcomes
        .into_iter()
        .map(|outcome| {
            let (id, success, errors, created) = match outcome {
                Ok((_, created)) if all_or_none && failed => {
                    (None, false, vec![rolled_back.collection_entry()], created)
                }
                Ok((id, created)) => (id, true, Vec::new(), created),
                Err((id, e)) => (id, false, vec![e.collection_entry()], false),
            };
            let mut result = json!({"id": id, "success": success, "errors": errors});
            if upsert {
                result["created"] = Value::Bool(created && success);
            }
            result
        })
        .collect();
    Value::Array(results)
}

/// `POST /composite/sobjects`.
pub(crate) fn collection_create(store: &mut Store, body: &Value) -> Result<Value, ApiError> {
    let (records, all_or_none) = collection_body(body)?;
    Ok(run_collection(
        store,
        records.len(),
        all_or_none,
        false,
        |store, i, journal| {
            let record = &records[i];
            let t = record_table(store, record).map_err(|e| (None, e))?;
            let fields = fields_of(record).map_err(|e| (None, e))?;
            store
                .create_in(t, fields, journal)
                .map(|id| (Some(id.to_string()), true))
                .map_err(|e| (None, e))
        },
    ))
}

/// `PATCH /composite/sobjects`.
pub(crate) fn collection_update(store: &mut Store, body: &Value) -> Result<Value, ApiError> {
    let (records, all_or_none) = collection_body(body)?;
    Ok(run_collection(
        store,
        records.len(),
        all_or_none,
        false,
        |store, i, journal| {
            let record = &records[i];
            let id = record.get("Id").and_then(Value::as_str).map(str::to_owned);
            let t = record_table(store, record).map_err(|e| (id.clone(), e))?;
            let mut fields = fields_of(record).map_err(|e| (id.clone(), e))?.clone();
            fields.remove("Id");
            let Some(id) = id else {
                return Err((
                    None,
                    ApiError::new(
                        400,
                        "MISSING_ARGUMENT",
                        "Id not specified in an update call",
                    ),
                ));
            };
            let (t, r) = store
                .live_row(Some(t), &id)
                .map_err(|e| (Some(id.clone()), e))?;
            store
                .update_at(t, r, &fields, journal)
                .map(|()| (Some(id.clone()), false))
                .map_err(|e| (Some(id.clone()), e))
        },
    ))
}

/// `PATCH /composite/sobjects/T/Field`.
pub(crate) fn collection_upsert(
    store: &mut Store,
    object: &str,
    ext_field: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let (records, all_or_none) = collection_body(body)?;
    let t = store.table_or_404(object)?;
    let f = store.external_field(t, ext_field)?;
    let field_name = store.tables[t].def.fields[f].name.clone();
    Ok(run_collection(
        store,
        records.len(),
        all_or_none,
        true,
        |store, i, journal| {
            let record = &records[i];
            let fields = fields_of(record).map_err(|e| (None, e))?;
            let key = fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&field_name))
                .and_then(|(_, v)| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                });
            let Some(key) = key else {
                return Err((
                    None,
                    ApiError::new(
                        400,
                        "REQUIRED_FIELD_MISSING",
                        format!("Required fields are missing: [{field_name}]"),
                    )
                    .with_fields(vec![field_name.clone()]),
                ));
            };
            match store.upsert_in(t, f, &key, fields, journal) {
            Ok(UpsertOutcome::Created(id)) => Ok((Some(id), true)),
            Ok(UpsertOutcome::Updated(id)) => Ok((Some(id), false)),
            Ok(UpsertOutcome::Multiple(ids)) => Err((None, ApiError::new(
                300,
                "DUPLICATE_EXTERNAL_ID",
                format!("{field_name}: more than one record found for external id field: {ids:?}"),
            ).with_fields(vec![field_name.clone()]))),
            Err(e) => Err((None, e)),
        }
        },
    ))
}

/// `DELETE /composite/sobjects?ids=..`.
pub(crate) fn collection_delete(
    store: &mut Store,
    ids: &[String],
    all_or_none: bool,
) -> Result<Value, ApiError> {
    if ids.is_empty() {
        return Err(ApiError::new(
            400,
            "REQUIRED_FIELD_MISSING",
            "At least 1 Id is required.",
        ));
    }
    check_size(ids.len())?;
    let stamp = store.next_stamp();
    Ok(run_collection(
        store,
        ids.len(),
        all_or_none,
        false,
        |store, i, journal| {
            let id = &ids[i];
            let (t, r) = store
                .live_row(None, id)
                .map_err(|e| (Some(id.clone()), e))?;
            store
                .delete_at(t, r, stamp, journal, &mut Vec::new())
                .map(|()| (Some(id.clone()), false))
                .map_err(|e| (Some(id.clone()), e))
        },
    ))
}
