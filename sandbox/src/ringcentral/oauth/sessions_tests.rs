//! Unit tests of session rules on a made-up clock: rotation, grace windows, the session cap.

use std::time::{Duration, Instant};

use super::*;

fn grant(ext: u64) -> Grant {
    Grant { account_id: 1, extension_id: ext, client_id: "app".into(), public: false, endpoint_id: None }
}

fn secs(t0: Instant, s: u64) -> Instant {
    t0 + Duration::from_secs(s)
}

#[test]
fn rotation_kills_the_old_access_token_at_once() {
    let mut a = AuthState::default();
    let t0 = Instant::now();
    let first = a.login(grant(7), TtlRequest::default(), t0);
    let second = a.refresh(&first.refresh_token, "app", false, TtlRequest::default(), secs(t0, 1)).unwrap();
    assert_ne!(first.access_token, second.access_token);
    assert_ne!(first.refresh_token, second.refresh_token);
    assert_eq!(a.check_access(&first.access_token, secs(t0, 2)), Err(AccessError::Corrupted));
    assert_eq!(a.check_access(&first.access_token, secs(t0, 12)), Err(AccessError::NotFound));
    assert!(a.check_access(&second.access_token, secs(t0, 2)).is_ok());
    assert_eq!(a.stats.refreshes, 1);
}

#[test]
fn old_refresh_token_replays_the_same_pair_for_60_min_while_unused() {
    let mut a = AuthState::default();
    let t0 = Instant::now();
    let first = a.login(grant(7), TtlRequest::default(), t0);
    let second = a.refresh(&first.refresh_token, "app", false, TtlRequest::default(), t0).unwrap();
    let again = a.refresh(&first.refresh_token, "app", false, TtlRequest::default(), secs(t0, 3599)).unwrap();
    assert_eq!((again.access_token, again.refresh_token), (second.access_token, second.refresh_token));
    assert_eq!(a.stats.refreshes, 1);
    assert_eq!(
        a.refresh(&first.refresh_token, "app", false, TtlRequest::default(), secs(t0, 3600)).unwrap_err(),
        RefreshError::NotFound
    );
}

#[test]
fn old_refresh_token_dies_10_s_after_the_new_access_token_is_used() {
    let mut a = AuthState::default();
    let t0 = Instant::now();
    let first = a.login(grant(7), TtlRequest::default(), t0);
    let second = a.refresh(&first.refresh_token, "app", false, TtlRequest::default(), t0).unwrap();
    a.check_access(&second.access_token, secs(t0, 100)).unwrap();
    assert!(a.refresh(&first.refresh_token, "app", false, TtlRequest::default(), secs(t0, 109)).is_ok());
    assert_eq!(
        a.refresh(&first.refresh_token, "app", false, TtlRequest::default(), secs(t0, 110)).unwrap_err(),
        RefreshError::NotFound
    );
    // The current refresh token is unaffected.
    assert!(a.refresh(&second.refresh_token, "app", false, TtlRequest::default(), secs(t0, 111)).is_ok());
}

#[test]
fn expired_tokens() {
    let mut a = AuthState::default();
    let t0 = Instant::now();
    let first = a.login(grant(7), TtlRequest { access: Some(600), refresh: Some(1000) }, t0);
    assert_eq!((first.expires_in, first.refresh_token_expires_in), (600, 1000));
    assert_eq!(a.check_access(&first.access_token, secs(t0, 600)), Err(AccessError::Expired));
    assert_eq!(
        a.refresh(&first.refresh_token, "app", false, TtlRequest::default(), secs(t0, 1000)).unwrap_err(),
        RefreshError::Expired
    );
}

#[test]
fn sixth_session_evicts_the_oldest_of_that_user_and_app_only() {
    let mut a = AuthState::default();
    let t0 = Instant::now();
    let other_user = a.login(grant(8), TtlRequest::default(), t0);
    let mine: Vec<Issued> = (0..6).map(|i| a.login(grant(7), TtlRequest::default(), secs(t0, i))).collect();
    assert_eq!(a.check_access(&mine[0].access_token, secs(t0, 10)), Err(AccessError::NotFound));
    for s in &mine[1..] {
        assert!(a.check_access(&s.access_token, secs(t0, 10)).is_ok());
    }
    assert!(a.check_access(&other_user.access_token, secs(t0, 10)).is_ok());
    assert_eq!(a.stats.evictions, 1);
    assert_eq!(a.live_sessions(secs(t0, 10)), 6);
}

#[test]
fn revoke_by_either_token_ends_the_session() {
    let mut a = AuthState::default();
    let t0 = Instant::now();
    let s = a.login(grant(7), TtlRequest::default(), t0);
    assert!(a.revoke(&s.refresh_token));
    assert_eq!(a.check_access(&s.access_token, t0), Err(AccessError::NotFound));
    assert!(!a.revoke(&s.access_token));
}

#[test]
fn public_clients_cannot_refresh_confidential_sessions() {
    let mut a = AuthState::default();
    let t0 = Instant::now();
    let s = a.login(grant(7), TtlRequest::default(), t0);
    assert_eq!(
        a.refresh(&s.refresh_token, "app", true, TtlRequest::default(), t0).unwrap_err(),
        RefreshError::ClientAuthRequired
    );
    assert_eq!(
        a.refresh(&s.refresh_token, "other", false, TtlRequest::default(), t0).unwrap_err(),
        RefreshError::NotFound
    );
}
