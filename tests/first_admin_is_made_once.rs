//! No default password ever exists: a new server prints a one-time setup
//! link, the first administrator is made with its code, and from then on
//! the code opens nothing.

mod common;

use common::{ServerOptions, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_code_makes_one_admin_and_then_stops_working() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    // The usual guesses open nothing.
    for (username, password) in [("admin", "admin"), ("admin", "123456"), ("root", "root")] {
        let (status, _) = server
            .post_json(
                "/api/session",
                json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(status, 401, "{username}/{password}");
    }
    let logs = server.logs();
    let code = logs
        .split("#/setup?code=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no setup link in the log:\n{logs}"))
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_')
        .to_string();

    // A mistyped code and a used link are told apart: only the second
    // sends the person to sign in.
    let wrong = json!({"code": "wrong", "username": "信息中心", "password": "a long passphrase"});
    let (status, body) = server.post_json("/api/setup", wrong.clone()).await;
    assert_eq!(
        (status, code_of(&body)),
        (403, "setup_code_wrong"),
        "{body}"
    );
    let admin = json!({"code": code, "username": "信息中心", "password": "a long passphrase"});
    let (status, user) = server.post_json("/api/setup", admin.clone()).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["roles"][0]["role"], "system_admin");
    let (status, body) = server.post_json("/api/setup", admin).await;
    assert_eq!(
        (status, code_of(&body)),
        (409, "setup_done"),
        "the code works once: {body}"
    );
    let (status, body) = server.post_json("/api/setup", wrong).await;
    assert_eq!((status, code_of(&body)), (409, "setup_done"), "{body}");
    let (cookie, csrf) = server.sign_in("信息中心", "a long passphrase").await;
    assert!(cookie.starts_with("classcast_session=") && !csrf.is_empty());

    // The log says who made the first admin, from where: the new admin.
    let entries: serde_json::Value = server
        .client
        .get(server.url("/api/audit?action=first_admin_created"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["target_kind"], "user");
    assert_eq!(entries[0]["target_id"], user["id"]);
    assert_eq!(entries[0]["target_name"], "信息中心");
    assert_eq!(entries[0]["actor_name"], "信息中心");
    assert_eq!(entries[0]["address"], "127.0.0.1");

    // A session left open is not enough to change one's own password.
    let me = user["id"].as_str().unwrap();
    let change = |body: serde_json::Value| {
        server
            .client
            .patch(server.url(&format!("/api/users/{me}")))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&body)
            .send()
    };
    let status = change(json!({"password": "taken over 12345"}))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "no current password");
    let status = change(json!({"password": "taken over 12345", "current_password": "guess"}))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "a wrong current password");
    let status =
        change(json!({"password": "a new passphrase", "current_password": "a long passphrase"}))
            .await
            .unwrap()
            .status();
    assert_eq!(status, 200);
    server.sign_in("信息中心", "a new passphrase").await;
}

fn code_of(body: &serde_json::Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}
