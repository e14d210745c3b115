//! Lifecycle events: what every key-ring change reports, for the caller's audit log.

use serde::Serialize;

use crate::context::OrgId;
use crate::ring::KeyOrigin;

/// One committed lifecycle change of an org's key ring.
///
/// Every [`KeyManager`](crate::KeyManager) operation that changes a ring returns one after the
/// change is durably written (never before, never for a change that failed). The caller adds
/// who asked and from where, and appends it to its audit log; `Serialize` gives a stable JSON
/// shape (`{"org": ..., "generation": ..., "at": ..., "action": "key.rotated", ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEvent {
    /// The org whose ring changed.
    pub org: OrgId,
    /// The ring generation the change produced.
    pub generation: u64,
    /// When it happened (Unix seconds, from the manager's clock).
    pub at: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: KeyEventKind,
}

/// What a [`KeyEvent`] records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action")]
#[non_exhaustive]
pub enum KeyEventKind {
    /// A ring was created with its first version.
    #[serde(rename = "key.ring-created")]
    RingCreated {
        /// The first version (1).
        version: u32,
        /// The root key that wraps it.
        root_key_id: String,
        /// Generated, or imported by the org.
        origin: KeyOrigin,
    },
    /// A new primary version; the previous primary, if any, became decrypt-only.
    #[serde(rename = "key.rotated")]
    Rotated {
        /// The new primary.
        version: u32,
        /// The superseded primary.
        previous: Option<u32>,
        /// Generated, or imported by the org.
        origin: KeyOrigin,
        /// Whether the rotation period triggered it.
        automatic: bool,
    },
    /// A version became decrypt-only.
    #[serde(rename = "key.retired")]
    Retired {
        /// The version.
        version: u32,
    },
    /// A version's key material was erased.
    #[serde(rename = "key.destroyed")]
    Destroyed {
        /// The version.
        version: u32,
    },
    /// Every remaining version was destroyed: the org's data is unreadable for good.
    #[serde(rename = "key.shredded")]
    Shredded {
        /// The versions destroyed by this call.
        versions: Vec<u32>,
    },
    /// The minimum decryption version changed.
    #[serde(rename = "key.min-decryption-version-set")]
    MinDecryptionVersionSet {
        /// The old minimum.
        from: u32,
        /// The new minimum.
        to: u32,
    },
    /// The automatic rotation period changed.
    #[serde(rename = "key.rotation-period-set")]
    RotationPeriodSet {
        /// The new period in seconds; `None` turns automatic rotation off.
        seconds: Option<u64>,
    },
    /// The ring moved to another root key (every live KEK rewrapped under it).
    #[serde(rename = "key.root-changed")]
    RootKeyChanged {
        /// The old root key.
        from: String,
        /// The new root key.
        to: String,
    },
    /// A rewrap finished: every data key seen now sits under `target_version`.
    #[serde(rename = "key.rewrap-completed")]
    RewrapCompleted {
        /// The version data keys were moved to.
        target_version: u32,
        /// Wrapped data keys examined.
        scanned: u64,
        /// Of those, rewrapped by this operation.
        rewrapped: u64,
    },
}

impl KeyEventKind {
    /// The stable action name (`key.rotated`, `key.destroyed`...).
    pub fn action(&self) -> &'static str {
        match self {
            KeyEventKind::RingCreated { .. } => "key.ring-created",
            KeyEventKind::Rotated { .. } => "key.rotated",
            KeyEventKind::Retired { .. } => "key.retired",
            KeyEventKind::Destroyed { .. } => "key.destroyed",
            KeyEventKind::Shredded { .. } => "key.shredded",
            KeyEventKind::MinDecryptionVersionSet { .. } => "key.min-decryption-version-set",
            KeyEventKind::RotationPeriodSet { .. } => "key.rotation-period-set",
            KeyEventKind::RootKeyChanged { .. } => "key.root-changed",
            KeyEventKind::RewrapCompleted { .. } => "key.rewrap-completed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_their_action_name() {
        let event = KeyEvent {
            org: OrgId::new("00D000000000001").unwrap(),
            generation: 4,
            at: 1_700_000_000,
            kind: KeyEventKind::Destroyed { version: 2 },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["action"], event.kind.action());
        assert_eq!(json["org"], "00D000000000001");
        assert_eq!(json["version"], 2);
        assert_eq!(json["generation"], 4);
    }
}
