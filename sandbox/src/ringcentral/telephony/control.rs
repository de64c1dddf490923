//! `POST /sandbox/voicemail` and `POST /sandbox/calls/end`: make a voicemail arrive or a call
//! end, record it where RingCentral would (message store, call log) and fire the events a
//! subscriber would get (ringcentral.md §3.7). Shapes are in the parent module's doc.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::super::directory::rc_time;
use super::super::subscriptions::notify;
use super::super::{errors, RcState};
use super::{parse_time, Call, Message};

/// Call results the control route accepts (RingCentral's call-log `result` values).
const RESULTS: &[&str] = &[
    "Accepted",
    "Call connected",
    "Missed",
    "Voicemail",
    "Rejected",
    "Busy",
    "Hang Up",
    "No Answer",
    "Blocked",
    "Abandoned",
    "Declined",
    "Stopped",
    "Unknown",
];

pub fn routes() -> Router<Arc<RcState>> {
    Router::new()
        .route("/sandbox/voicemail", post(voicemail))
        .route("/sandbox/calls/end", post(end_call))
        .route("/sandbox/messages", post(message_arrives))
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(errors::api_error(StatusCode::BAD_REQUEST, "CMN-103", "Request body must be a JSON object")),
    }
}

/// `(accountId, extensionId)` of the body's `extensionId` (string or number; omitted = admin).
fn extension(state: &RcState, body: &Map<String, Value>) -> Result<(u64, u64), Response> {
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    let id = match body.get("extensionId") {
        None | Some(Value::Null) => return Ok((dir.account_id, dir.admin_extension_id)),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(_) => None,
    };
    let raw = body.get("extensionId").map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default();
    match id {
        Some(id) if dir.has_extension(id) => Ok((dir.account_id, id)),
        _ => Err(errors::not_found("extensionId", &raw)),
    }
}

/// A `from`/`to` party: an object with optional `phoneNumber`, `name`, `extensionNumber`, `extensionId`.
fn party(body: &Map<String, Value>, name: &str) -> Result<Value, Response> {
    let mut out = Map::new();
    match body.get(name) {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for key in ["phoneNumber", "name", "extensionNumber", "extensionId"] {
                match m.get(key) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => {
                        out.insert(key.into(), json!(s));
                    }
                    Some(Value::Number(n)) if key == "extensionId" => {
                        out.insert(key.into(), json!(n.to_string()));
                    }
                    Some(other) => return Err(errors::invalid_param(&format!("{name}.{key}"), &other.to_string())),
                }
            }
        }
        Some(other) => return Err(errors::invalid_param(name, &other.to_string())),
    }
    Ok(Value::Object(out))
}

fn seconds(body: &Map<String, Value>, name: &str, default: u64) -> Result<u64, Response> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().ok_or_else(|| errors::invalid_param(name, &v.to_string())),
    }
}

fn time_field(body: &Map<String, Value>, name: &str) -> Result<OffsetDateTime, Response> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(OffsetDateTime::now_utc()),
        Some(v) => v.as_str().and_then(parse_time).ok_or_else(|| errors::invalid_param(name, &v.to_string())),
    }
}

