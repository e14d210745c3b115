//! Object and field metadata: built from the generator's schema plus a table of standard field
//! types, with every other field's type inferred from its values (so `serve --data DIR` serves
//! any object), and the describe / describeGlobal / recordCount bodies.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::ApiError;
use super::model::{Cell, FieldDef, FieldType, ObjectDef, RefKind, Row, Store, Table};
use crate::ids::SfId;
use crate::schema::{self, RelationshipKind};
use crate::{API_VERSION, ObjectRecords};

/// Fields the system maintains: never createable nor updateable.
const SYSTEM_FIELDS: &[&str] = &[
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "LastActivityDate",
    "LastViewedDate",
    "LastReferencedDate",
    "PhotoUrl",
    "MasterRecordId",
    "LastLoginDate",
];

/// Read-only standard fields of particular objects (formulas, roll-ups, auto numbers).
const READ_ONLY: &[(&str, &str)] = &[
    ("Contact", "Name"),
    ("User", "Name"),
    ("Opportunity", "IsClosed"),
    ("Opportunity", "IsWon"),
    ("Opportunity", "ExpectedRevenue"),
    ("Opportunity", "HasOpportunityLineItem"),
    ("Opportunity", "PushCount"),
    ("Opportunity", "LastStageChangeDate"),
    ("Opportunity", "FiscalQuarter"),
    ("Opportunity", "FiscalYear"),
    ("Opportunity", "Fiscal"),
    ("Opportunity", "HasOpenActivity"),
    ("Opportunity", "HasOverdueTask"),
    ("Case", "CaseNumber"),
    ("Case", "IsClosed"),
    ("Case", "ContactPhone"),
    ("Case", "ContactMobile"),
    ("Case", "ContactEmail"),
    ("Case", "ContactFax"),
    ("Task", "IsClosed"),
    ("Task", "IsHighPriority"),
    ("Task", "IsArchived"),
    ("Task", "CompletedDateTime"),
    ("Attachment", "BodyLength"),
    ("ContentVersion", "IsLatest"),
    ("ContentVersion", "ContentSize"),
    ("ContentVersion", "FileType"),
    ("ContentVersion", "FileExtension"),
    ("ContentVersion", "VersionNumber"),
    ("ContentVersion", "RatingCount"),
    ("ContentVersion", "PositiveRatingCount"),
    ("ContentVersion", "NegativeRatingCount"),
    ("ContentVersion", "PublishStatus"),
    ("ContentVersion", "ContentModifiedById"),
];

/// Fields set on create and fixed afterwards.
const CREATE_ONLY: &[(&str, &str)] = &[
    ("Attachment", "ParentId"),
    ("ContentVersion", "ContentDocumentId"),
    ("ContentVersion", "FirstPublishLocationId"),
    ("ContentVersion", "PathOnClient"),
    ("ContentVersion", "VersionData"),
    ("Project__c", "Account__c"),
];

/// Fields a create must set (not nillable, no default).
const REQUIRED: &[(&str, &str)] = &[
    ("Account", "Name"),
    ("Contact", "LastName"),
    ("Opportunity", "Name"),
    ("Opportunity", "StageName"),
    ("Opportunity", "CloseDate"),
    ("Project__c", "Account__c"),
    ("Attachment", "Name"),
    ("Attachment", "Body"),
    ("Attachment", "ParentId"),
    ("ContentVersion", "PathOnClient"),
    ("ContentVersion", "VersionData"),
    ("User", "Username"),
    ("User", "LastName"),
    ("User", "Email"),
    ("User", "Alias"),
];

/// Unique lookup fields: (object, field, is an external id).
const UNIQUE: &[(&str, &str, bool)] = &[
    ("Project__c", "External_Id__c", true),
    ("User", "Username", false),
    ("Case", "CaseNumber", false),
];

