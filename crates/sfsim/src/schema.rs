//! The object types the simulated org holds: API name, key prefix, and the relationship fields
//! with the types they may point at. The generator, its tests and (later) the describe endpoint
//! read this one table.

/// How a relationship field ties a child to its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationshipKind {
    /// Optional pointer; the child lives on if the parent is deleted.
    Lookup,
    /// Required pointer; the child has no owner of its own and is deleted with the parent.
    MasterDetail,
}

/// One relationship (reference) field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    /// Field API name, e.g. `AccountId`.
    pub field: &'static str,
    /// Object types the field may point at (polymorphic fields name several).
    pub targets: &'static [&'static str],
    /// Lookup or master-detail.
    pub kind: RelationshipKind,
}

/// One object type of the simulated org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectSchema {
    /// API name, e.g. `Account` or `Project__c`.
    pub name: &'static str,
    /// The 3-character Id prefix, e.g. `001`.
    pub key_prefix: &'static str,
    /// Relationship fields, audit fields included.
    pub references: &'static [Reference],
}

const fn lookup(field: &'static str, targets: &'static [&'static str]) -> Reference {
    Reference {
        field,
        targets,
        kind: RelationshipKind::Lookup,
    }
}

const USERS: &[&str] = &["User"];

/// Audit references every object carries.
macro_rules! audited {
    ($($extra:expr),* $(,)?) => {
        &[
            lookup("CreatedById", USERS),
            lookup("LastModifiedById", USERS),
            $($extra,)*
        ]
    };
}

/// Every object type the generator produces, parents before children.
pub const OBJECTS: &[ObjectSchema] = &[
    ObjectSchema {
        name: "User",
        key_prefix: "005",
        references: audited!(),
    },
    ObjectSchema {
        name: "Account",
        key_prefix: "001",
        references: audited!(lookup("OwnerId", USERS), lookup("ParentId", &["Account"])),
    },
    ObjectSchema {
        name: "Contact",
        key_prefix: "003",
        references: audited!(
            lookup("OwnerId", USERS),
            lookup("AccountId", &["Account"]),
            lookup("ReportsToId", &["Contact"]),
        ),
    },
    ObjectSchema {
        name: "Opportunity",
        key_prefix: "006",
        references: audited!(
            lookup("OwnerId", USERS),
            lookup("AccountId", &["Account"]),
            lookup("ContactId", &["Contact"]),
        ),
    },
    ObjectSchema {
        name: "Case",
        key_prefix: "500",
        references: audited!(
            lookup("OwnerId", USERS),
            lookup("AccountId", &["Account"]),
            lookup("ContactId", &["Contact"]),
        ),
    },
    ObjectSchema {
        name: "Task",
        key_prefix: "00T",
        references: audited!(
            lookup("OwnerId", USERS),
            lookup("WhoId", &["Contact"]),
            lookup("WhatId", &["Account", "Opportunity", "Case"]),
            lookup("AccountId", &["Account"]),
        ),
    },
    ObjectSchema {
        name: "Project__c",
        key_prefix: "a0X",
        references: audited!(
            Reference {
                field: "Account__c",
                targets: &["Account"],
                kind: RelationshipKind::MasterDetail,
            },
            lookup("Primary_Contact__c", &["Contact"]),
        ),
    },
    ObjectSchema {
        name: "ContentDocument",
        key_prefix: "069",
        references: audited!(
            lookup("OwnerId", USERS),
            lookup("LatestPublishedVersionId", &["ContentVersion"]),
        ),
    },
    ObjectSchema {
        name: "ContentVersion",
        key_prefix: "068",
        references: audited!(
            lookup("OwnerId", USERS),
            lookup("ContentDocumentId", &["ContentDocument"]),
            lookup("ContentModifiedById", USERS),
            lookup(
                "FirstPublishLocationId",
                &["Account", "Opportunity", "Case"]
            ),
        ),
    },
    ObjectSchema {
        name: "Attachment",
        key_prefix: "00P",
        references: audited!(
            lookup("OwnerId", USERS),
            lookup("ParentId", &["Account", "Opportunity", "Case"]),
        ),
    },
];

/// The schema of object type `name`.
pub fn object(name: &str) -> Option<&'static ObjectSchema> {
    OBJECTS.iter().find(|o| o.name == name)
}

/// The object type whose Ids start with `key_prefix`.
pub fn object_by_prefix(key_prefix: &str) -> Option<&'static ObjectSchema> {
    OBJECTS.iter().find(|o| o.key_prefix == key_prefix)
}