async fn voicemail(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let parsed = (|| {
        let body = body_object(&body)?;
        let (account_id, extension_id) = extension(&state, &body)?;
        let from = party(&body, "from")?;
        let duration = seconds(&body, "durationSecs", 20)?;
        let at = time_field(&body, "creationTime")?;
        Ok::<_, Response>((account_id, extension_id, from, duration, at))
    })();
    let (account_id, extension_id, from, duration, at) = match parsed {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let base = format!("{}/restapi/v1.0/account/{account_id}/extension/{extension_id}", state.base_url);
    let message = {
        let mut tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
        let id = tel.next();
        let session = tel.next();
        let caller_name = from.get("name").and_then(Value::as_str).or(from.get("phoneNumber").and_then(Value::as_str));
        let message = json!({
            "id": id,
            "uri": format!("{base}/message-store/{id}"),
            "extensionId": extension_id.to_string(),
            "type": "VoiceMail",
            "direction": "Inbound",
            "availability": "Alive",
            "readStatus": "Unread",
            "priority": "Normal",
            "messageStatus": "Received",
            "creationTime": rc_time(at),
            "lastModifiedTime": rc_time(at),
            "subject": format!("Voice message from {}", caller_name.unwrap_or("Unknown")),
            "from": from,
            "to": [{ "extensionId": extension_id.to_string() }],
            "attachments": [{
                "id": id,
                "uri": format!("{base}/message-store/{id}/content/{id}"),
                "type": "AudioRecording",
                "contentType": "audio/x-wav",
                "vmDuration": duration,
                "fileName": format!("voicemail-{id}.wav"),
                "size": duration * 16_000,
            }],
            "vmTranscriptionStatus": "NotAvailable",
            "conversationId": session,
        });
        tel.messages.push(Message {
            id,
            extension_id,
            created: at,
            message_type: "VoiceMail".into(),
            direction: "Inbound".into(),
            availability: "Alive".into(),
            read_status: "Unread".into(),
            record: message.clone(),
        });
        let link = json!({ "id": id.to_string(), "type": "VoiceMail", "uri": format!("{base}/message-store/{id}") });
        let to = json!({ "extensionId": extension_id.to_string() });
        let call =
            call_record(&base, session, extension_id, at, "Inbound", &from, &to, duration, "Voicemail", Some(link));
        tel.calls.push(call);
        message
    };
    let path = format!("/restapi/v1.0/account/{account_id}/extension/{extension_id}");
    notify(&state, &format!("{path}/voicemail"), message.clone());
    notify_message_store(&state, account_id, extension_id, "VoiceMail", &message["id"]);
    Json(message).into_response()
}

/// A call-log record in the `Simple` view, without `uri`; `extension_base` is the extension's URI.
#[allow(clippy::too_many_arguments)]
fn call_record(
    extension_base: &str,
    session: u64,
    extension_id: u64,
    start: OffsetDateTime,
    direction: &str,
    from: &Value,
    to: &Value,
    duration: u64,
    result: &str,
    message: Option<Value>,
) -> Call {
    let id = format!("Sbx{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let mut record = json!({
        "id": id,
        "sessionId": session.to_string(),
        "telephonySessionId": format!("s-sbx{session}"),
        "partyId": format!("p-sbx{session}-1"),
        "startTime": rc_time(start),
        "duration": duration,
        "durationMs": duration * 1000,
        "type": "Voice",
        "internalType": "Local",
        "direction": direction,
        "action": "Phone Call",
        "result": result,
        "to": to,
        "from": from,
        "extension": { "id": extension_id, "uri": extension_base },
        "transport": "PSTN",
    });
    if let Some(m) = message {
        record["message"] = m;
    }
    Call { id, extension_id, start, direction: direction.into(), call_type: "Voice".into(), record }
}

async fn end_call(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let parsed = (|| {
        let body = body_object(&body)?;
        let (account_id, extension_id) = extension(&state, &body)?;
        let from = party(&body, "from")?;
        let to = party(&body, "to")?;
        let direction = match body.get("direction") {
            None | Some(Value::Null) => "Inbound",
            Some(Value::String(s)) if s.eq_ignore_ascii_case("Inbound") => "Inbound",
            Some(Value::String(s)) if s.eq_ignore_ascii_case("Outbound") => "Outbound",
            Some(v) => return Err(errors::invalid_param("direction", &v.to_string())),
        };
        let duration = seconds(&body, "durationSecs", 0)?;
        let result = match body.get("result") {
            None | Some(Value::Null) if duration > 0 => "Accepted",
            None | Some(Value::Null) => "Missed",
            Some(Value::String(s)) => match RESULTS.iter().find(|r| r.eq_ignore_ascii_case(s)) {
                Some(r) => r,
                None => return Err(errors::invalid_param("result", s)),
            },
            Some(v) => return Err(errors::invalid_param("result", &v.to_string())),
        };
        let start = time_field(&body, "startTime")?;
        let deliver = deliver(&body)?;
        Ok::<_, Response>((account_id, extension_id, from, to, direction, duration, result, start, deliver))
    })();
    let (account_id, extension_id, from, to, direction, duration, result, start, deliver) = match parsed {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let call = {
        let mut tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
        let session = tel.next();
        let base = format!("{}/restapi/v1.0/account/{account_id}/extension/{extension_id}", state.base_url);
        let call = call_record(&base, session, extension_id, start, direction, &from, &to, duration, result, None);
        tel.calls.push(call.clone());
        call
    };
    let mut record = call.record.clone();
    record["uri"] = json!(format!(
        "{}/restapi/v1.0/account/{account_id}/extension/{extension_id}/call-log/{}",
        state.base_url, call.id
    ));
    let sequence = record["sessionId"].as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let event = json!({
        "sequence": sequence,
        "sessionId": record["sessionId"],
        "telephonySessionId": record["telephonySessionId"],
        "serverId": "sandbox.ringcentral",
        "eventTime": rc_time(OffsetDateTime::now_utc()),
        "accountId": account_id.to_string(),
        "extensionId": extension_id.to_string(),
        "origin": { "type": "Call" },
        "parties": [{
            "accountId": account_id.to_string(),
            "extensionId": extension_id.to_string(),
            "id": record["partyId"],
            "direction": direction,
            "to": to,
            "from": from,
            "status": { "code": "Disconnected", "reason": result },
            "missedCall": result == "Missed",
            "standAlone": false,
            "muted": false,
        }],
    });
    if deliver {
        notify(&state, &format!("/restapi/v1.0/account/{account_id}/telephony/sessions"), event.clone());
        let path = format!("/restapi/v1.0/account/{account_id}/extension/{extension_id}/telephony/sessions");
        notify(&state, &path, event);
    }
    Json(record).into_response()
}

/// `deliver` (default `true`): `false` records the call or message but fires no event, as
/// when a notification is lost on the way (the catch-up by call-log sync must find it).
fn deliver(body: &Map<String, Value>) -> Result<bool, Response> {
    match body.get("deliver") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(errors::invalid_param("deliver", &v.to_string())),
    }
}