/// Picklist fields of the standard objects and the generator's custom object.
const PICKLISTS: &[&str] = &[
    "Type",
    "Industry",
    "Ownership",
    "Rating",
    "AccountSource",
    "CleanStatus",
    "LeadSource",
    "Salutation",
    "StageName",
    "ForecastCategory",
    "ForecastCategoryName",
    "Status",
    "Reason",
    "Origin",
    "Priority",
    "TaskSubtype",
    "CallType",
    "Status__c",
    "TimeZoneSidKey",
    "LocaleSidKey",
    "EmailEncodingKey",
    "LanguageLocaleKey",
    "UserType",
    "PublishStatus",
    "SharingOption",
    "SharingPrivacy",
    "Origin",
];

/// The standard type of a field whose values alone would be ambiguous (or always null).
fn standard_type(object: &str, field: &str) -> Option<FieldType> {
    if field == "Id" {
        return Some(FieldType::Id);
    }
    if PICKLISTS.contains(&field) || field.ends_with("GeocodeAccuracy") {
        return Some(FieldType::Picklist);
    }
    Some(match field {
        "Phone" | "Fax" | "MobilePhone" | "ContactPhone" | "ContactMobile" | "ContactFax"
        | "SuppliedPhone" => FieldType::Phone,
        "Email" | "ContactEmail" | "SuppliedEmail" => FieldType::Email,
        "Website" | "PhotoUrl" | "ContentUrl" => FieldType::Url,
        "Description" | "Description__c" | "Comments" | "BillingStreet" | "ShippingStreet"
        | "MailingStreet" | "TextPreview" => FieldType::Textarea,
        "NumberOfEmployees"
        | "PushCount"
        | "FiscalQuarter"
        | "FiscalYear"
        | "CallDurationInSeconds"
        | "RatingCount"
        | "PositiveRatingCount"
        | "NegativeRatingCount"
        | "ContentSize"
        | "BodyLength" => FieldType::Int,
        "AnnualRevenue" | "Amount" | "ExpectedRevenue" | "Budget__c" => FieldType::Currency,
        "Probability" => FieldType::Percent,
        "TotalOpportunityQuantity" => FieldType::Double,
        "BillingAddress" | "ShippingAddress" | "MailingAddress" => FieldType::Address,
        "Body" if object == "Attachment" || object == "Document" => FieldType::Base64,
        "VersionData" if object == "ContentVersion" => FieldType::Base64,
        "LastActivityDate" | "Birthdate" | "CloseDate" | "ActivityDate" | "Start_Date__c"
        | "End_Date__c" | "EmailBouncedDate" | "ArchivedDate" => {
            if field == "EmailBouncedDate" {
                FieldType::DateTime
            } else {
                FieldType::Date
            }
        }
        "ReminderDateTime" | "ClosedDate" | "LastLoginDate" | "ContentModifiedDate" => {
            FieldType::DateTime
        }
        "MasterRecordId"
        | "CampaignId"
        | "Pricebook2Id"
        | "RecurrenceActivityId"
        | "ArchivedById"
        | "ContentAssetId" => FieldType::Reference,
        "JigsawCompanyId" | "JigsawContactId" | "CallObject" => FieldType::String,
        _ if field.ends_with("Latitude") || field.ends_with("Longitude") => FieldType::Double,
        _ => return None,
    })
}

/// Targets of reference fields the generator's schema does not list.
fn extra_targets(object: &str, field: &str) -> Vec<String> {
    let targets: &[&str] = match field {
        "MasterRecordId" => return vec![object.to_owned()],
        "CampaignId" => &["Campaign"],
        "Pricebook2Id" => &["Pricebook2"],
        "RecurrenceActivityId" => &["Task"],
        "ArchivedById" => &["User"],
        "ContentAssetId" => &["ContentAsset"],
        "ParentId" if object == "ContentDocument" => &["ContentWorkspace"],
        _ => &[],
    };
    targets.iter().map(|s| (*s).to_owned()).collect()
}

