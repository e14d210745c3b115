//! Discovery: `describeGlobal`, `describe`, and the per-object read plan derived from them.
//!
//! Describe drives everything: whether an object can be read at all (`queryable`), whether
//! change capture works (`replicateable`), which fields are selected (compound `address`/
//! `location` fields are dropped because Bulk refuses them and their components are selected
//! anyway; `base64` fields are dropped because their bytes come from the blob path), and how a
//! Bulk CSV cell is typed.

use serde::Deserialize;

/// One entry of `GET /services/data/` (API versions).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiVersion {
    /// `"62.0"`.
    pub version: String,
    /// `"/services/data/v62.0"`.
    pub url: String,
    /// `"Winter '25"`.
    #[serde(default)]
    pub label: String,
}

/// `GET /sobjects/` body.
#[derive(Debug, Clone, Deserialize)]
pub struct DescribeGlobal {
    /// `"UTF-8"`.
    #[serde(default)]
    pub encoding: String,
    /// `200`.
    #[serde(rename = "maxBatchSize", default)]
    pub max_batch_size: u32,
    /// The objects.
    pub sobjects: Vec<GlobalSObject>,
}

/// One object of `describeGlobal`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalSObject {
    /// API name.
    pub name: String,
    /// Key prefix (`001`), absent for some objects.
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Custom object.
    #[serde(default)]
    pub custom: bool,
    /// SOQL can read it.
    #[serde(default)]
    pub queryable: bool,
    /// Records can be retrieved by Id.
    #[serde(default)]
    pub retrieveable: bool,
    /// getUpdated/getDeleted are allowed.
    #[serde(default)]
    pub replicateable: bool,
    /// Records can be created (restore).
    #[serde(default)]
    pub createable: bool,
    /// Records can be updated (restore).
    #[serde(default)]
    pub updateable: bool,
    /// Records can be deleted.
    #[serde(default)]
    pub deletable: bool,
    /// Hidden and deprecated.
    #[serde(default)]
    pub deprecated_and_hidden: bool,
}

/// `GET /sobjects/{T}/describe` body (the parts the client uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SObjectDescribe {
    /// API name.
    pub name: String,
    /// SOQL can read it.
    #[serde(default)]
    pub queryable: bool,
    /// Records can be retrieved by Id.
    #[serde(default)]
    pub retrieveable: bool,
    /// getUpdated/getDeleted are allowed.
    #[serde(default)]
    pub replicateable: bool,
    /// Records can be created.
    #[serde(default)]
    pub createable: bool,
    /// Records can be updated.
    #[serde(default)]
    pub updateable: bool,
    /// The fields.
    pub fields: Vec<FieldDescribe>,
}

/// One field of a describe.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescribe {
    /// API name.
    pub name: String,
    /// Salesforce type name (`id`, `string`, `datetime`, `address`, `base64`, ...).
    #[serde(rename = "type")]
    pub field_type: String,
    /// Can be null.
    #[serde(default)]
    pub nillable: bool,
    /// Writable on create.
    #[serde(default)]
    pub createable: bool,
    /// Writable on update.
    #[serde(default)]
    pub updateable: bool,
    /// External Id (upsert key).
    #[serde(default)]
    pub external_id: bool,
    /// Can identify a record.
    #[serde(default)]
    pub id_lookup: bool,
    /// Formula field.
    #[serde(default)]
    pub calculated: bool,
    /// The compound field this one is a component of (`BillingAddress`).
    #[serde(default)]
    pub compound_field_name: Option<String>,
    /// Objects a reference points to.
    #[serde(default)]
    pub reference_to: Vec<String>,
    /// Hidden and deprecated.
    #[serde(default)]
    pub deprecated_and_hidden: bool,
}

/// How a field's value is typed when decoded from Bulk CSV (REST JSON is already typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Kept as a string (ids, text, picklists, dates, times, ...).
    Text,
    /// `true`/`false`.
    Boolean,
    /// An integer (`int`, `long`).
    Integer,
    /// A floating-point number (`double`, `currency`, `percent`).
    Number,
    /// A datetime, normalised to the REST form `…+0000`.
    DateTime,
}

impl ValueKind {
    /// The kind for a describe `type`. Unknown types are text: a new Salesforce type must not
    /// stop a backup.
    pub fn of(field_type: &str) -> Self {
        match field_type {
            "boolean" => ValueKind::Boolean,
            "int" | "long" => ValueKind::Integer,
            "double" | "currency" | "percent" => ValueKind::Number,
            "datetime" => ValueKind::DateTime,
            _ => ValueKind::Text,
        }
    }
}

/// A selected field: its name and how to type it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// API name.
    pub name: String,
    /// Decoding kind.
    pub kind: ValueKind,
}

/// The read plan for one object, decided from its describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPlan {
    /// API name.
    pub object: String,
    /// SOQL can read it; if false nothing else applies.
    pub queryable: bool,
    /// getUpdated/getDeleted work.
    pub replicateable: bool,
    /// `SystemModstamp` exists, so windows and incremental cursors work.
    pub has_system_modstamp: bool,
    /// `IsDeleted` exists, so queryAll shows soft deletes.
    pub has_is_deleted: bool,
    /// Fields to select, `Id` first, in describe order otherwise. Identical for Bulk and REST
    /// so both paths produce the same records.
    pub fields: Vec<FieldSpec>,
    /// Compound fields left out (their components are selected).
    pub compound_fields: Vec<String>,
    /// `base64` fields left out: read through [`crate::SalesforceApi::download_blob`].
    pub blob_fields: Vec<String>,
}

