//! Issue 9: the admin HTTP API of `snapsync serve` on `admin.bind`: bearer-token auth
//! (missing, wrong, right), JSON errors without internal text, and the OpenAPI document —
//! every route in it is called and answers as documented.

use crate::pipeline_support::{bins, Options, System, ADMIN_TOKEN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn call(
    sys: &System,
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = sys.http.request(method, format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("admin request");
    let status = resp.status();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = resp.text().await.expect("body");
    assert!(content_type.starts_with("application/json"), "{path}: {status} answered {content_type:?}: {text}");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_api_wants_its_token_and_answers_every_documented_route() {
    let _ = bins();
    let sys = System::start(Options { every: Some("1h"), workers: 0, ..Options::default() }).await;
    let base = sys.admin_url("serve-0").await;

    // Auth: missing, wrong, right.
    let (status, body) = call(&sys, &base, Method::GET, "/admin/queue/stats", None, None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing bearer token")));
    let (status, body) =
        call(&sys, &base, Method::GET, "/admin/queue/stats", Some("wrong-token-0123456789"), None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("wrong bearer token")));
    let (status, body) = call(&sys, &base, Method::GET, "/admin/queue/stats", Some(ADMIN_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["paused"], false);
    assert!(body["totals"].is_object() && body["by_kind"].is_object(), "{body}");

    // The document lists every route; each one answers 200 JSON with the token.
    let (status, doc) = call(&sys, &base, Method::GET, "/admin/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 10, "{paths:?}");
    let mut called = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("operations") {
            // Each job route gets a job of its own (a discard must not take another's).
            let job = sys
                .queue
                .enqueue(snapsync_queue::NewJob::new("sync_locations", r#"{"v":1,"trigger":{"type":"manual"}}"#))
                .await;
            let job = job.expect("enqueue").id().0.clone();
            let concrete = path.replace("{resource}", "locations").replace("{id}", &job);
            // The document's example body (the mapping routes: the default mapping; restore:
            // version 0, the file the first save put in the history).
            let body = op.get("requestBody").map(|b| b["content"]["application/json"]["example"].clone());
            assert!(body.as_ref().is_none_or(|b| b.is_object()), "{method} {path} has an example body");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let (status, answer) = call(&sys, &base, m.clone(), &concrete, Some(ADMIN_TOKEN), body).await;
            assert_eq!(status, StatusCode::OK, "{method} {concrete}: {answer}");
            assert!(op["responses"]["200"].is_object(), "{method} {path} documents its 200");
            if path != "/admin/openapi.json" {
                // And refuses without the token, as the document's security says.
                let (status, _) = call(&sys, &base, m, &concrete, None, None).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {concrete} without a token");
            }
            called += 1;
        }
    }
    assert!(called >= 22, "{called} operations called");

    // What the calls did: the schedule change, pause and resume, and one run of locations.
    let (_, listed) = call(&sys, &base, Method::GET, "/admin/schedules", Some(ADMIN_TOKEN), None).await;
    let locations =
        listed["schedules"].as_array().expect("schedules").iter().find(|s| s["resource"] == "locations").cloned();
    let locations = locations.expect("locations listed");
    assert_eq!(
        (locations["every_ms"].as_u64(), locations["enabled"].as_bool()),
        (Some(1_800_000), Some(true)),
        "{locations}"
    );
    assert_eq!(locations["updated_by"], "api");

    // Documented errors, as JSON, naming no internals.
    let t = Some(ADMIN_TOKEN);
    let (status, body) =
        call(&sys, &base, Method::PUT, "/admin/schedules/locations", t, Some(json!({"every": "10ms"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("at least 1s")), "{body}");
    let (status, body) =
        call(&sys, &base, Method::PUT, "/admin/schedules/locations", t, Some(json!({"cron": "nope"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = call(
        &sys,
        &base,
        Method::PUT,
        "/admin/schedules/locations",
        t,
        Some(json!({"every": "1h", "cron": "* * * * *"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(&sys, &base, Method::PUT, "/admin/schedules/planets", t, Some(json!({"every": "1h"}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&sys, &base, Method::GET, "/admin/nothing-here", t, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Axum's own refusals come back as JSON too (`call` asserts the content type).
    let (status, body) = call(&sys, &base, Method::DELETE, "/admin/queue/stats", t, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method not allowed on this route"))
    );
    let huge = json!({ "every": "x".repeat(64 * 1024) });
    let (status, body) = call(&sys, &base, Method::PUT, "/admin/schedules/locations", t, Some(huge)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("request body too large")));
    sys.stop().await;
}