/// What a column's values say about its type.
#[derive(Debug, Default)]
struct Evidence {
    non_null: usize,
    bools: usize,
    ints: usize,
    floats: usize,
    datetimes: usize,
    dates: usize,
    ids: usize,
    objects: usize,
    max_len: usize,
    multiline: bool,
    id_prefixes: BTreeSet<String>,
    distinct: BTreeSet<String>,
}

impl Evidence {
    fn add(&mut self, value: &Value) {
        match value {
            Value::Null => return,
            Value::Bool(_) => self.bools += 1,
            Value::Number(n) => {
                if n.is_f64() {
                    self.floats += 1;
                } else {
                    self.ints += 1;
                }
            }
            Value::String(s) => {
                self.max_len = self.max_len.max(s.chars().count());
                self.multiline |= s.contains('\n');
                if crate::time::parse_datetime(s).is_some() {
                    self.datetimes += 1;
                } else if crate::time::parse_date(s).is_some() {
                    self.dates += 1;
                } else if s.len() == 18 && s.parse::<SfId>().is_ok() {
                    self.ids += 1;
                    if self.id_prefixes.len() < 8 {
                        self.id_prefixes.insert(s[..3].to_owned());
                    }
                }
                if self.distinct.len() < 200 {
                    self.distinct.insert(s.clone());
                }
            }
            Value::Array(_) | Value::Object(_) => self.objects += 1,
        }
        self.non_null += 1;
    }

    fn infer(&self, field: &str) -> FieldType {
        let n = self.non_null;
        if n == 0 {
            if field.ends_with("DateTime") || field.ends_with("Date") {
                return FieldType::DateTime;
            }
            if field.starts_with("Is") || field.starts_with("Has") {
                return FieldType::Boolean;
            }
            return FieldType::String;
        }
        let money = ["Amount", "Revenue", "Price", "Budget", "Cost"]
            .iter()
            .any(|w| field.contains(w));
        if self.bools == n {
            FieldType::Boolean
        } else if self.ints + self.floats == n {
            if money {
                FieldType::Currency
            } else if self.floats == 0 {
                FieldType::Int
            } else {
                FieldType::Double
            }
        } else if self.datetimes == n {
            FieldType::DateTime
        } else if self.dates == n {
            FieldType::Date
        } else if self.ids == n && (field.ends_with("Id") || field.ends_with("__c")) {
            FieldType::Reference
        } else if self.objects == n {
            FieldType::Address
        } else if self.multiline || self.max_len > 255 {
            FieldType::Textarea
        } else {
            FieldType::String
        }
    }
}

/// `AccountId` -> `Account`, `Account__c` -> `Account__r`.
fn relationship_name(field: &str) -> Option<String> {
    if let Some(stem) = field.strip_suffix("__c") {
        return Some(format!("{stem}__r"));
    }
    field
        .strip_suffix("Id")
        .filter(|stem| !stem.is_empty())
        .map(str::to_owned)
}

/// `Primary_Contact__c` -> `Primary Contact`, `AccountNumber` -> `Account Number`.
fn label_of(name: &str) -> String {
    let stem = name.strip_suffix("__c").unwrap_or(name);
    if stem.contains('_') {
        return stem.replace('_', " ");
    }
    let mut out = String::with_capacity(stem.len() + 4);
    let mut prev_lower = false;
    for c in stem.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c);
    }
    out
}

fn plural(label: &str) -> String {
    if let Some(stem) = label.strip_suffix('y') {
        format!("{stem}ies")
    } else if label.ends_with('s') {
        format!("{label}es")
    } else {
        format!("{label}s")
    }
}

fn has(list: &[(&str, &str)], object: &str, field: &str) -> bool {
    list.iter().any(|(o, f)| *o == object && *f == field)
}

