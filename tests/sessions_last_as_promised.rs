//! What docs/accounts.md promises of sessions and addresses: sessions live
//! in PostgreSQL and survive a restart, last `session_hours` and no
//! longer, end when the password changes; and behind a trusted proxy the
//! client's address is the proxy's word, never what the client claims.

mod common;

use common::accounts::{PASSWORD, api_token, call, psql};
use common::{ServerOptions, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

async fn status_with(server: &TestServer, cookie: &str) -> u16 {
    server
        .client
        .get(server.url("/api/session"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_survive_restarts_expire_and_end_with_the_password() {
    let mut server = TestServer::start(ServerOptions {
        auth: true,
        env: vec![("CLASSCAST_AUTH__SESSION_HOURS", "3".into())],
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let (cookie, csrf) = server.sign_in("root", PASSWORD).await;
    let (other_cookie, _) = server.sign_in("root", PASSWORD).await;

    // A restart (deploy, crash) signs nobody out.
    assert!(server.terminate().success());
    server.spawn().await;
    assert_eq!(status_with(&server, &cookie).await, 200, "after a restart");

    // A session lasts session_hours from sign-in, and not a second more.
    let hours = psql(
        &server,
        "SELECT DISTINCT round(extract(epoch FROM expires_at - created_at) / 3600)
         FROM user_sessions",
    );
    assert_eq!(hours, "3");
    psql(
        &server,
        "UPDATE user_sessions SET expires_at = now() - interval '1 second'
         WHERE created_at = (SELECT max(created_at) FROM user_sessions)",
    );
    assert_eq!(status_with(&server, &other_cookie).await, 401, "expired");
    assert_eq!(status_with(&server, &cookie).await, 200);

    // A new password ends every session opened with the old one.
    let (third, _) = server.sign_in("root", PASSWORD).await;
    let me: Value = server
        .client
        .get(server.url("/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["user"]["user_id"].as_str().unwrap();
    let response = server
        .client
        .patch(server.url(&format!("/api/users/{id}")))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"password": "another passphrase", "current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        status_with(&server, &third).await,
        401,
        "other sessions end"
    );
    assert_eq!(status_with(&server, &cookie).await, 401, "this one too");
    server.sign_in("root", "another passphrase").await;
}

/// Failed sign-ins with an X-Forwarded-For header; the audited addresses.
async fn addresses_seen(server: &TestServer, forwarded: &[&str]) -> Vec<String> {
    for (i, header) in forwarded.iter().enumerate() {
        server
            .client
            .post(server.url("/api/session"))
            .header("x-forwarded-for", *header)
            .json(&json!({"username": format!("probe{i}"), "password": "wrong password!"}))
            .send()
            .await
            .unwrap();
    }
    let root = api_token(server, "root", PASSWORD).await;
    let (_, audit) = call(server, Method::GET, "/api/audit", Some(&root), None).await;
    let mut seen: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sign_in_failed")
        .map(|e| e["address"].as_str().unwrap_or("").to_string())
        .collect();
    seen.reverse();
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spoofed_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // No proxy configured: the header is the client's claim and ignored.
    let direct = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    direct.create_admin("root", PASSWORD);
    assert_eq!(
        addresses_seen(&direct, &["203.0.113.9"]).await,
        ["127.0.0.1"]
    );

    // Behind a trusted proxy (here, the loopback the test connects from),
    // the proxy's own entry counts; what the client put in front does not.
    let proxied = TestServer::start(ServerOptions {
        auth: true,
        env: vec![
            ("CLASSCAST_HTTP__TRUSTED_PROXIES", "[\"127.0.0.1\"]".into()),
            ("CLASSCAST_AUTH__MAX_FAILURES_PER_ADDRESS", "2".into()),
        ],
        ..Default::default()
    })
    .await;
    proxied.create_admin("root", PASSWORD);
    assert_eq!(
        addresses_seen(&proxied, &["198.51.100.1, 203.0.113.9", "203.0.113.9"]).await,
        ["203.0.113.9", "203.0.113.9"]
    );
    // The address limit follows the real client, so one guesser behind the
    // proxy does not lock out everyone else behind it.
    let attempt = |forwarded: &'static str| {
        let server = &proxied;
        async move {
            server
                .client
                .post(server.url("/api/session"))
                .header("x-forwarded-for", forwarded)
                .json(&json!({"username": "someone", "password": "wrong password!"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        attempt("1.2.3.4, 203.0.113.9").await,
        429,
        "the guesser is limited"
    );
    assert_eq!(attempt("192.0.2.50").await, 401, "a colleague is not");
}
