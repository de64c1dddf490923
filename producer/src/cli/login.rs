//! `snapsync login`: the RingCentral authorization-code flow with PKCE, for accounts that
//! issue no JWT credential (`ringcentral.auth = "authorization_code"`).
//!
//! 1. Prints (on stderr) the authorize URL: `response_type=code`, the client id, the
//!    configured `ringcentral.redirect_uri`, a random `state` and an `S256` code challenge.
//! 2. Listens on the redirect URI's host and port (`localhost` means 127.0.0.1 and, when it
//!    can, [::1]) for the browser's redirect to its path; other paths get 404 and are
//!    ignored.
//! 3. On the redirect: a `state` other than this login's ends the command (it is not this
//!    login's redirect); `error=…` (e.g. the user denied access) ends it; else the code is
//!    exchanged (with the verifier) and the token pair stored in Redis, where every process
//!    reads and refreshes it (`snapsync::ringcentral::login`). The browser gets a short
//!    page saying what happened.
//!
//! Nothing secret is printed: not the code, the verifier or a token. The outcome goes to
//! stdout (`--json`: one JSON document, failures included once Redis is reached); errors
//! also as one `error: …` line on stderr.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use clap::Args;
use secrecy::SecretString;
use serde::Serialize;
use snapsync::config::Config;
use snapsync::ringcentral::login::random_state;
use snapsync::ringcentral::{AuthFlow, LoginOutcome, Pkce, RcError};
use snapsync_queue::Queue;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::{failure, time, with_queue_config, Common, Failure, INVALID_CONFIG, SOFTWARE, UNAVAILABLE};

/// The exit codes of `snapsync login`, as shown at the end of its `--help`.
pub const LOGIN_EXIT_CODES: &str = "\
Exit codes:
  0   logged in: the token pair is stored for every process
  1   RingCentral refused: the authorization was denied (error=… on the redirect) or the code exchange was refused
  2   bad arguments
  65  the redirect was not this login's (its state does not match) or carried no code (EX_DATAERR)
  69  Redis or RingCentral cannot be reached (EX_UNAVAILABLE)
  70  any other failure, e.g. the redirect URI's address cannot be listened on (EX_SOFTWARE)
  75  no redirect arrived within --timeout, or RingCentral's rate limit stopped the exchange: try again (EX_TEMPFAIL)
  78  the configuration is invalid, or ringcentral.auth is not \"authorization_code\" (EX_CONFIG)";

pub const REFUSED: u8 = 1;
pub const NOT_THIS_LOGIN: u8 = 65;
pub const TIMED_OUT: u8 = 75;

/// How long the callback server may take to send its last page once the outcome is known.
const SERVER_DRAIN: Duration = Duration::from_secs(5);

/// Longest piece of the redirect's `error` / `error_description` repeated in a message.
const SHOWN_MAX: usize = 200;

#[derive(Args)]
#[command(after_help = LOGIN_EXIT_CODES)]
pub struct LoginArgs {
    #[command(flatten)]
    common: Common,
    /// How long to wait for the browser's redirect (e.g. 90s, 5m).
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    timeout: Duration,
}

/// `--json`'s document.
#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    /// The exit code.
    code: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stored: Option<&'a LoginOutcome>,
    /// Redis, by its redacted URL.
    redis: &'a str,
}

pub fn run(args: LoginArgs) -> ExitCode {
    let json = args.common.json;
    let timeout = args.timeout;
    with_queue_config(&args.common, move |queue, config, shown| async move {
        let result = if config.ringcentral.auth != AuthFlow::AuthorizationCode {
            Err(Failure {
                code: INVALID_CONFIG,
                message: format!(
                    "ringcentral.auth is \"{}\": the processes log in by themselves with the JWT; set ringcentral.auth = \"authorization_code\" to use `snapsync login`",
                    config.ringcentral.auth.as_str()
                ),
            })
        } else {
            login(&queue, &config, timeout).await
        };
        if json {
            let report = match &result {
                Ok(outcome) => Report { ok: true, code: 0, error: None, stored: Some(outcome), redis: &shown },
                Err(f) => Report { ok: false, code: f.code, error: Some(&f.message), stored: None, redis: &shown },
            };
            super::print_json(&report)?;
        } else if let Ok(o) = &result {
            println!("logged in: the token pair is stored in redis at {shown} for every process");
            println!("access token expires {} (the processes refresh it)", time(Some(o.access_expires_ms)));
            if o.refresh_token {
                println!(
                    "refresh token expires {} unless a refresh renews it first (each refresh does)",
                    time(Some(o.refresh_expires_ms))
                );
            } else {
                println!("no refresh token was issued: run `snapsync login` again when the access token expires");
            }
        }
        result.map(|_| 0)
    })
}

