//! The RingCentral stand-in's OAuth over real HTTP: JWT login, client authentication and
//! grant errors, refresh rotation and its grace windows, the 5-session cap, revoke, forced
//! expiry, token errors on API calls, and the `/sandbox/oauth/` control routes. The
//! authorization-code (PKCE) flow is in `rc_oauth_code_flow.rs`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use snapsync_tests::{rc_login, start_sandbox, start_sandbox_with, wait_until_async, Sandbox};

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ACCOUNT: &str = "/restapi/v1.0/account/~";

/// `POST /restapi/oauth/token` with the sandbox app's Basic credentials.
async fn token(sb: &Sandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let c = sb.credentials();
    let resp = reqwest::Client::new()
        .post(format!("{}/restapi/oauth/token", sb.rc_url()))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(form)
        .send()
        .await
        .expect("POST /restapi/oauth/token");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("token endpoint answers JSON"))
}

async fn refresh(sb: &Sandbox, refresh_token: &str) -> (u16, Value) {
    token(sb, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

/// An API call with `access_token`; returns status and body.
async fn api(sb: &Sandbox, access_token: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{ACCOUNT}", sb.rc_url()))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("GET account");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("API answers JSON"))
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("{field} is a string in {v}"))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["errorCode"].as_str().unwrap_or("")
}

async fn put_timings(sb: &Sandbox, timings: Value) {
    let resp = reqwest::Client::new()
        .put(format!("{}/sandbox/oauth/timings", sb.rc_url()))
        .json(&timings)
        .send()
        .await
        .expect("PUT timings");
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap_or_default());
}

async fn stats(sb: &Sandbox) -> Value {
    reqwest::get(format!("{}/sandbox/oauth/stats", sb.rc_url())).await.expect("GET stats").json().await.expect("JSON")
}

/// Waits (without calling the server, which would spend rate budget) until `at`.
async fn wait_for_clock(at: Instant) {
    wait_until_async("the clock", Duration::from_secs(120), || async { (Instant::now() >= at).then_some(()) }).await;
}

#[tokio::test]
async fn jwt_login_returns_every_token_field() {
    let sb = start_sandbox().await;
    let jwt = sb.credentials().jwt.clone();
    let c = sb.credentials();
    let resp = reqwest::Client::new()
        .post(format!("{}/restapi/oauth/token", sb.rc_url()))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[("grant_type", JWT_GRANT), ("assertion", jwt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["x-rate-limit-group"], "auth");
    assert_eq!(resp.headers()["x-rate-limit-limit"], "5");
    assert_eq!(resp.headers()["x-rate-limit-remaining"], "4");
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["token_type"], "bearer");
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["refresh_token_expires_in"], 604800);
    assert_eq!(t["owner_id"], "400000101", "the JWT logs in as the admin extension");
    for field in ["access_token", "refresh_token", "scope", "endpoint_id", "session_id"] {
        assert!(!s(&t, field).is_empty(), "{field} in {t}");
    }
    assert!(s(&t, "scope").split(' ').any(|p| p == "ReadAccounts"));
    assert_eq!(api(&sb, s(&t, "access_token")).await.0, 200);

    // access_token_ttl is honoured within 600..3600.
    let (_, short) = token(&sb, &[("grant_type", JWT_GRANT), ("assertion", &jwt), ("access_token_ttl", "100")]).await;
    assert_eq!(short["expires_in"], 600);
    let (_, long) = token(&sb, &[("grant_type", JWT_GRANT), ("assertion", &jwt), ("access_token_ttl", "7200")]).await;
    assert_eq!(long["expires_in"], 3600);
    // RingCentral's JS SDK sends -1 when it refreshes after a 401: a number, raised to 600.
    let (status, neg) = token(&sb, &[("grant_type", JWT_GRANT), ("assertion", &jwt), ("access_token_ttl", "-1")]).await;
    assert_eq!((status, &neg["expires_in"]), (200, &serde_json::json!(600)));
    assert_ne!(short["session_id"], long["session_id"], "each login opens its own session");
    sb.stop().await;
}

