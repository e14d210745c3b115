//! SOQL compilation against the org's metadata and execution over its rows: field paths are
//! resolved to column positions once, literals are converted to the field's type once, and
//! rows are then filtered and sorted by comparing integers and strings, with no parsing per
//! row. Child-to-parent paths follow the reference through the Id index.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::csv::BulkStamps;
use super::model::{Cell, FieldType, NULL, RowRef, Store};
use super::soql::{self, CmpOp, Expr, Item, Literal, Path, Query, decorate};
use super::{ApiError, BulkOutput, QueryOutput};
use crate::ids::SfId;

/// A resolved field path.
#[derive(Debug, Clone)]
enum Column {
    /// A field of the queried row.
    Field {
        field: usize,
        ty: FieldType,
        name: String,
    },
    /// A field reached through reference field `via` (relationship `relationship`); per
    /// possible target table, the rest of the path (None when that target lacks it).
    Parent {
        via: usize,
        relationship: String,
        targets: Vec<(usize, Option<Box<Column>>)>,
        ty: FieldType,
        leaf: String,
    },
}

impl Column {
    fn ty(&self) -> FieldType {
        match self {
            Column::Field { ty, .. } | Column::Parent { ty, .. } => *ty,
        }
    }

    /// The header name: `Name` or `Account.Name`.
    fn header(&self) -> String {
        match self {
            Column::Field { name, .. } => name.clone(),
            Column::Parent {
                relationship,
                targets,
                leaf,
                ..
            } => {
                let rest = targets
                    .iter()
                    .find_map(|(_, c)| c.as_ref().map(|c| c.header()))
                    .unwrap_or_else(|| leaf.clone());
                format!("{relationship}.{rest}")
            }
        }
    }
}

/// A literal converted to the type of the field it is compared with.
#[derive(Debug, Clone)]
enum Val {
    Null,
    Bool(bool),
    Num(f64),
    /// Compared exactly (Ids).
    Exact(Box<str>),
    /// Compared case-insensitively (stored lowercased).
    Text(Box<str>),
    Date(i64),
    DateTime(i64),
}

#[derive(Debug, Clone)]
enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    Cmp(Column, CmpOp, Val),
    In(Column, bool, Vec<Val>),
    Like(Column, Vec<LikeTok>),
}

#[derive(Debug, Clone, PartialEq)]
enum LikeTok {
    Any,
    One,
    Char(char),
}

/// A compiled query.
struct Plan {
    table: usize,
    columns: Vec<Column>,
    count_only: bool,
    filter: Option<Pred>,
    order: Vec<(Column, bool, bool)>,
    limit: Option<u64>,
    offset: Option<u64>,
}

const FIELD_HINT: &str = "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.";

fn invalid_field(soql: &str, pos: usize, text: &str) -> ApiError {
    ApiError::new(400, "INVALID_FIELD", decorate(soql, pos, text))
}

struct Compiler<'a> {
    store: &'a Store,
    soql: &'a str,
}