/// What the callback server saw on the redirect path: the query's parameters.
struct Callback {
    params: Vec<(String, String)>,
    /// Answers the browser with a page once the outcome is known.
    reply: oneshot::Sender<(StatusCode, Html<String>)>,
}

async fn login(queue: &Queue, config: &Config, timeout: Duration) -> Result<LoginOutcome, Failure> {
    let redirect = config.ringcentral.redirect_uri.clone();
    let limiter = queue.limiter(config.rate_limits.limiter_options());
    let rc = snapsync::clients::ringcentral(config, queue.conn().clone(), limiter)
        .map_err(|e| failure(INVALID_CONFIG, "ringcentral", &e))?;

    let (tx, mut rx) = mpsc::channel::<Callback>(8);
    let path = redirect.path().to_owned();
    let listeners = bind(&redirect).await?;
    let app = Router::new().fallback(callback).with_state(Arc::new((path, tx)));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for listener in listeners {
        let app = app.clone();
        let mut stopped = stopped.clone();
        servers.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let _ = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
        }));
    }

    let pkce = Pkce::new();
    let state = random_state();
    let url =
        rc.authorize_url(redirect.as_str(), &state, &pkce).map_err(|e| failure(INVALID_CONFIG, "ringcentral", &e))?;
    eprintln!("Open this URL in a browser and sign in to RingCentral:\n\n  {url}\n");
    eprintln!("Waiting up to {} for the redirect to {redirect} ...", humantime::format_duration(timeout));

    // The timeout bounds the wait for the redirect; the exchange after it has its own.
    let outcome = match tokio::time::timeout(timeout, rx.recv()).await {
        Ok(Some(cb)) => {
            let result = finish(&rc, &redirect, &state, &pkce, &cb.params).await;
            let page = match &result {
                Ok(_) => (
                    StatusCode::OK,
                    page("Logged in", "snapsync stored the RingCentral token pair. You can close this tab."),
                ),
                Err(f) => (StatusCode::BAD_REQUEST, page("Login failed", &f.message)),
            };
            let _ = cb.reply.send(page);
            result
        }
        Ok(None) => Err(Failure { code: SOFTWARE, message: "the callback server stopped".into() }),
        Err(_) => Err(Failure {
            code: TIMED_OUT,
            message: format!(
                "no redirect to {redirect} within {}: open the URL printed above, or raise --timeout",
                humantime::format_duration(timeout)
            ),
        }),
    };
    // The servers finish the browser's request (its page) before they stop; a browser
    // holding the connection open does not keep the command waiting long.
    let _ = stop.send(true);
    let _ = tokio::time::timeout(SERVER_DRAIN, futures_join(servers)).await;
    outcome
}

async fn futures_join(servers: Vec<tokio::task::JoinHandle<()>>) {
    for server in servers {
        let _ = server.await;
    }
}

