//! `sync_messages`: the catch-up of inbound SMS and faxes by the message-store sync of the
//! mailbox the message events come from (`extension/~`), so a message whose event never
//! arrived (no subscription yet, a lost delivery, a webhook outage: RingCentral does not
//! redeliver) is still tagged.
//!
//! The reading, batching and token commit are [`catch_up`]'s (FSync of the last day's SMS and
//! faxes the first time, ISync after). Each inbound SMS or fax becomes a `tag_message` job
//! carrying the record (no second read), with the unique key `message:<id>`; the webhook's
//! job for the same message has its own key, and both make the one activity
//! `ringcentral:message:<id>`. Outbound messages and other types are not tagged, as on the
//! webhook path. A record without an id or an extension in its `uri` is still queued (keyed
//! by its content): its `tag_message` dies naming the problem, with the record in its
//! payload.

use serde_json::Value;
use snapsync::jobs::{JobKind, Payload, SyncMessages, TagMessage, PAYLOAD_VERSION};
use snapsync::ringcentral::record_sync::Feed;
use snapsync_queue::{JobError, JobMeta, NewJob};

use super::catch_up;
use super::context::Context;

pub async fn run(ctx: &Context, _payload: SyncMessages, _job: &JobMeta) -> Result<(), JobError> {
    let (records, queued, batches) = catch_up::run(ctx, Feed::Messages, tag_job).await?;
    tracing::info!(records, queued, batches, "messages caught up (queued: messages not tagged by a job yet)");
    Ok(())
}

/// The `tag_message` job of one message-store record, unique per message id; `None` for a
/// record the webhook path would not tag either.
fn tag_job(record: &Value) -> Option<NewJob> {
    let field = |name: &str| record.get(name).and_then(Value::as_str);
    let inbound = field("direction").is_none_or(|d| d == "Inbound");
    let tagged_type = field("type").is_none_or(|t| t == "SMS" || t == "Fax");
    if !inbound || !tagged_type {
        return None;
    }
    let id = catch_up::text(record.get("id"));
    let payload = TagMessage {
        v: PAYLOAD_VERSION,
        uuid: String::new(),
        account_id: None,
        extension_id: field("uri").and_then(extension_of).unwrap_or_else(|| "unknown".into()),
        message_id: id.clone().unwrap_or_else(|| "unknown".into()),
        message: Some(record.clone()),
    };
    let unique = catch_up::unique_key("message", id.as_deref(), record);
    Some(NewJob::new(JobKind::TagMessage.as_str(), payload.encode()).unique(unique))
}

/// The extension id in a message-store record's `uri` (`.../extension/{id}/message-store/...`).
fn extension_of(uri: &str) -> Option<String> {
    let rest = &uri[uri.find("/extension/")? + "/extension/".len()..];
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inbound_sms_and_faxes_are_queued_with_their_record_and_others_are_not() {
        let sms = json!({"id": 91, "type": "SMS", "direction": "Inbound",
                         "uri": "https://x/restapi/v1.0/account/1/extension/400000101/message-store/91"});
        let job = tag_job(&sms).expect("an inbound SMS is tagged");
        assert_eq!((job.kind.as_str(), job.unique_key.as_deref()), ("tag_message", Some("message:91")));
        let p = TagMessage::decode(&job.payload).expect("decodes");
        assert_eq!((p.extension_id.as_str(), p.message_id.as_str()), ("400000101", "91"));
        assert_eq!(p.message, Some(sms));
        assert!(tag_job(&json!({"id": 92, "type": "SMS", "direction": "Outbound"})).is_none());
        assert!(tag_job(&json!({"id": 93, "type": "VoiceMail", "direction": "Inbound"})).is_none());
        let no_id = tag_job(&json!({"type": "Fax", "direction": "Inbound"})).expect("queued, to die named");
        assert!(no_id.unique_key.as_deref().is_some_and(|k| k.starts_with("message:no-id:")));
    }
}