impl ObjectPlan {
    /// Derives the plan from a describe.
    pub fn from_describe(d: &SObjectDescribe) -> Self {
        let mut fields = Vec::with_capacity(d.fields.len());
        let mut compound_fields = Vec::new();
        let mut blob_fields = Vec::new();
        for f in &d.fields {
            match f.field_type.as_str() {
                "address" | "location" => compound_fields.push(f.name.clone()),
                "base64" => blob_fields.push(f.name.clone()),
                other => {
                    let spec = FieldSpec {
                        name: f.name.clone(),
                        kind: ValueKind::of(other),
                    };
                    if f.name == "Id" {
                        fields.insert(0, spec);
                    } else {
                        fields.push(spec);
                    }
                }
            }
        }
        let has = |n: &str| fields.iter().any(|f| f.name == n);
        ObjectPlan {
            object: d.name.clone(),
            queryable: d.queryable,
            replicateable: d.replicateable,
            has_system_modstamp: has("SystemModstamp"),
            has_is_deleted: has("IsDeleted"),
            fields,
            compound_fields,
            blob_fields,
        }
    }

    /// `SELECT f1,f2,… FROM Object` (no WHERE).
    pub fn select(&self) -> String {
        let mut q = String::from("SELECT ");
        for (i, f) in self.fields.iter().enumerate() {
            if i > 0 {
                q.push(',');
            }
            q.push_str(&f.name);
        }
        q.push_str(" FROM ");
        q.push_str(&self.object);
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shape of restforce spec/fixtures/sobject/sobject_describe_success_response.json, trimmed.
    const DESCRIBE: &str = r#"{"name":"Account","queryable":true,"replicateable":true,
      "retrieveable":true,"createable":true,"updateable":true,"fields":[
      {"name":"IsDeleted","type":"boolean","nillable":false},
      {"name":"Id","type":"id","nillable":false,"idLookup":true},
      {"name":"Name","type":"string","nillable":false,"createable":true,"updateable":true},
      {"name":"BillingCity","type":"string","compoundFieldName":"BillingAddress","nillable":true},
      {"name":"BillingAddress","type":"address","nillable":true},
      {"name":"Loc__c","type":"location","nillable":true},
      {"name":"NumberOfEmployees","type":"int","nillable":true},
      {"name":"AnnualRevenue","type":"currency","nillable":true},
      {"name":"Logo__c","type":"base64","nillable":true},
      {"name":"SystemModstamp","type":"datetime","nillable":false},
      {"name":"Ext__c","type":"string","externalId":true,"referenceTo":[]}]}"#;

    #[test]
    fn plan_drops_compound_and_base64() {
        let d: SObjectDescribe = serde_json::from_str(DESCRIBE).unwrap();
        let p = ObjectPlan::from_describe(&d);
        assert!(p.queryable && p.replicateable && p.has_system_modstamp && p.has_is_deleted);
        assert_eq!(p.fields[0].name, "Id");
        assert_eq!(p.compound_fields, vec!["BillingAddress", "Loc__c"]);
        assert_eq!(p.blob_fields, vec!["Logo__c"]);
        assert_eq!(
            p.select(),
            "SELECT Id,IsDeleted,Name,BillingCity,NumberOfEmployees,AnnualRevenue,SystemModstamp,Ext__c FROM Account"
        );
        let kind = |n: &str| p.fields.iter().find(|f| f.name == n).map(|f| f.kind);
        assert_eq!(kind("IsDeleted"), Some(ValueKind::Boolean));
        assert_eq!(kind("NumberOfEmployees"), Some(ValueKind::Integer));
        assert_eq!(kind("AnnualRevenue"), Some(ValueKind::Number));
        assert_eq!(kind("SystemModstamp"), Some(ValueKind::DateTime));
        assert_eq!(kind("Name"), Some(ValueKind::Text));
        assert!(d.fields.iter().any(|f| f.external_id));
    }

    #[test]
    fn parses_describe_global_and_versions() {
        let body = r#"{"encoding":"UTF-8","maxBatchSize":200,"sobjects":[
          {"name":"Account","label":"Account","labelPlural":"Accounts","keyPrefix":"001","custom":false,
           "customSetting":false,"createable":true,"updateable":true,"deletable":true,"undeletable":true,
           "mergeable":true,"queryable":true,"retrieveable":true,"replicateable":true,"searchable":true,
           "triggerable":true,"layoutable":true,"feedEnabled":true,"deprecatedAndHidden":false,
           "activateable":false,"deepCloneable":false,"isSubtype":false,"isInterface":false,
           "hasSubtypes":false,"mruEnabled":true,"associateEntityType":null,"associateParentEntity":null,
           "urls":{"sobject":"/services/data/v62.0/sobjects/Account"}},
          {"name":"AccountChangeEvent","keyPrefix":null,"queryable":false,"replicateable":false,
           "urls":{}}]}"#;
        let g: DescribeGlobal = serde_json::from_str(body).unwrap();
        assert_eq!(g.max_batch_size, 200);
        assert_eq!(g.sobjects.len(), 2);
        assert!(g.sobjects[0].queryable && g.sobjects[0].replicateable);
        assert_eq!(g.sobjects[1].key_prefix, None);
        assert!(!g.sobjects[1].queryable);

        let v: Vec<ApiVersion> = serde_json::from_str(
            r#"[{"version":"20.0","url":"/services/data/v20.0","label":"Winter '11"}]"#,
        )
        .unwrap();
        assert_eq!(v[0].version, "20.0");
    }
}