/// Checks the redirect and exchanges its code.
async fn finish(
    rc: &snapsync::ringcentral::RingCentral,
    redirect: &Url,
    state: &str,
    pkce: &Pkce,
    params: &[(String, String)],
) -> Result<LoginOutcome, Failure> {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    // Constant time: the state is what ties the redirect to this login.
    let state_ok = get("state").is_some_and(|s| subtle::ConstantTimeEq::ct_eq(s.as_bytes(), state.as_bytes()).into());
    if !state_ok {
        let what = if get("state").is_some() { "does not match" } else { "is missing" };
        return Err(Failure {
            code: NOT_THIS_LOGIN,
            message: format!(
                "the redirect's state {what}: it is not the redirect of this login (an old tab, or a forged link); run `snapsync login` again"
            ),
        });
    }
    if let Some(error) = get("error") {
        let description = get("error_description").map(|d| format!(": {}", shown(d))).unwrap_or_default();
        return Err(Failure {
            code: REFUSED,
            message: format!("RingCentral refused the authorization ({}){description}", shown(error)),
        });
    }
    let Some(code) = get("code").filter(|c| !c.is_empty()) else {
        return Err(Failure { code: NOT_THIS_LOGIN, message: "the redirect carries no code and no error".into() });
    };
    let code = SecretString::from(code.to_owned());
    rc.exchange_code(&code, redirect.as_str(), pkce).await.map_err(exchange_failure)
}

fn exchange_failure(e: RcError) -> Failure {
    let code = match &e {
        RcError::Connect { .. } | RcError::Timeout { .. } | RcError::Redis { .. } => UNAVAILABLE,
        // RingCentral's rate limit, or our share of it: nothing wrong, try again later.
        RcError::RateLimited { .. } | RcError::Throttled { .. } => TIMED_OUT,
        RcError::Api { .. } => REFUSED,
        _ => SOFTWARE,
    };
    let what = match code {
        REFUSED => "RingCentral refused the code exchange",
        TIMED_OUT => "the code exchange must wait for RingCentral's rate limit; run `snapsync login` again shortly",
        _ => "the code exchange failed",
    };
    failure(code, what, &e)
}

/// A caller-supplied value for a message: escaped (no control characters, no quotes
/// breaking out) and capped.
fn shown(text: &str) -> String {
    let capped: String = text.chars().take(SHOWN_MAX).collect();
    let more = if text.chars().count() > SHOWN_MAX { "..." } else { "" };
    format!("{:?}{more}", capped)
}

/// The callback server's one handler: the redirect path hands its query to [`login`] and
/// waits for the page; anything else is 404.
async fn callback(
    State(shared): State<Arc<(String, mpsc::Sender<Callback>)>>,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let (path, tx) = &*shared;
    if uri.path() != path {
        return (StatusCode::NOT_FOUND, page("Not found", "This is snapsync login's redirect listener."))
            .into_response();
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (reply, answer) = oneshot::channel();
    if tx.send(Callback { params, reply }).await.is_err() {
        return (StatusCode::GONE, page("Login over", "This login has already finished.")).into_response();
    }
    match answer.await {
        Ok((status, body)) => (status, body).into_response(),
        Err(_) => (StatusCode::GONE, page("Login over", "This login has already finished.")).into_response(),
    }
}

fn page(title: &str, message: &str) -> Html<String> {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>snapsync: {t}</title></head>\
         <body><h1>{t}</h1><p>{m}</p></body></html>",
        t = esc(title),
        m = esc(message)
    ))
}

/// Listeners on the redirect URI's host and port: an IP as given; `localhost` on 127.0.0.1
/// (required) and [::1] (when the machine has IPv6), as browsers may try either.
async fn bind(redirect: &Url) -> Result<Vec<tokio::net::TcpListener>, Failure> {
    let port = redirect.port_or_known_default().unwrap_or(80);
    let ips: Vec<IpAddr> = match redirect.host() {
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        _ => vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)],
    };
    let mut listeners = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        match tokio::net::TcpListener::bind(SocketAddr::new(*ip, port)).await {
            Ok(l) => listeners.push(l),
            // [::1] next to 127.0.0.1 is a convenience.
            Err(_) if i > 0 => {}
            Err(e) => {
                return Err(failure(
                    SOFTWARE,
                    &format!("cannot listen on {} for ringcentral.redirect_uri {redirect}", SocketAddr::new(*ip, port)),
                    &e,
                ))
            }
        }
    }
    Ok(listeners)
}
