//! A record in the REST shape: an ordered list of fields, `attributes` first, then `Id`, then
//! the object's fields in describe order. Order is kept on purpose (serde_json's map sorts keys
//! unless a crate-wide feature is switched on, which would change every other crate's maps).

use std::borrow::Cow;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::ids::SfId;

/// One Salesforce record: field name and JSON value, in field order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    fields: Vec<(Cow<'static, str>, Value)>,
}

impl Record {
    /// An empty record (fields are added with [`Record::push`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a field; a later field of the same name does not replace an earlier one, so
    /// callers push each name once.
    pub fn push(&mut self, name: impl Into<Cow<'static, str>>, value: impl Into<Value>) {
        self.fields.push((name.into(), value.into()));
    }

    /// The fields in order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_ref(), value))
    }

    /// Replaces the value of field `name`; returns false (and changes nothing) when the
    /// record has no such field.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> bool {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some((_, slot)) => {
                *slot = value.into();
                true
            }
            None => false,
        }
    }

    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The string value of field `name` (None for null, absent or non-string fields).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// The record's Id, when its `Id` field holds a valid one.
    pub fn id(&self) -> Option<SfId> {
        self.get_str("Id").and_then(|s| s.parse().ok())
    }

    /// The object type named in `attributes.type`.
    pub fn object_type(&self) -> Option<&str> {
        self.get("attributes")
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
    }

    /// The record as one line of JSON (no trailing newline).
    pub fn to_json(&self) -> String {
        // Serialising strings and numbers that serde_json produced cannot fail; the fallback
        // keeps this infallible without a panic path.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (name, value) in &self.fields {
            map.serialize_entry(name.as_ref(), value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedFields;

        impl<'de> Visitor<'de> for OrderedFields {
            type Value = Record;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object (one Salesforce record)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Record, A::Error> {
                let mut record = Record::new();
                while let Some((name, value)) = access.next_entry::<String, Value>()? {
                    record.fields.push((Cow::Owned(name), value));
                }
                Ok(record)
            }
        }

        deserializer.deserialize_map(OrderedFields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_order_survives_json() {
        let mut record = Record::new();
        record.push(
            "attributes",
            serde_json::json!({"type": "Account", "url": "/x"}),
        );
        record.push("Id", "001A0000006Vm9rIAC");
        record.push("Zeta", 1);
        record.push("Alpha", Value::Null);
        let line = record.to_json();
        assert_eq!(
            line,
            r#"{"attributes":{"type":"Account","url":"/x"},"Id":"001A0000006Vm9rIAC","Zeta":1,"Alpha":null}"#
        );
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, record);
        assert_eq!(back.object_type(), Some("Account"));
        assert_eq!(
            back.id().map(|id| id.to_string()).as_deref(),
            Some("001A0000006Vm9rIAC")
        );
    }
}
