//! Account info (`GET /restapi/v1.0/account/{accountId}`) and its business address
//! (`GET .../business-address`), both in the Light group.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::directory::Directory;
use super::guard::{self, Caller};
use super::rate_limit::Group;
use super::RcState;

pub fn routes(state: &Arc<RcState>) -> Router<Arc<RcState>> {
    Router::new().route("/restapi/v1.0/account/{accountId}", guard::api(state, Group::Light, get(account))).route(
        "/restapi/v1.0/account/{accountId}/business-address",
        guard::api(state, Group::Light, get(business_address)),
    )
}

/// The account info resource as `GET /restapi/v1.0/account/{accountId}` returns it.
pub fn account_json(dir: &Directory, base_url: &str) -> Value {
    let acc = dir.account_id;
    let account_uri = format!("{base_url}/restapi/v1.0/account/{acc}");
    let mut body = json!({ "uri": account_uri, "id": acc });
    for (k, v) in &dir.account {
        body[k] = v.clone();
    }
    // Canonical `uri`s are derived, so a patched operator or service plan stays consistent.
    if let Some(op) = body.get_mut("operator").and_then(Value::as_object_mut) {
        let id = match op.get("id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if let Some(id) = id {
            op.insert("uri".into(), json!(format!("{account_uri}/extension/{id}")));
        }
    }
    if let Some(si) = body.get_mut("serviceInfo").and_then(Value::as_object_mut) {
        si.insert("uri".into(), json!(format!("{account_uri}/service-info")));
    }
    body
}

/// The business-address resource.
pub fn business_address_json(dir: &Directory, base_url: &str) -> Value {
    let mut body = serde_json::to_value(&dir.business).unwrap_or_else(|_| json!({}));
    body["uri"] = json!(format!("{base_url}/restapi/v1.0/account/{}/business-address", dir.account_id));
    body
}

async fn account(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(account_id): Path<String>,
) -> Response {
    if let Err(resp) = caller.account(&account_id) {
        return resp;
    }
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    Json(account_json(&dir, &state.base_url)).into_response()
}

async fn business_address(
    State(state): State<Arc<RcState>>,
    Extension(caller): Extension<Caller>,
    Path(account_id): Path<String>,
) -> Response {
    if let Err(resp) = caller.account(&account_id) {
        return resp;
    }
    let dir = state.directory.lock().unwrap_or_else(|e| e.into_inner());
    Json(business_address_json(&dir, &state.base_url)).into_response()
}