impl Compiler<'_> {
    fn resolve(&self, table: usize, path: &Path) -> Result<Column, ApiError> {
        let def = &self.store.tables[table].def;
        let mut parts: &[String] = &path.parts;
        // `SELECT Account.Name FROM Account` may qualify with the object's own name.
        if parts.len() > 1 && parts[0].eq_ignore_ascii_case(&def.name) {
            parts = &parts[1..];
        }
        self.resolve_parts(table, parts, path)
    }

    fn resolve_parts(
        &self,
        table: usize,
        parts: &[String],
        path: &Path,
    ) -> Result<Column, ApiError> {
        let def = &self.store.tables[table].def;
        let Some((head, rest)) = parts.split_first() else {
            return Err(soql::malformed(
                self.soql,
                path.pos,
                "unexpected token: '.'",
            ));
        };
        if rest.is_empty() {
            let field = def.field(head).ok_or_else(|| {
                invalid_field(
                    self.soql,
                    path.pos,
                    &format!(
                        "No such column '{head}' on entity '{}'. {FIELD_HINT}",
                        def.name
                    ),
                )
            })?;
            let f = &def.fields[field];
            return Ok(Column::Field {
                field,
                ty: f.ty,
                name: f.name.clone(),
            });
        }
        let via = def.relationship(head).ok_or_else(|| {
            invalid_field(
                self.soql,
                path.pos,
                &format!("Didn't understand relationship '{head}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."),
            )
        })?;
        let f = &def.fields[via];
        let mut targets = Vec::new();
        let mut first_error = None;
        let mut ty = None;
        for target in &f.reference_to {
            let Some(t) = self.store.table(target) else {
                continue;
            };
            match self.resolve_parts(t, rest, path) {
                Ok(column) => {
                    ty.get_or_insert(column.ty());
                    targets.push((t, Some(Box::new(column))));
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                    targets.push((t, None));
                }
            }
        }
        match ty {
            Some(ty) => Ok(Column::Parent {
                via,
                relationship: f.relationship_name.clone().unwrap_or_else(|| head.clone()),
                targets,
                ty,
                leaf: rest.join("."),
            }),
            None => Err(first_error.unwrap_or_else(|| {
                invalid_field(
                    self.soql,
                    path.pos,
                    &format!(
                        "No such column '{}' on entity '{}'. {FIELD_HINT}",
                        rest.join("."),
                        f.reference_to.first().cloned().unwrap_or_default()
                    ),
                )
            })),
        }
    }

    fn value(&self, path: &Path, column: &Column, literal: &Literal) -> Result<Val, ApiError> {
        let ty = column.ty();
        let field = path.dotted();
        let wrong = |expected: &str, quoted: bool| {
            invalid_field(
                self.soql,
                path.pos,
                &format!(
                    "value of filter criterion for field '{field}' must be of type {expected} and should {}be enclosed in quotes",
                    if quoted { "" } else { "not " }
                ),
            )
        };
        if matches!(ty, FieldType::Address | FieldType::Base64) {
            return Err(invalid_field(
                self.soql,
                path.pos,
                &format!("field '{field}' can not be filtered in a query call"),
            ));
        }
        Ok(match (ty, literal) {
            (_, Literal::Null) => Val::Null,
            (FieldType::DateTime, Literal::DateTime(ms)) => Val::DateTime(*ms),
            (FieldType::DateTime, _) => return Err(wrong("dateTime", false)),
            (FieldType::Date, Literal::Date(d)) => Val::Date(*d),
            (FieldType::Date, _) => return Err(wrong("date", false)),
            (FieldType::Boolean, Literal::Bool(b)) => Val::Bool(*b),
            (FieldType::Boolean, _) => return Err(wrong("boolean", false)),
            (FieldType::Int, Literal::Num(n))
            | (FieldType::Double | FieldType::Currency | FieldType::Percent, Literal::Num(n)) => {
                Val::Num(*n)
            }
            (FieldType::Int, _) => return Err(wrong("integer", false)),
            (FieldType::Double | FieldType::Currency | FieldType::Percent, _) => {
                return Err(wrong("double", false));
            }
            (FieldType::Id | FieldType::Reference, Literal::Str(s)) => match s.parse::<SfId>() {
                Ok(id) => Val::Exact(id.as_str().into()),
                // Range comparisons on Ids may use any string; equality needs a real Id.
                Err(_) if s.is_empty() => Val::Exact("".into()),
                Err(_) => {
                    return Err(ApiError::new(
                        400,
                        "INVALID_QUERY_FILTER_OPERATOR",
                        decorate(self.soql, path.pos, &format!("invalid ID field: {s}")),
                    ));
                }
            },
            (FieldType::Id | FieldType::Reference, _) => return Err(wrong("id", true)),
            (_, Literal::Str(s)) => Val::Text(s.to_lowercase().into()),
            _ => return Err(wrong("string", true)),
        })
    }

    fn predicate(&self, table: usize, expr: &Expr) -> Result<Pred, ApiError> {
        Ok(match expr {
            Expr::And(parts) => Pred::And(
                parts
                    .iter()
                    .map(|p| self.predicate(table, p))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(parts) => Pred::Or(
                parts
                    .iter()
                    .map(|p| self.predicate(table, p))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(inner) => Pred::Not(Box::new(self.predicate(table, inner)?)),
            Expr::Cmp(path, op, literal) => {
                let column = self.resolve(table, path)?;
                let value = self.value(path, &column, literal)?;
                Pred::Cmp(column, *op, value)
            }
            Expr::In(path, negated, literals) => {
                let column = self.resolve(table, path)?;
                let values = literals
                    .iter()
                    .map(|l| self.value(path, &column, l))
                    .collect::<Result<_, _>>()?;
                Pred::In(column, *negated, values)
            }
            Expr::Like(path, pattern) => {
                let column = self.resolve(table, path)?;
                if !column.ty().is_text() && !column.ty().is_id() {
                    return Err(invalid_field(
                        self.soql,
                        path.pos,
                        &format!("invalid operator on {} field: LIKE", column.ty().api_name()),
                    ));
                }
                Pred::Like(column, like_tokens(pattern))
            }
        })
    }
}

fn like_tokens(pattern: &str) -> Vec<LikeTok> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '%' => LikeTok::Any,
            '_' => LikeTok::One,
            '\\' => match chars.next() {
                Some(next) => LikeTok::Char(next.to_lowercase().next().unwrap_or(next)),
                None => LikeTok::Char('\\'),
            },
            _ => LikeTok::Char(c.to_lowercase().next().unwrap_or(c)),
        });
    }
    out
}