/// `POST /sandbox/messages` `{extensionId?, type: "SMS"|"Fax", from{..}, to{..}?, text?,
/// pages?, creationTime?, deliver?}`: an inbound SMS or fax arrives at the extension. The
/// message is stored in the message store and the documented events fire: the instant-SMS
/// event (`.../message-store/instant?type=SMS`) or the inbound-fax event
/// (`.../fax?direction=Inbound`), each with the message as body, and the message-store event.
async fn message_arrives(State(state): State<Arc<RcState>>, body: Bytes) -> Response {
    let parsed = (|| {
        let body = body_object(&body)?;
        let (account_id, extension_id) = extension(&state, &body)?;
        let kind = match body.get("type") {
            Some(Value::String(s)) if s.eq_ignore_ascii_case("SMS") => "SMS",
            Some(Value::String(s)) if s.eq_ignore_ascii_case("Fax") => "Fax",
            None | Some(Value::Null) => {
                return Err(errors::param_error(
                    StatusCode::BAD_REQUEST,
                    "CMN-101",
                    "Parameter [type] is required: SMS or Fax",
                    "type",
                    None,
                ))
            }
            Some(v) => return Err(errors::invalid_param("type", &v.to_string())),
        };
        let from = party(&body, "from")?;
        let to = party(&body, "to")?;
        let text = match body.get("text") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => return Err(errors::invalid_param("text", &v.to_string())),
        };
        let pages = seconds(&body, "pages", 1)?;
        let at = time_field(&body, "creationTime")?;
        let deliver = deliver(&body)?;
        Ok::<_, Response>((account_id, extension_id, kind, from, to, text, pages, at, deliver))
    })();
    let (account_id, extension_id, kind, from, to, text, pages, at, deliver) = match parsed {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let base = format!("{}/restapi/v1.0/account/{account_id}/extension/{extension_id}", state.base_url);
    let message = {
        let mut tel = state.telephony.lock().unwrap_or_else(|e| e.into_inner());
        let id = tel.next();
        let conversation = tel.next();
        let mut to = to;
        if to.as_object().is_some_and(|m| !m.contains_key("extensionId")) {
            to["extensionId"] = json!(extension_id.to_string());
        }
        let mut message = json!({
            "id": id,
            "uri": format!("{base}/message-store/{id}"),
            "extensionId": extension_id.to_string(),
            "type": kind,
            "direction": "Inbound",
            "availability": "Alive",
            "readStatus": "Unread",
            "priority": "Normal",
            "messageStatus": "Received",
            "creationTime": rc_time(at),
            "lastModifiedTime": rc_time(at),
            "from": from,
            "to": [to],
            "conversationId": conversation,
        });
        match kind {
            "SMS" => {
                let text = text.unwrap_or_default();
                message["subject"] = json!(text);
                message["attachments"] = json!([{
                    "id": id,
                    "uri": format!("{base}/message-store/{id}/content/{id}"),
                    "type": "Text",
                    "contentType": "text/plain",
                    "size": text.len(),
                }]);
            }
            _ => {
                message["subject"] = json!(text.unwrap_or_default());
                message["faxPageCount"] = json!(pages);
                message["faxResolution"] = json!("High");
                message["attachments"] = json!([{
                    "id": id,
                    "uri": format!("{base}/message-store/{id}/content/{id}"),
                    "type": "RenderedDocument",
                    "contentType": "application/pdf",
                    "size": pages * 40_000,
                }]);
            }
        }
        tel.messages.push(Message {
            id,
            extension_id,
            created: at,
            message_type: kind.into(),
            direction: "Inbound".into(),
            availability: "Alive".into(),
            read_status: "Unread".into(),
            record: message.clone(),
        });
        message
    };
    if deliver {
        let path = format!("/restapi/v1.0/account/{account_id}/extension/{extension_id}");
        let event = match kind {
            "SMS" => format!("{path}/message-store/instant"),
            _ => format!("{path}/fax"),
        };
        notify(&state, &event, message.clone());
        notify_message_store(&state, account_id, extension_id, kind, &message["id"]);
    }
    Json(message).into_response()
}

/// The message-store event of one new message `id` of `kind` in the extension's mailbox.
fn notify_message_store(state: &Arc<RcState>, account_id: u64, extension_id: u64, kind: &str, id: &Value) {
    let change = json!({ "type": kind, "newCount": 1, "updatedCount": 0, "newMessageIds": [id] });
    let store_event = json!({
        "accountId": account_id.to_string(),
        "extensionId": extension_id.to_string(),
        "lastUpdated": rc_time(OffsetDateTime::now_utc()),
        "changes": [change],
    });
    notify(state, &format!("/restapi/v1.0/account/{account_id}/extension/{extension_id}/message-store"), store_event);
}
