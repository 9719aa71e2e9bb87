//! Helpers for the accounts and HTTP tests: API tokens, bearer requests,
//! a second node on the same database, the server's memory, and SQL run
//! as an operator would with psql.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{ServerOptions, TestServer, free_tcp_port, free_udp_port};

pub const PASSWORD: &str = "correct horse battery staple";

/// Signs in as `username` and makes an API token; returns its secret.
pub async fn api_token(server: &TestServer, username: &str, password: &str) -> String {
    let (cookie, csrf) = server.sign_in(username, password).await;
    let response = server
        .client
        .post(server.url("/api/tokens"))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["secret"].as_str().unwrap().to_string()
}

/// A request with a bearer token; (status, JSON body or Null).
pub async fn call(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server.client.request(method, server.url(path));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates a user; returns it.
pub async fn user(server: &TestServer, admin: &str, body: Value) -> Value {
    let (status, user) = call(
        server,
        reqwest::Method::POST,
        "/api/users",
        Some(admin),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    user
}

pub async fn school(server: &TestServer, admin: &str, name: &str, kind: &str) -> String {
    let (status, school) = call(
        server,
        reqwest::Method::POST,
        "/api/schools",
        Some(admin),
        Some(json!({"name": name, "kind": kind})),
    )
    .await;
    assert_eq!(status, 201, "{school}");
    school["id"].as_str().unwrap().to_string()
}

/// A second classcast process on the first one's database (a second node
/// behind the same load balancer), with its own ports and media directory.
pub async fn second_node(first: &TestServer, options: ServerOptions) -> TestServer {
    let media = tempfile::tempdir().unwrap();
    let log = media.path().join("server.log");
    let mut extra_env = vec![
        (
            "CLASSCAST_DEMO__ENABLED".to_string(),
            options.demo.to_string(),
        ),
        (
            "CLASSCAST_AUTH__ENABLED".to_string(),
            options.auth.to_string(),
        ),
        // Each node names itself, as two machines would.
        ("CLASSCAST_NODE".to_string(), "second-node".to_string()),
    ];
    for (key, value) in &options.env {
        extra_env.push((key.to_string(), value.clone()));
    }
    let mut server = TestServer {
        http: free_tcp_port(),
        rtmp: free_tcp_port(),
        srt: free_udp_port(),
        database_url: first.database_url.clone(),
        media,
        log,
        extra_env,
        // The first node's database: it drops it.
        own_database: false,
        child: None,
        client: reqwest::Client::new(),
    };
    server.spawn().await;
    server
}

/// Resident memory of the server process now, and at its peak, in MiB.
pub fn memory_mib(server: &TestServer) -> (f64, f64) {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.pid().unwrap())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc status"))
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Runs SQL on the server's database, as an operator with psql would.
pub fn psql(server: &TestServer, sql: &str) -> String {
    let output = Command::new("psql")
        .args([server.database_url.as_str(), "-qtAc", sql])
        .stderr(Stdio::piped())
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// Polls `check` until it holds or `timeout` passes; returns how long it took.
pub async fn within<F, Fut>(timeout: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < timeout, "not within {timeout:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `error.code` of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// Polls a classroom (as `bearer`) until `check` holds; fails after 30 s.
pub async fn wait_classroom(
    server: &TestServer,
    bearer: &str,
    room: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, c) = call(
            server,
            reqwest::Method::GET,
            &format!("/api/classrooms/{room}"),
            Some(bearer),
            None,
        )
        .await;
        if check(&c) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {c}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Until the classroom is live with segments to serve.
pub async fn wait_serving(server: &TestServer, bearer: &str, room: &str) -> Value {
    wait_classroom(server, bearer, room, "live with segments", |c| {
        c["live"]["state"] == "live"
            && c["live"]["renditions"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
    })
    .await
}