#[tokio::test]
async fn bad_client_authentication_is_invalid_client() {
    let sb = start_sandbox().await;
    let url = format!("{}/restapi/oauth/token", sb.rc_url());
    let jwt = sb.credentials().jwt.clone();
    let client_id = sb.credentials().client_id.clone();
    let form = [("grant_type", JWT_GRANT), ("assertion", jwt.as_str())];
    let http = reqwest::Client::new();
    let send = |rb: reqwest::RequestBuilder| async move {
        let resp = rb.send().await.expect("POST token");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.expect("JSON"))
    };

    let (status, body) = send(http.post(&url).form(&form)).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": "invalid_client", "error_description": "Client authentication is required",
               "errors": [{"errorCode": "OAU-123", "message": "Client authentication is required"}]})
    );
    let (status, body) = send(http.post(&url).basic_auth(&client_id, Some("wrong-secret")).form(&form)).await;
    assert_eq!((status, body["error"].as_str(), code(&body)), (401, Some("invalid_client"), "OAU-146"));
    let (status, body) = send(http.post(&url).header("authorization", "Basic !!not-base64").form(&form)).await;
    assert_eq!((status, code(&body)), (401, "OAU-123"));
    let (status, body) =
        send(http.post(&url).form(&[("grant_type", JWT_GRANT), ("assertion", &jwt), ("client_id", "nobody")])).await;
    assert_eq!((status, code(&body)), (401, "OAU-153"));
    assert_eq!(body["errors"][0]["parameters"][0]["parameterName"], "client_id");
    // A known client_id without its secret may not use the JWT grant.
    let (status, body) =
        send(http.post(&url).form(&[("grant_type", JWT_GRANT), ("assertion", &jwt), ("client_id", &client_id)])).await;
    assert_eq!((status, code(&body)), (401, "OAU-123"));
    // Parameters go in a form, not JSON.
    let (status, body) = send(http.post(&url).basic_auth(&client_id, Some("x")).json(&json!({"a": 1}))).await;
    assert_eq!((status, body["error"].as_str()), (415, Some("invalid_request")));
    sb.stop().await;
}

#[tokio::test]
async fn bad_grants_get_documented_errors() {
    let sb = start_sandbox().await;
    let (status, body) = token(&sb, &[("grant_type", JWT_GRANT), ("assertion", "not-the-jwt")]).await;
    assert_eq!((status, body["error"].as_str(), code(&body)), (400, Some("invalid_grant"), "OAU-140"));
    let (status, body) = token(&sb, &[("grant_type", "client_credentials")]).await;
    assert_eq!((status, body["error"].as_str(), code(&body)), (400, Some("unsupported_grant_type"), "OAU-250"));
    let (status, body) = token(&sb, &[("grant_type", "password"), ("username", "101"), ("password", "x")]).await;
    assert_eq!((status, body["error"].as_str(), code(&body)), (400, Some("unauthorized_client"), "OAU-251"));
    let (status, body) = token(&sb, &[("grant_type", JWT_GRANT)]).await;
    assert_eq!((status, body["error"].as_str(), code(&body)), (400, Some("invalid_request"), "CMN-101"));
    assert_eq!(body["errors"][0]["parameterName"], "assertion");
    let (status, body) = token(&sb, &[("assertion", "x")]).await;
    assert_eq!((status, body["errors"][0]["parameterName"].as_str()), (400, Some("grant_type")));
    let (status, body) = token(&sb, &[("grant_type", JWT_GRANT), ("grant_type", JWT_GRANT)]).await;
    assert_eq!((status, code(&body)), (400, "OAU-111"));
    let (status, body) =
        token(&sb, &[("grant_type", JWT_GRANT), ("assertion", "x"), ("access_token_ttl", "soon")]).await;
    assert_eq!((status, body["errors"][0]["parameterName"].as_str()), (400, Some("access_token_ttl")));
    let (status, body) = refresh(&sb, "no-such-refresh-token").await;
    assert_eq!((status, body["error"].as_str(), code(&body)), (400, Some("invalid_grant"), "OAU-213"));
    sb.stop().await;
}

