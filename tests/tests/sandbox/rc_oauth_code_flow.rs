//! The RingCentral stand-in's authorization-code flow over real HTTP: `/restapi/oauth/authorize`
//! redirects with a code, the token endpoint exchanges it (PKCE `S256`/`plain` for public
//! clients, Basic auth for confidential ones), codes are single-use and bound to their
//! client, redirect URI and verifier.

use serde_json::Value;
use snapsync_tests::{start_sandbox, Sandbox};

const REDIRECT: &str = "http://localhost:5000/oauth2callback";
// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `GET /restapi/oauth/authorize` with `params`; returns status and the `Location` query.
async fn authorize(sb: &Sandbox, params: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Option<Value>) {
    let resp =
        no_redirects().get(format!("{}/restapi/oauth/authorize", sb.rc_url())).query(params).send().await.unwrap();
    let status = resp.status().as_u16();
    if status != 302 {
        return (status, vec![], resp.json().await.ok());
    }
    let location = reqwest::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(format!("{}://{}{}", location.scheme(), location.authority(), location.path()), REDIRECT);
    (status, location.query_pairs().into_owned().collect(), None)
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn pkce_code(sb: &Sandbox, challenge: &str, method: &str) -> String {
    let client_id = sb.credentials().client_id.clone();
    let (status, q, _) = authorize(
        sb,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("state", "xyz"),
            ("code_challenge", challenge),
            ("code_challenge_method", method),
        ],
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(param(&q, "state"), Some("xyz"));
    assert_eq!(param(&q, "expires_in"), Some("60"));
    param(&q, "code").expect("code on the redirect").to_string()
}

/// A public client's token request: `client_id` in the form, no Basic auth.
async fn public_token(sb: &Sandbox, form: &[(&str, &str)]) -> (u16, Value) {
    let client_id = sb.credentials().client_id.clone();
    let mut form = form.to_vec();
    form.push(("client_id", &client_id));
    let resp =
        reqwest::Client::new().post(format!("{}/restapi/oauth/token", sb.rc_url())).form(&form).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn code_of(body: &Value) -> &str {
    body["errors"][0]["errorCode"].as_str().unwrap_or("")
}

#[tokio::test]
async fn pkce_s256_code_exchange_and_public_refresh() {
    let sb = start_sandbox().await;
    let code = pkce_code(&sb, CHALLENGE, "S256").await;
    let grant = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)];
    let (status, t) = public_token(&sb, &[grant.as_slice(), &[("code_verifier", VERIFIER)]].concat()).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["owner_id"], "400000101");
    let access = t["access_token"].as_str().unwrap();
    let resp = reqwest::Client::new()
        .get(format!("{}/restapi/v1.0/account/~", sb.rc_url()))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A public session refreshes with client_id alone.
    let (status, again) =
        public_token(&sb, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!(status, 200, "{again}");
    // Codes are single use.
    let (status, body) = public_token(&sb, &[grant.as_slice(), &[("code_verifier", VERIFIER)]].concat()).await;
    assert_eq!((status, body["error"].as_str(), code_of(&body)), (400, Some("invalid_grant"), "OAU-106"));
    sb.stop().await;
}

#[tokio::test]
async fn wrong_or_missing_verifier_and_wrong_redirect_fail() {
    let sb = start_sandbox().await;
    let code = pkce_code(&sb, CHALLENGE, "S256").await;
    let (status, body) = public_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "wrong"),
        ],
    )
    .await;
    assert_eq!((status, body["error"].as_str(), code_of(&body)), (400, Some("invalid_grant"), "OAU-106"));
    // The failed attempt used the code up.
    let (status, _) = public_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 400);

    let code = pkce_code(&sb, "plain-challenge", "plain").await;
    let (status, body) = public_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:5000/elsewhere"),
            ("code_verifier", "plain-challenge"),
        ],
    )
    .await;
    assert_eq!((status, code_of(&body)), (400, "OAU-109"));

    let code = pkce_code(&sb, "plain-challenge", "plain").await;
    let (status, body) = public_token(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "plain-challenge"),
        ],
    )
    .await;
    assert_eq!(status, 200, "plain PKCE: {body}");
    sb.stop().await;
}

#[tokio::test]
async fn authorize_rejects_unknown_clients_and_unregistered_redirects() {
    let sb = start_sandbox().await;
    let client_id = sb.credentials().client_id.clone();
    let (status, _, body) =
        authorize(&sb, &[("response_type", "code"), ("client_id", "nobody"), ("redirect_uri", REDIRECT)]).await;
    assert_eq!((status, code_of(&body.unwrap())), (400, "OAU-153"));
    let (status, _, body) = authorize(
        &sb,
        &[("response_type", "code"), ("client_id", &client_id), ("redirect_uri", "https://evil.example.com/cb")],
    )
    .await;
    assert_eq!((status, code_of(&body.unwrap())), (400, "OAU-109"));
    let (status, _, body) = authorize(&sb, &[("response_type", "code"), ("redirect_uri", REDIRECT)]).await;
    assert_eq!((status, body.unwrap()["errors"][0]["parameterName"].as_str()), (400, Some("client_id")));
    // With a good redirect URI, protocol errors go back to the app on the redirect.
    let (status, q, _) = authorize(
        &sb,
        &[("response_type", "token"), ("client_id", &client_id), ("redirect_uri", REDIRECT), ("state", "s1")],
    )
    .await;
    assert_eq!((status, param(&q, "error"), param(&q, "state")), (302, Some("unsupported_response_type"), Some("s1")));
    let (status, q, _) = authorize(
        &sb,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", "c"),
            ("code_challenge_method", "S512"),
        ],
    )
    .await;
    assert_eq!((status, param(&q, "error")), (302, Some("invalid_request")));
    sb.stop().await;
}

#[tokio::test]
async fn confidential_code_flow_needs_basic_auth_without_pkce() {
    let sb = start_sandbox().await;
    let c = sb.credentials().clone();
    let plain_code = || async {
        let (status, q, _) =
            authorize(&sb, &[("response_type", "code"), ("client_id", &c.client_id), ("redirect_uri", REDIRECT)]).await;
        assert_eq!(status, 302);
        param(&q, "code").unwrap().to_string()
    };
    let code = plain_code().await;
    let (status, body) =
        public_token(&sb, &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    assert_eq!((status, code_of(&body)), (401, "OAU-123"), "public clients must use PKCE");
    let code = plain_code().await;
    let resp = reqwest::Client::new()
        .post(format!("{}/restapi/oauth/token", sb.rc_url()))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A confidential session cannot be refreshed without the secret.
    let t: Value = resp.json().await.unwrap();
    let (status, body) =
        public_token(&sb, &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!((status, code_of(&body)), (401, "OAU-123"));
    sb.stop().await;
}
