//! Reading a job's payload: the versioned types of `snapsync::jobs` ([`Payload::decode`]);
//! an unknown version or shape is a permanent error, retrying cannot make it readable.

use serde_json::Value;
use snapsync::jobs::Payload;

use super::failure::HandlerError;

/// Decodes `payload` (as the worker runtime handed it over) as `T`.
pub fn decode<T: Payload>(payload: &Value) -> Result<T, HandlerError> {
    T::decode(&payload.to_string()).map_err(|e| HandlerError::Payload(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use snapsync::jobs::{SyncLocations, UpsertContact};

    #[test]
    fn decodes_and_refuses_bad_payloads() {
        let p: UpsertContact =
            decode(&json!({"v": 1, "extension_id": "1", "contact_id": "5", "contact": {"id": "5"}})).expect("decodes");
        assert_eq!(p.contact_id, "5");
        let e = decode::<UpsertContact>(&json!({"v": 1, "contact": {}})).unwrap_err();
        assert!(e.to_string().contains("upsert_contact payload") && e.to_string().contains("extension_id"), "{e}");
        let e = decode::<SyncLocations>(&json!({"v": 2, "trigger": {"type": "manual"}})).unwrap_err();
        assert!(e.to_string().contains("version Some(2)"), "{e}");
    }
}