#[tokio::test]
async fn api_calls_with_missing_unknown_or_foreign_credentials_get_401() {
    let sb = start_sandbox().await;
    let resp = reqwest::get(format!("{}{ACCOUNT}", sb.rc_url())).await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"errorCode": "OAU-123", "message": "Authorization header is not specified",
               "errors": [{"errorCode": "OAU-123", "message": "Authorization header is not specified"}]})
    );
    let (status, body) = api(&sb, "made-up-token").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"errorCode": "TokenInvalid", "message": "Token not found",
               "errors": [{"errorCode": "OAU-213", "message": "Token not found"}]})
    );
    let resp = reqwest::Client::new()
        .get(format!("{}{ACCOUNT}", sb.rc_url()))
        .basic_auth("sandbox-client-id", Some("sandbox-client-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(code(&resp.json().await.unwrap()), "OAU-151");
    sb.stop().await;
}

#[tokio::test]
async fn refresh_rotates_the_pair_and_kills_the_old_access_token() {
    let sb = start_sandbox().await;
    let first = rc_login(&sb).await;
    let (status, second) = refresh(&sb, s(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["session_id"], first["session_id"], "rotation keeps the session");
    let (status, body) = api(&sb, s(&first, "access_token")).await;
    assert_eq!((status, code(&body)), (401, "OAU-129"), "old access token dies at once: {body}");
    assert_eq!(api(&sb, s(&second, "access_token")).await.0, 200);
    let st = stats(&sb).await;
    assert_eq!((st["logins"].as_u64(), st["refreshes"].as_u64()), (Some(1), Some(1)));
    sb.stop().await;
}

#[tokio::test]
async fn old_refresh_token_replays_the_same_pair_inside_the_grace_window_only() {
    let sb = start_sandbox().await;
    put_timings(&sb, json!({"grace_used_secs": 1.5})).await;
    let first = rc_login(&sb).await;
    let (_, second) = refresh(&sb, s(&first, "refresh_token")).await;
    // New access token unused: the old refresh token gives the same pair.
    let (status, again) = refresh(&sb, s(&first, "refresh_token")).await;
    assert_eq!(status, 200);
    assert_eq!((&again["access_token"], &again["refresh_token"]), (&second["access_token"], &second["refresh_token"]));
    // Once the new access token is used, the old refresh token has grace_used_secs left.
    assert_eq!(api(&sb, s(&second, "access_token")).await.0, 200);
    let used_at = Instant::now();
    let (status, again) = refresh(&sb, s(&first, "refresh_token")).await;
    assert_eq!((status, &again["access_token"]), (200, &second["access_token"]));
    wait_for_clock(used_at + Duration::from_millis(1600)).await;
    let (status, body) = refresh(&sb, s(&first, "refresh_token")).await;
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Token not found",
               "errors": [{"errorCode": "OAU-213", "message": "Token not found"}]})
    );
    assert_eq!(status, 400);
    assert_eq!(stats(&sb).await["refreshes"], 1, "replays are not new rotations");
    sb.stop().await;
}

#[tokio::test]
async fn unused_grace_and_refresh_token_expiry() {
    let sb = start_sandbox().await;
    put_timings(&sb, json!({"grace_unused_secs": 1, "refresh_ttl_secs": 1})).await;
    let first = rc_login(&sb).await;
    assert_eq!(first["refresh_token_expires_in"], 1);
    let (status, second) = refresh(&sb, s(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{second}");
    wait_for_clock(Instant::now() + Duration::from_millis(1100)).await;
    let (status, body) = refresh(&sb, s(&first, "refresh_token")).await;
    assert_eq!((status, code(&body)), (400, "OAU-213"), "unused grace over: {body}");
    let (status, body) = refresh(&sb, s(&second, "refresh_token")).await;
    assert_eq!(
        (status, body["error"].as_str(), code(&body), body["error_description"].as_str()),
        (400, Some("invalid_grant"), "OAU-210", Some("Token expired"))
    );
    sb.stop().await;
}

/// Posts to the token endpoint; on 429 waits out `Retry-After` (without calling, which
/// would restart the penalty) and tries again.
async fn login_patiently(sb: &Sandbox) -> Value {
    let jwt = sb.credentials().jwt.clone();
    for _ in 0..10 {
        let c = sb.credentials();
        let resp = reqwest::Client::new()
            .post(format!("{}/restapi/oauth/token", sb.rc_url()))
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .form(&[("grant_type", JWT_GRANT), ("assertion", jwt.as_str())])
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            let secs: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            wait_for_clock(Instant::now() + Duration::from_secs(secs)).await;
            continue;
        }
        assert_eq!(resp.status(), 200);
        return resp.json().await.unwrap();
    }
    panic!("token endpoint kept answering 429");
}

#[tokio::test]
async fn sixth_login_evicts_the_oldest_session() {
    // Auth allows 5 token requests per window: compress the window so six logins fit.
    let sb = start_sandbox_with(Duration::from_secs(1), None).await;
    let mut sessions = Vec::new();
    for _ in 0..6 {
        sessions.push(login_patiently(&sb).await);
    }
    let (status, body) = api(&sb, s(&sessions[0], "access_token")).await;
    assert_eq!((status, code(&body)), (401, "OAU-213"), "oldest session evicted: {body}");
    for t in &sessions[1..] {
        assert_eq!(api(&sb, s(t, "access_token")).await.0, 200);
    }
    let st = stats(&sb).await;
    assert_eq!((st["logins"].as_u64(), st["live_sessions"].as_u64()), (Some(6), Some(5)));
    sb.stop().await;
}

#[tokio::test]
async fn revoke_ends_the_whole_session() {
    let sb = start_sandbox().await;
    let c = sb.credentials().clone();
    let url = format!("{}/restapi/oauth/revoke", sb.rc_url());
    let http = reqwest::Client::new();
    let first = rc_login(&sb).await;
    let resp = http
        .post(&url)
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[("token", s(&first, "access_token"))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(code(&api(&sb, s(&first, "access_token")).await.1), "OAU-213");
    assert_eq!(code(&refresh(&sb, s(&first, "refresh_token")).await.1), "OAU-213", "refresh token died too");
    // `?token=` with the refresh token works as well.
    let second = rc_login(&sb).await;
    let resp = http
        .post(format!("{url}?token={}", s(&second, "refresh_token")))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(api(&sb, s(&second, "access_token")).await.0, 401);
    let resp = http.post(&url).form(&[("token", "x")]).send().await.unwrap();
    assert_eq!(resp.status(), 401, "revoke needs client auth");
    assert_eq!(stats(&sb).await["live_sessions"], 0);
    sb.stop().await;
}

#[tokio::test]
async fn forced_and_natural_expiry_give_oau_128_and_refresh_still_works() {
    let sb = start_sandbox().await;
    let first = rc_login(&sb).await;
    assert_eq!(api(&sb, s(&first, "access_token")).await.0, 200);
    let resp = reqwest::Client::new().post(format!("{}/sandbox/oauth/expire", sb.rc_url())).send().await.unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["expired"], 1);
    let (status, body) = api(&sb, s(&first, "access_token")).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"errorCode": "TokenExpired", "message": "Access token expired",
               "errors": [{"errorCode": "OAU-128", "message": "Access token expired"}]})
    );
    let (status, second) = refresh(&sb, s(&first, "refresh_token")).await;
    assert_eq!(status, 200);
    assert_eq!(api(&sb, s(&second, "access_token")).await.0, 200);

    put_timings(&sb, json!({"access_ttl_secs": 1})).await;
    let short = rc_login(&sb).await;
    assert_eq!(short["expires_in"], 1);
    wait_for_clock(Instant::now() + Duration::from_millis(1100)).await;
    assert_eq!(code(&api(&sb, s(&short, "access_token")).await.1), "OAU-128");
    sb.stop().await;
}