/// Case-insensitive LIKE match (iterative, with backtracking to the last `%`).
fn like_match(pattern: &[LikeTok], text: &str) -> bool {
    let text: Vec<char> = text
        .chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(LikeTok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(LikeTok::One) => {
                p += 1;
                t += 1;
            }
            Some(LikeTok::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|tok| *tok == LikeTok::Any)
}

fn compile(store: &Store, soql: &str, query: &Query) -> Result<Plan, ApiError> {
    let compiler = Compiler { store, soql };
    let from = &query.from.parts[0];
    let table = store.table(from).ok_or_else(|| {
        ApiError::new(
            400,
            "INVALID_TYPE",
            decorate(
                soql,
                query.from.pos,
                &format!("sObject type '{from}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."),
            ),
        )
    })?;
    let mut columns = Vec::new();
    let mut count_only = false;
    for item in &query.items {
        match item {
            Item::Field(path) => columns.push(compiler.resolve(table, path)?),
            Item::CountAll(pos) => {
                if query.items.len() > 1 {
                    return Err(soql::malformed(
                        soql,
                        *pos,
                        "COUNT() must be the only element in the SELECT list.",
                    ));
                }
                count_only = true;
            }
            Item::Aggregate(name, path) => {
                return Err(soql::malformed(
                    soql,
                    path.pos,
                    &format!("The simulator does not support the aggregate function {name}()"),
                ));
            }
            Item::Subquery(pos) | Item::TypeOf(pos) => {
                return Err(soql::malformed(
                    soql,
                    *pos,
                    "The simulator does not support subqueries or TYPEOF",
                ));
            }
        }
    }
    if let Some(path) = query.group_by.first() {
        return Err(soql::malformed(
            soql,
            path.pos,
            "The simulator does not support GROUP BY",
        ));
    }
    let filter = query
        .filter
        .as_ref()
        .map(|e| compiler.predicate(table, e))
        .transpose()?;
    let mut order = Vec::new();
    for key in &query.order_by {
        let column = compiler.resolve(table, &key.path)?;
        if matches!(column.ty(), FieldType::Address | FieldType::Base64) {
            return Err(invalid_field(
                soql,
                key.path.pos,
                &format!(
                    "field '{}' can not be sorted in a query call",
                    key.path.dotted()
                ),
            ));
        }
        order.push((column, key.desc, key.nulls_last));
    }
    Ok(Plan {
        table,
        columns,
        count_only,
        filter,
        order,
        limit: query.limit,
        offset: query.offset,
    })
}

/// The cell `column` names for `row` of the plan's table.
fn cell<'a>(store: &'a Store, row: RowRef<'a>, column: &'a Column) -> &'a Cell {
    match column {
        Column::Field { field, .. } => row.cells.0.get(*field).unwrap_or(&NULL),
        Column::Parent { via, targets, .. } => match parent(store, row, *via, targets) {
            Some((parent_row, Some(rest))) => cell(store, parent_row, rest),
            _ => &NULL,
        },
    }
}