/// Builds one field's metadata from its name, object, values and the known prefixes.
fn field_def(
    object: &str,
    name: &str,
    evidence: &Evidence,
    prefixes: &HashMap<String, String>,
) -> FieldDef {
    let schema_ref =
        schema::object(object).and_then(|o| o.references.iter().find(|r| r.field == name));
    let ty = if schema_ref.is_some() {
        FieldType::Reference
    } else {
        standard_type(object, name).unwrap_or_else(|| evidence.infer(name))
    };
    let custom = name.ends_with("__c");
    let (reference_to, ref_kind) = match (ty, schema_ref) {
        (_, Some(r)) => (
            r.targets.iter().map(|s| (*s).to_owned()).collect(),
            Some(match r.kind {
                RelationshipKind::Lookup => RefKind::Lookup,
                RelationshipKind::MasterDetail => RefKind::MasterDetail,
            }),
        ),
        (FieldType::Reference, None) => {
            let mut targets = extra_targets(object, name);
            if targets.is_empty() {
                targets = evidence
                    .id_prefixes
                    .iter()
                    .filter_map(|p| prefixes.get(p).cloned())
                    .collect();
            }
            (targets, Some(RefKind::Lookup))
        }
        _ => (Vec::new(), None),
    };
    let relationship_name = ref_kind.and_then(|_| relationship_name(name));
    let is_compound_part = ["Billing", "Shipping", "Mailing"].iter().any(|p| {
        name.strip_prefix(p).is_some_and(|rest| {
            matches!(
                rest,
                "Street"
                    | "City"
                    | "State"
                    | "PostalCode"
                    | "Country"
                    | "Latitude"
                    | "Longitude"
                    | "GeocodeAccuracy"
            )
        })
    });
    let compound_field_name = if is_compound_part {
        ["Billing", "Shipping", "Mailing"]
            .iter()
            .find(|p| name.starts_with(*p))
            .map(|p| format!("{p}Address"))
    } else if matches!(name, "FirstName" | "LastName" | "Salutation")
        && matches!(object, "Contact" | "User")
    {
        Some("Name".to_owned())
    } else {
        None
    };
    let system = SYSTEM_FIELDS.contains(&name)
        || has(READ_ONLY, object, name)
        || ty == FieldType::Address
        || (object == "ContentDocument" && name != "Title" && name != "Description");
    let createable = !system;
    let updateable = createable && !has(CREATE_ONLY, object, name);
    let master_detail = ref_kind == Some(RefKind::MasterDetail);
    let required = has(REQUIRED, object, name) || master_detail;
    let defaulted = ty == FieldType::Boolean
        || matches!(
            name,
            "OwnerId" | "Status" | "Priority" | "CleanStatus" | "IsPrivate"
        );
    let nillable = !(required
        || name == "Id"
        || ty == FieldType::Boolean
        || matches!(
            name,
            "CreatedDate"
                | "CreatedById"
                | "LastModifiedDate"
                | "LastModifiedById"
                | "SystemModstamp"
                | "OwnerId"
        ));
    let unique = UNIQUE.iter().find(|(o, f, _)| *o == object && *f == name);
    let (length, precision, scale, digits) = match ty {
        FieldType::Id | FieldType::Reference => (18, 0, 0, 0),
        FieldType::Textarea => {
            if name.ends_with("Street") {
                (255, 0, 0, 0)
            } else {
                (32_000, 0, 0, 0)
            }
        }
        FieldType::Phone => (40, 0, 0, 0),
        FieldType::Email => (80, 0, 0, 0),
        FieldType::String | FieldType::Picklist | FieldType::Url => {
            (evidence.max_len.clamp(255, 131_072) as u32, 0, 0, 0)
        }
        FieldType::Int => (0, 0, 0, 9),
        FieldType::Currency => (0, 18, 2, 0),
        FieldType::Percent => (0, 3, 0, 0),
        FieldType::Double => {
            if name.ends_with("Latitude") || name.ends_with("Longitude") {
                (0, 18, 15, 0)
            } else {
                (0, 18, 2, 0)
            }
        }
        _ => (0, 0, 0, 0),
    };
    let name_field = match object {
        "Case" => name == "CaseNumber",
        "Task" => name == "Subject",
        "ContentVersion" | "ContentDocument" => name == "Title",
        _ => name == "Name",
    };
    FieldDef {
        name: name.to_owned(),
        label: match name {
            "Id" => format!("{} ID", label_of(object)),
            _ => label_of(
                name.strip_suffix("Id")
                    .filter(|_| ref_kind.is_some())
                    .unwrap_or(name),
            ),
        },
        ty,
        reference_to,
        relationship_name,
        ref_kind,
        createable,
        updateable,
        nillable,
        defaulted_on_create: defaulted || SYSTEM_FIELDS.contains(&name),
        unique: unique.is_some(),
        external_id: unique.is_some_and(|u| u.2),
        id_lookup: name == "Id" || unique.is_some() || (name == "Email" && object == "Contact"),
        auto_number: object == "Case" && name == "CaseNumber",
        calculated: has(READ_ONLY, object, name) && !(object == "Case" && name == "CaseNumber"),
        name_field,
        custom,
        compound_field_name,
        length,
        precision,
        scale,
        digits,
        picklist_values: if ty == FieldType::Picklist {
            evidence.distinct.iter().cloned().collect()
        } else {
            Vec::new()
        },
    }
}