#[tokio::test]
async fn stats_and_timings_control_routes() {
    let sb = start_sandbox().await;
    let zero = stats(&sb).await;
    assert_eq!((zero["logins"].as_u64(), zero["token_requests"].as_u64()), (Some(0), Some(0)));
    let t = rc_login(&sb).await;
    refresh(&sb, s(&t, "refresh_token")).await;
    token(&sb, &[("grant_type", JWT_GRANT), ("assertion", "wrong")]).await;
    let st = stats(&sb).await;
    assert_eq!(
        (st["logins"].as_u64(), st["refreshes"].as_u64(), st["token_requests"].as_u64(), st["live_sessions"].as_u64()),
        (Some(1), Some(1), Some(3), Some(1))
    );
    let http = reqwest::Client::new();
    let url = format!("{}/sandbox/oauth/timings", sb.rc_url());
    for bad in [json!({"access_ttl_secs": -1}), json!({"nonsense": 1}), json!("x")] {
        let resp = http.put(&url).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
    let current: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(current["access_ttl_secs"], 3600.0, "a rejected patch changes nothing");
    sb.stop().await;
}

/// `PUT /sandbox/oauth/scopes`: tokens issued afterwards carry the app's new permissions in
/// `scope` (a login and a refresh); `GET` shows them; a bad body or name is 400.
#[tokio::test]
async fn app_scopes_set_by_the_control_route_are_in_every_new_token() {
    let sb = start_sandbox().await;
    let jwt = sb.credentials().jwt.clone();
    let url = format!("{}/sandbox/oauth/scopes", sb.rc_url());
    let http = reqwest::Client::new();
    let (_, first) = token(&sb, &[("grant_type", JWT_GRANT), ("assertion", &jwt)]).await;
    assert_eq!(
        s(&first, "scope"),
        "ReadAccounts ReadContacts ReadMessages ReadCallLog CallControl WebhookSubscriptions"
    );
    let put = http.put(&url).json(&json!({"scopes": ["ReadAccounts", "ReadContacts"]})).send().await.unwrap();
    assert_eq!(put.status(), 200);
    let shown: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown, json!({"scopes": ["ReadAccounts", "ReadContacts"]}));
    let (_, login) = token(&sb, &[("grant_type", JWT_GRANT), ("assertion", &jwt)]).await;
    assert_eq!(s(&login, "scope"), "ReadAccounts ReadContacts");
    let (status, refreshed) = refresh(&sb, s(&first, "refresh_token")).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(s(&refreshed, "scope"), "ReadAccounts ReadContacts");
    for body in [json!({"scopes": "ReadAccounts"}), json!({"scopes": ["Read Accounts"]}), json!({"scope": []})] {
        let resp = http.put(&url).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
    }
    let shown: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["scopes"], json!(["ReadAccounts", "ReadContacts"]), "a refused PUT changed nothing");
}