/// The parent row a reference points at, and the rest of the path on that parent's type.
fn parent<'a>(
    store: &'a Store,
    row: RowRef<'_>,
    via: usize,
    targets: &'a [(usize, Option<Box<Column>>)],
) -> Option<(RowRef<'a>, Option<&'a Column>)> {
    let id: SfId = row.cells.get(via)?.as_str()?.parse().ok()?;
    let &(t, r) = store.index.get(&id)?;
    let (_, rest) = targets.iter().find(|(target, _)| *target == t)?;
    Some((store.tables[t].rows.get(r)?, rest.as_deref()))
}

/// Orders a cell against a filter value; None when either is null or they cannot compare.
fn compare(cell: &Cell, value: &Val) -> Option<Ordering> {
    match (cell, value) {
        (Cell::Null, _) | (_, Val::Null) => None,
        (Cell::DateTime(a), Val::DateTime(b)) | (Cell::Date(a), Val::Date(b)) => Some(a.cmp(b)),
        (Cell::Str(a), Val::Exact(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Cell::Str(a), Val::Text(b)) => Some(cmp_folded(a, b)),
        (Cell::Num(a), Val::Num(b)) => a.as_f64()?.partial_cmp(b),
        (Cell::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// `a` lowercased, compared with the already-lowercased `b`, without allocating.
fn cmp_folded(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.bytes().map(|c| c.to_ascii_lowercase()).cmp(b.bytes())
    } else {
        a.chars().flat_map(char::to_lowercase).cmp(b.chars())
    }
}

fn equals(cell: &Cell, value: &Val) -> bool {
    match value {
        Val::Null => cell.is_null(),
        _ => compare(cell, value) == Some(Ordering::Equal),
    }
}

fn eval(store: &Store, row: RowRef<'_>, pred: &Pred) -> bool {
    match pred {
        Pred::And(parts) => parts.iter().all(|p| eval(store, row, p)),
        Pred::Or(parts) => parts.iter().any(|p| eval(store, row, p)),
        Pred::Not(inner) => !eval(store, row, inner),
        Pred::Cmp(column, op, value) => {
            let c = cell(store, row, column);
            match op {
                CmpOp::Eq => equals(c, value),
                // SOQL's != keeps nulls when comparing with a value.
                CmpOp::Ne => !equals(c, value),
                CmpOp::Lt => compare(c, value) == Some(Ordering::Less),
                CmpOp::Le => matches!(compare(c, value), Some(Ordering::Less | Ordering::Equal)),
                CmpOp::Gt => compare(c, value) == Some(Ordering::Greater),
                CmpOp::Ge => matches!(compare(c, value), Some(Ordering::Greater | Ordering::Equal)),
            }
        }
        Pred::In(column, negated, values) => {
            let c = cell(store, row, column);
            values.iter().any(|v| equals(c, v)) != *negated
        }
        Pred::Like(column, pattern) => cell(store, row, column)
            .as_str()
            .is_some_and(|s| like_match(pattern, s)),
    }
}

/// Sort order of two non-null cells of one column.
fn cmp_cells(a: &Cell, b: &Cell, ty: FieldType) -> Ordering {
    match (a, b) {
        (Cell::DateTime(x), Cell::DateTime(y)) | (Cell::Date(x), Cell::Date(y)) => x.cmp(y),
        (Cell::Num(x), Cell::Num(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Cell::Bool(x), Cell::Bool(y)) => x.cmp(y),
        (Cell::Str(x), Cell::Str(y)) if ty.is_id() => x.as_bytes().cmp(y.as_bytes()),
        (Cell::Str(x), Cell::Str(y)) => {
            let folded = if x.is_ascii() && y.is_ascii() {
                x.bytes()
                    .map(|c| c.to_ascii_lowercase())
                    .cmp(y.bytes().map(|c| c.to_ascii_lowercase()))
            } else {
                x.chars()
                    .flat_map(char::to_lowercase)
                    .cmp(y.chars().flat_map(char::to_lowercase))
            };
            folded.then_with(|| x.cmp(y))
        }
        _ => Ordering::Equal,
    }
}

/// Rows of the plan, filtered, sorted and cut by OFFSET/LIMIT.
fn run<'a>(store: &'a Store, plan: &Plan, all_rows: bool) -> Vec<RowRef<'a>> {
    let table = &store.tables[plan.table];
    let mut rows: Vec<RowRef<'a>> = Vec::with_capacity(table.rows.len());
    rows.extend(
        table
            .rows
            .iter()
            .filter(|row| all_rows || row.deleted_at.is_none())
            .filter(|row| plan.filter.as_ref().is_none_or(|p| eval(store, *row, p))),
    );
    let offset = usize::try_from(plan.offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let wanted = plan.limit.map(|l| {
        usize::try_from(l)
            .unwrap_or(usize::MAX)
            .saturating_add(offset)
    });
    if !plan.order.is_empty() {
        let order = |a: &RowRef<'a>, b: &RowRef<'a>| {
            for (column, desc, nulls_last) in &plan.order {
                let (x, y) = (cell(store, *a, column), cell(store, *b, column));
                let ordering = match (x.is_null(), y.is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => {
                        if *nulls_last {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        }
                    }
                    (false, true) => {
                        if *nulls_last {
                            Ordering::Less
                        } else {
                            Ordering::Greater
                        }
                    }
                    (false, false) => {
                        let o = cmp_cells(x, y, column.ty());
                        if *desc { o.reverse() } else { o }
                    }
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            // Ties keep Id order, so pages are stable.
            a.id.cmp(&b.id)
        };
        match wanted {
            // Only the first `wanted` rows matter: select them, then sort just those.
            Some(n) if n < rows.len() => {
                if n == 0 {
                    rows.clear();
                } else {
                    rows.select_nth_unstable_by(n - 1, order);
                    rows.truncate(n);
                    rows.sort_unstable_by(order);
                }
            }
            _ => rows.sort_unstable_by(order),
        }
    }
    if let Some(n) = wanted {
        rows.truncate(n);
    }
    if offset > 0 {
        rows.drain(..offset.min(rows.len()));
    }
    rows
}

fn attributes(object: &str, id: &SfId, api_version: &str) -> Value {
    json!({"type": object, "url": format!("/services/data/{api_version}/sobjects/{object}/{id}")})
}

/// Inserts `column`'s value for `row` into `record`, nesting parent fields as REST does.
fn insert_rest(
    store: &Store,
    record: &mut Map<String, Value>,
    row: RowRef<'_>,
    column: &Column,
    api_version: &str,
) {
    match column {
        Column::Field { field, name, .. } => {
            record.insert(
                name.clone(),
                row.cells.get(*field).unwrap_or(&NULL).to_json(),
            );
        }
        Column::Parent {
            via,
            relationship,
            targets,
            ..
        } => match parent(store, row, *via, targets) {
            Some((parent_row, rest)) => {
                let entry = record.entry(relationship.clone()).or_insert(Value::Null);
                if !entry.is_object() {
                    let (t, _) = store.index.get(&parent_row.id).copied().unwrap_or((0, 0));
                    let mut nested = Map::new();
                    nested.insert(
                        "attributes".into(),
                        attributes(&store.tables[t].def.name, &parent_row.id, api_version),
                    );
                    *entry = Value::Object(nested);
                }
                if let (Value::Object(nested), Some(rest)) = (entry, rest) {
                    insert_rest(store, nested, parent_row, rest, api_version);
                }
            }
            None => {
                record.entry(relationship.clone()).or_insert(Value::Null);
            }
        },
    }
}

/// A REST query.
pub(crate) fn query(
    store: &Store,
    soql: &str,
    all_rows: bool,
    api_version: &str,
) -> Result<QueryOutput, ApiError> {
    let parsed = soql::parse(soql)?;
    let plan = compile(store, soql, &parsed)?;
    let rows = run(store, &plan, all_rows);
    if plan.count_only {
        return Ok(QueryOutput {
            total_size: rows.len(),
            records: Vec::new(),
        });
    }
    let object = &store.tables[plan.table].def.name;
    let records: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut record = Map::new();
            record.insert(
                "attributes".into(),
                attributes(object, &row.id, api_version),
            );
            for column in &plan.columns {
                insert_rest(store, &mut record, *row, column, api_version);
            }
            Value::Object(record)
        })
        .collect();
    Ok(QueryOutput {
        total_size: records.len(),
        records,
    })
}

/// The Bulk API 2.0 view of a query.
pub(crate) fn bulk_query(
    store: &Store,
    soql: &str,
    all_rows: bool,
) -> Result<BulkOutput, ApiError> {
    let parsed = soql::parse(soql)?;
    let from = &parsed.from.parts[0];
    if let Some(t) = store.table(from) {
        let def = &store.tables[t].def;
        if !def.bulk_queryable {
            return Err(ApiError::new(
                400,
                "INVALIDENTITY",
                format!("Entity '{}' is not supported by the Bulk API.", def.name),
            ));
        }
    }
    for item in &parsed.items {
        match item {
            Item::Subquery(_) => {
                return Err(ApiError::new(
                    400,
                    "FUNCTIONALITY_NOT_ENABLED",
                    "Aggregate Relationships not supported in Bulk Query",
                ));
            }
            Item::TypeOf(_) => {
                return Err(ApiError::new(
                    400,
                    "FUNCTIONALITY_NOT_ENABLED",
                    "TYPEOF not supported in Bulk Query",
                ));
            }
            Item::CountAll(_) | Item::Aggregate(..) => {
                return Err(ApiError::new(
                    400,
                    "FUNCTIONALITY_NOT_ENABLED",
                    "Aggregate functions are not supported in Bulk Query",
                ));
            }
            Item::Field(_) => {}
        }
    }
    if !parsed.group_by.is_empty() {
        return Err(ApiError::new(
            400,
            "FUNCTIONALITY_NOT_ENABLED",
            "GROUP BY is not supported in Bulk Query",
        ));
    }
    if parsed.offset.is_some() {
        return Err(ApiError::new(
            400,
            "FUNCTIONALITY_NOT_ENABLED",
            "OFFSET is not supported in Bulk Query",
        ));
    }
    let plan = compile(store, soql, &parsed)?;
    for column in &plan.columns {
        match column.ty() {
            FieldType::Address => {
                return Err(ApiError::new(
                    400,
                    "FUNCTIONALITY_NOT_ENABLED",
                    "Selecting compound data not supported in Bulk Query",
                ));
            }
            FieldType::Base64 => {
                return Err(ApiError::new(
                    400,
                    "FUNCTIONALITY_NOT_ENABLED",
                    "Selecting base64 data not supported in Bulk Query",
                ));
            }
            _ => {}
        }
    }
    let rows = run(store, &plan, all_rows);
    let mut out = BulkOutput::with_capacity(
        store.tables[plan.table].def.name.clone(),
        plan.columns.iter().map(Column::header).collect(),
        rows.len(),
    );
    let mut text = String::new();
    let mut stamps = BulkStamps::new();
    for row in rows {
        for column in &plan.columns {
            // Every cell but the rare odd one (a compound value, a date out of range) is
            // rendered straight into the output; datetimes, dates, booleans and numbers hold
            // no byte that needs quotes, so they also skip the scan for one.
            let cell = match column {
                Column::Field { field, .. } => row.cells.0.get(*field).unwrap_or(&NULL),
                Column::Parent { .. } => cell(store, row, column),
            };
            match cell {
                Cell::Null => out.push_null(),
                Cell::Str(s) => out.push_stored_text(s),
                Cell::DateTime(ms) if let Some(stamp) = stamps.datetime(*ms) => {
                    out.push_plain(&stamp);
                }
                Cell::Date(day) if let Some(date) = stamps.date(*day) => out.push_plain(&date),
                Cell::Bool(b) => out.push_plain(if *b { b"true" } else { b"false" }),
                Cell::Num(n) => out.push_number(n),
                other => {
                    text.clear();
                    other.write_bulk(&mut text);
                    out.push_text(&text);
                }
            }
        }
        out.end_row();
    }
    Ok(out)
}

/// `GET /sobjects/T/ID`.
pub(crate) fn get_record(
    store: &Store,
    object: &str,
    id: &str,
    fields: Option<&[String]>,
    api_version: &str,
) -> Result<Value, ApiError> {
    let t = store.table_or_404(object)?;
    let not_found = || ApiError::new(404, "NOT_FOUND", "The requested resource does not exist");
    let sf_id: SfId = id.parse().map_err(|_| not_found())?;
    let &(rt, r) = store.index.get(&sf_id).ok_or_else(not_found)?;
    let table = &store.tables[t];
    if rt != t || table.rows.row(r).deleted_at.is_some() {
        return Err(not_found());
    }
    let row = table.rows.row(r);
    let positions: Vec<usize> = match fields {
        None => (0..table.def.fields.len()).collect(),
        Some(list) => list
            .iter()
            .map(|name| {
                table.def.field(name.trim()).ok_or_else(|| {
                    ApiError::new(
                        400,
                        "INVALID_FIELD",
                        format!(
                            "No such column '{}' on entity '{}'. {FIELD_HINT}",
                            name.trim(),
                            table.def.name
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let mut record = Map::new();
    record.insert(
        "attributes".into(),
        attributes(&table.def.name, &row.id, api_version),
    );
    for p in positions {
        record.insert(
            table.def.fields[p].name.clone(),
            row.cells.get(p).unwrap_or(&NULL).to_json(),
        );
    }
    Ok(Value::Object(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        let m = |p: &str, t: &str| like_match(&like_tokens(p), t);
        assert!(m("Ac%", "acme"));
        assert!(m("%me", "ACME"));
        assert!(m("a_me", "acme"));
        assert!(m("%", ""));
        assert!(!m("a_me", "ame"));
        assert!(m("50\\%%", "50% off"));
        assert!(!m("50\\%%", "500 off"));
        assert!(m("%a%b%", "xxaxxbxx"));
        assert!(!m("%a%b", "xxaxxbxx"));
    }

    #[test]
    fn folded_comparison() {
        assert_eq!(cmp_folded("Acme", "acme"), Ordering::Equal);
        assert_eq!(cmp_folded("Äpfel", "äpfel"), Ordering::Equal);
        assert_eq!(cmp_folded("B", "a"), Ordering::Greater);
    }
}
