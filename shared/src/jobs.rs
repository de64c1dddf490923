//! Job kinds. Each kind names one handler in the worker; payloads are versioned JSON.

use serde::{Deserialize, Serialize};

/// The kinds of work the producer hands to workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    SyncLocations,
    SyncAccount,
    SyncContacts,
    UpsertContact,
    VoicemailFollowUp,
    TagCall,
    RenewSubscription,
}

impl JobKind {
    /// Every kind, in a stable order (used by inspection and metrics).
    pub const ALL: [JobKind; 7] = [
        JobKind::SyncLocations,
        JobKind::SyncAccount,
        JobKind::SyncContacts,
        JobKind::UpsertContact,
        JobKind::VoicemailFollowUp,
        JobKind::TagCall,
        JobKind::RenewSubscription,
    ];

    /// The kind's name as it appears in Redis keys, logs and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::SyncLocations => "sync_locations",
            JobKind::SyncAccount => "sync_account",
            JobKind::SyncContacts => "sync_contacts",
            JobKind::UpsertContact => "upsert_contact",
            JobKind::VoicemailFollowUp => "voicemail_follow_up",
            JobKind::TagCall => "tag_call",
            JobKind::RenewSubscription => "renew_subscription",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for kind in JobKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