/// Object-level flags.
fn object_def(name: &str, key_prefix: Option<String>, fields: Vec<FieldDef>) -> ObjectDef {
    let label = match name {
        "Project__c" => "Project".to_owned(),
        "ContentVersion" => "Content Version".to_owned(),
        "ContentDocument" => "Content Document".to_owned(),
        _ => label_of(name),
    };
    let has_is_deleted = fields.iter().any(|f| f.name == "IsDeleted");
    let mut def = ObjectDef {
        name: name.to_owned(),
        label_plural: plural(&label),
        label,
        key_prefix,
        custom: name.ends_with("__c"),
        createable: name != "ContentDocument",
        updateable: true,
        deletable: has_is_deleted && name != "User",
        // getUpdated/getDeleted do not track Content objects (GRAX, SALESFORCE_API.md 3.7).
        replicateable: name != "ContentDocument",
        bulk_queryable: name != "Attachment",
        fields,
        field_index: HashMap::new(),
        relationship_index: HashMap::new(),
    };
    def.reindex();
    def
}

/// Tables with metadata for `objects`; records without a valid `Id` are left out (the loader
/// rejects them before this point).
pub(crate) fn build_tables(objects: Vec<ObjectRecords>) -> Vec<Table> {
    // Key prefixes first: reference targets of unknown fields are inferred from them.
    let mut prefixes: HashMap<String, String> = schema::OBJECTS
        .iter()
        .map(|o| (o.key_prefix.to_owned(), o.name.to_owned()))
        .collect();
    let mut object_prefix = HashMap::new();
    for object in &objects {
        let prefix = schema::object(&object.name)
            .map(|o| o.key_prefix.to_owned())
            .or_else(|| {
                object
                    .records
                    .iter()
                    .find_map(|r| r.id())
                    .map(|id| id.key_prefix().to_owned())
            });
        if let Some(p) = &prefix {
            prefixes
                .entry(p.clone())
                .or_insert_with(|| object.name.clone());
        }
        object_prefix.insert(object.name.clone(), prefix);
    }
    objects
        .into_iter()
        .map(|object| {
            let mut names: Vec<String> = vec!["Id".to_owned()];
            let mut positions: HashMap<String, usize> = HashMap::from([("Id".to_owned(), 0)]);
            let mut evidence: Vec<Evidence> = vec![Evidence::default()];
            for record in &object.records {
                for (name, value) in record.fields() {
                    if name == "attributes" {
                        continue;
                    }
                    let at = *positions.entry(name.to_owned()).or_insert_with(|| {
                        names.push(name.to_owned());
                        evidence.push(Evidence::default());
                        names.len() - 1
                    });
                    evidence[at].add(value);
                }
            }
            let fields: Vec<FieldDef> = names
                .iter()
                .zip(&evidence)
                .map(|(name, ev)| field_def(&object.name, name, ev, &prefixes))
                .collect();
            let prefix = object_prefix.remove(&object.name).flatten();
            let def = object_def(&object.name, prefix, fields);
            let types: Vec<FieldType> = def.fields.iter().map(|f| f.ty).collect();
            let is_deleted = def.field("IsDeleted");
            let modstamp = def.field("SystemModstamp");
            let rows = object
                .records
                .iter()
                .filter_map(|record| {
                    let id = record.id()?;
                    let mut cells = vec![Cell::Null; types.len()];
                    for (name, value) in record.fields() {
                        if let Some(&at) = positions.get(name) {
                            cells[at] = Cell::from_json(value, types[at]);
                        }
                    }
                    // A record exported as deleted went to the Recycle Bin when it was last
                    // stamped.
                    let deleted_at = is_deleted.filter(|&c| cells[c] == Cell::Bool(true)).map(
                        |_| match modstamp.map(|c| &cells[c]) {
                            Some(Cell::DateTime(ms)) => *ms,
                            _ => 0,
                        },
                    );
                    Some(Row {
                        id,
                        cells,
                        deleted_at,
                    })
                })
                .collect();
            Table::new(def, rows)
        })
        .collect()
}

fn urls(name: &str) -> Value {
    let base = format!("/services/data/{API_VERSION}/sobjects/{name}");
    json!({
        "sobject": base,
        "describe": format!("{base}/describe"),
        "rowTemplate": format!("{base}/{{ID}}"),
        "compactLayouts": format!("{base}/describe/compactLayouts"),
        "approvalLayouts": format!("{base}/describe/approvalLayouts"),
        "listviews": format!("{base}/listviews"),
        "quickActions": format!("{base}/quickActions"),
        "layouts": format!("{base}/describe/layouts"),
    })
}

/// The describeGlobal entry of one object (also the head of its full describe).
fn object_summary(def: &ObjectDef) -> Map<String, Value> {
    let value = json!({
        "activateable": false,
        "associateEntityType": null,
        "associateParentEntity": null,
        "createable": def.createable,
        "custom": def.custom,
        "customSetting": false,
        "deepCloneable": false,
        "deletable": def.deletable,
        "deprecatedAndHidden": false,
        "feedEnabled": matches!(def.name.as_str(), "Account" | "Contact" | "Opportunity" | "Case" | "User"),
        "hasSubtypes": false,
        "isInterface": false,
        "isSubtype": false,
        "keyPrefix": def.key_prefix,
        "label": def.label,
        "labelPlural": def.label_plural,
        "layoutable": true,
        "mergeable": matches!(def.name.as_str(), "Account" | "Contact" | "Case"),
        "mruEnabled": true,
        "name": def.name,
        "queryable": true,
        "replicateable": def.replicateable,
        "retrieveable": true,
        "searchable": def.name != "Attachment",
        "triggerable": true,
        "undeletable": def.deletable,
        "updateable": def.updateable,
        "urls": urls(&def.name),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn field_json(def: &ObjectDef, f: &FieldDef) -> Value {
    let byte_length = match f.ty {
        FieldType::Id | FieldType::Reference => 18,
        _ => f.length * 3,
    };
    let text = f.ty.is_text() || f.ty.is_id();
    let picklist: Vec<Value> = f
        .picklist_values
        .iter()
        .map(|v| json!({"active": true, "defaultValue": false, "label": v, "validFor": null, "value": v}))
        .collect();
    let master_detail = f.ref_kind == Some(RefKind::MasterDetail);
    let entries: Vec<(&str, Value)> = vec![
        (
            "aggregatable",
            json!(
                f.ty != FieldType::Textarea
                    && f.ty != FieldType::Address
                    && f.ty != FieldType::Base64
            ),
        ),
        ("aiPredictionField", json!(false)),
        ("autoNumber", json!(f.auto_number)),
        ("byteLength", json!(byte_length)),
        ("calculated", json!(f.calculated)),
        ("calculatedFormula", json!(null)),
        ("cascadeDelete", json!(false)),
        ("caseSensitive", json!(false)),
        ("compoundFieldName", json!(f.compound_field_name)),
        ("controllerName", json!(null)),
        ("createable", json!(f.createable)),
        ("custom", json!(f.custom)),
        ("defaultValue", json!(null)),
        ("defaultValueFormula", json!(null)),
        ("defaultedOnCreate", json!(f.defaulted_on_create)),
        ("dependentPicklist", json!(false)),
        ("deprecatedAndHidden", json!(false)),
        ("digits", json!(f.digits)),
        ("displayLocationInDecimal", json!(false)),
        ("encrypted", json!(false)),
        ("externalId", json!(f.external_id)),
        ("extraTypeInfo", json!(null)),
        (
            "filterable",
            json!(f.ty != FieldType::Textarea || f.length <= 255),
        ),
        ("filteredLookupInfo", json!(null)),
        ("formulaTreatNullNumberAsZero", json!(false)),
        (
            "groupable",
            json!(text || f.ty == FieldType::Boolean || f.ty == FieldType::Date),
        ),
        ("highScaleNumber", json!(false)),
        ("htmlFormatted", json!(false)),
        ("idLookup", json!(f.id_lookup)),
        ("inlineHelpText", json!(null)),
        ("label", json!(f.label)),
        ("length", json!(f.length)),
        ("mask", json!(null)),
        ("maskType", json!(null)),
        ("name", json!(f.name)),
        ("nameField", json!(f.name_field)),
        ("namePointing", json!(f.reference_to.len() > 1)),
        ("nillable", json!(f.nillable)),
        ("permissionable", json!(f.nillable && f.updateable)),
        ("picklistValues", json!(picklist)),
        ("polymorphicForeignKey", json!(f.reference_to.len() > 1)),
        ("precision", json!(f.precision)),
        ("queryByDistance", json!(false)),
        ("referenceTargetField", json!(null)),
        ("referenceTo", json!(f.reference_to)),
        ("relationshipName", json!(f.relationship_name)),
        ("relationshipOrder", json!(master_detail.then_some(0))),
        ("restrictedDelete", json!(false)),
        ("restrictedPicklist", json!(false)),
        ("scale", json!(f.scale)),
        ("searchPrefilterable", json!(false)),
        ("soapType", json!(f.ty.soap_type())),
        (
            "sortable",
            json!(
                f.ty != FieldType::Address
                    && f.ty != FieldType::Base64
                    && !(f.ty == FieldType::Textarea && f.length > 255)
            ),
        ),
        ("type", json!(f.ty.api_name())),
        ("unique", json!(f.unique)),
        ("updateable", json!(f.updateable)),
        ("writeRequiresMasterRead", json!(master_detail)),
        ("sObjectName", json!(def.name)),
    ];
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// `GET /sobjects/` body.
pub(crate) fn describe_global(store: &Store) -> Value {
    let sobjects: Vec<Value> = store
        .tables
        .iter()
        .map(|t| Value::Object(object_summary(&t.def)))
        .collect();
    json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})
}

/// `GET /sobjects/T/describe` body.
pub(crate) fn describe(store: &Store, object: &str) -> Result<Value, ApiError> {
    let t = store.table_or_404(object)?;
    let def = &store.tables[t].def;
    let mut body = object_summary(def);
    let fields: Vec<Value> = def
        .fields
        .iter()
        .map(|f| {
            let mut v = field_json(def, f);
            if let Value::Object(m) = &mut v {
                m.remove("sObjectName");
            }
            v
        })
        .collect();
    let mut children = Vec::new();
    for table in &store.tables {
        for f in &table.def.fields {
            if f.reference_to.contains(&def.name) {
                let relationship = if f.custom {
                    Some(format!("{}__r", table.def.label_plural.replace(' ', "_")))
                } else if matches!(f.name.as_str(), "CreatedById" | "LastModifiedById") {
                    None
                } else {
                    Some(table.def.label_plural.replace(' ', ""))
                };
                children.push(json!({
                    "cascadeDelete": f.ref_kind == Some(RefKind::MasterDetail),
                    "childSObject": table.def.name,
                    "deprecatedAndHidden": false,
                    "field": f.name,
                    "junctionIdListNames": [],
                    "junctionReferenceTo": [],
                    "relationshipName": relationship,
                    "restrictedDelete": false,
                }));
            }
        }
    }
    body.insert("fields".into(), Value::Array(fields));
    body.insert("childRelationships".into(), Value::Array(children));
    body.insert("actionOverrides".into(), json!([]));
    body.insert("compactLayoutable".into(), json!(true));
    body.insert("listviewable".into(), Value::Null);
    body.insert("lookupLayoutable".into(), Value::Null);
    body.insert("namedLayoutInfos".into(), json!([]));
    body.insert("networkScopeFieldName".into(), Value::Null);
    body.insert(
        "recordTypeInfos".into(),
        json!([{
            "active": true, "available": true, "defaultRecordTypeMapping": true,
            "developerName": "Master", "master": true, "name": "Master",
            "recordTypeId": "012000000000000AAA",
            "urls": {"layout": format!("/services/data/{API_VERSION}/sobjects/{}/describe/layouts/012000000000000AAA", def.name)}
        }]),
    );
    body.insert("searchLayoutable".into(), json!(true));
    body.insert("sobjectDescribeOption".into(), json!("FULL"));
    body.insert("supportedScopes".into(), json!([]));
    Ok(Value::Object(body))
}

/// `GET /sobjects/T` body.
pub(crate) fn sobject_basic(store: &Store, object: &str) -> Result<Value, ApiError> {
    let t = store.table_or_404(object)?;
    Ok(json!({
        "objectDescribe": Value::Object(object_summary(&store.tables[t].def)),
        "recentItems": [],
    }))
}

/// `/limits/recordCount` body.
pub(crate) fn record_counts(store: &Store, objects: Option<&[String]>) -> Value {
    let counts = store.live_counts();
    let entries: Vec<Value> = store
        .tables
        .iter()
        .filter(|t| {
            objects.is_none_or(|list| list.iter().any(|o| o.eq_ignore_ascii_case(&t.def.name)))
        })
        .map(
            |t| json!({"count": counts.get(&t.def.name).copied().unwrap_or(0), "name": t.def.name}),
        )
        .collect();
    json!({"sObjects": entries})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels() {
        assert_eq!(relationship_name("AccountId").as_deref(), Some("Account"));
        assert_eq!(
            relationship_name("Account__c").as_deref(),
            Some("Account__r")
        );
        assert_eq!(relationship_name("Id"), None);
        assert_eq!(label_of("AccountNumber"), "Account Number");
        assert_eq!(label_of("Primary_Contact__c"), "Primary Contact");
        assert_eq!(plural("Opportunity"), "Opportunities");
    }

    #[test]
    fn inference_from_values() {
        let mut ev = Evidence::default();
        for v in [json!("2024-01-01T00:00:00.000+0000"), Value::Null] {
            ev.add(&v);
        }
        assert_eq!(ev.infer("Foo__c"), FieldType::DateTime);
        let mut ev = Evidence::default();
        ev.add(&json!(1.5));
        ev.add(&json!(2));
        assert_eq!(ev.infer("Weight__c"), FieldType::Double);
        assert_eq!(ev.infer("Price__c"), FieldType::Currency);
        let mut ev = Evidence::default();
        ev.add(&json!("001A0000006Vm9rIAC"));
        assert_eq!(ev.infer("OtherId"), FieldType::Reference);
        assert_eq!(ev.infer("Code"), FieldType::String);
    }
}
