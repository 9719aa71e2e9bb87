//! Every write route, as the OpenAPI document lists them, is sent hostile
//! text in each of its string fields (a NUL byte, 100,000 characters) and
//! bodies and paths that are not UTF-8: the answer is always a 4xx in the
//! error shape, never a 5xx.

mod common;

use common::accounts::{PASSWORD, api_token, call};
use common::{ServerOptions, TestServer};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// A body each route accepts, so hostile fields reach its validation
/// rather than stopping at a missing field.
fn base_body(method: &str, path: &str, school: &str) -> Value {
    match (method, path) {
        ("post", "/api/session") => json!({"username": "root", "password": "wrong password!"}),
        ("post", "/api/setup") => json!({"code": "x", "username": "a", "password": "b"}),
        ("post", "/api/schools") => json!({"name": "学校"}),
        ("post", "/api/classrooms") => json!({"name": "教室", "school_id": school}),
        ("post", "/api/classrooms/{id}/sources") => {
            json!({"kind": "rtsp", "url": "rtsp://camera/1", "username": "u", "password": "p"})
        }
        ("patch", "/api/classrooms/{id}/sources/{source_id}") => {
            json!({"url": "rtsp://camera/2", "username": "u", "password": "p", "name": "n"})
        }
        ("post", "/api/users") => json!({"username": "fuzzed", "display_name": "显示名",
            "password": PASSWORD, "school_id": school, "roles": [{"role": "viewer"}]}),
        ("patch", "/api/users/{id}") => json!({"password": "a new passphrase!"}),
        ("post", "/api/tokens") => json!({"name": "令牌"}),
        ("put", "/api/classrooms/{id}/audiences") => json!([]),
        _ => json!({}),
    }
}

/// The string properties of a route's JSON body in the OpenAPI document.
fn string_fields(doc: &Value, operation: &Value) -> Vec<String> {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    };
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, p)| {
            p["type"] == "string"
                || p["type"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!("string")))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_text_never_makes_a_server_error() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        env: vec![("CLASSCAST_AUTH__MAX_FAILURES_PER_ADDRESS", "100000".into())],
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let root = api_token(&server, "root", PASSWORD).await;
    let (_, school) = call(
        &server,
        Method::POST,
        "/api/schools",
        Some(&root),
        Some(json!({"name": "一中"})),
    )
    .await;
    let school = school["id"].as_str().unwrap().to_string();
    let (_, room) = call(
        &server,
        Method::POST,
        "/api/classrooms",
        Some(&root),
        Some(json!({"name": "初一", "school_id": school})),
    )
    .await;
    let room = room["id"].as_str().unwrap().to_string();
    let (_, source) = call(
        &server,
        Method::POST,
        &format!("/api/classrooms/{room}/sources"),
        Some(&root),
        Some(json!({"kind": "rtsp", "url": "rtsp://camera/1"})),
    )
    .await;
    let source = source["id"].as_str().unwrap().to_string();
    let (_, someone) = call(
        &server,
        Method::POST,
        "/api/users",
        Some(&root),
        Some(
            json!({"username": "someone", "password": PASSWORD, "school_id": school,
                    "roles": [{"role": "viewer"}]}),
        ),
    )
    .await;
    let someone = someone["id"].as_str().unwrap().to_string();
    let fill = |path: &str| {
        let id = if path.starts_with("/api/users") {
            &someone
        } else if path.starts_with("/api/recordings") {
            "00000000-0000-4000-8000-000000000001"
        } else {
            &room
        };
        path.replace("{id}", id).replace("{source_id}", &source)
    };

    let doc: Value = server.get("/api/openapi.json").await.json().await.unwrap();
    let nul = "a\u{0}b".to_string();
    let long = "长".repeat(100_000);
    let mut tried = 0;
    let mut failures = Vec::new();
    for (template, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if !matches!(method.as_str(), "post" | "patch" | "put") {
                continue;
            }
            let path = fill(template);
            let base = base_body(method, template, &school);
            let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
            for field in string_fields(&doc, operation) {
                for (label, value) in [("NUL", &nul), ("100k", &long)] {
                    let mut body: Map<String, Value> =
                        base.as_object().cloned().unwrap_or_default();
                    body.insert(field.clone(), Value::String(value.clone()));
                    bodies.push((
                        format!("{field}={label}"),
                        Value::Object(body).to_string().into_bytes(),
                    ));
                }
            }
            // Not UTF-8 at all, inside an otherwise plausible body.
            let mut invalid = b"{\"name\": \"".to_vec();
            invalid.extend_from_slice(&[0xff, 0xfe, 0x80]);
            invalid.extend_from_slice(b"\"}");
            bodies.push(("invalid UTF-8".into(), invalid));
            for (label, body) in bodies {
                let response = server
                    .client
                    .request(
                        Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                        server.url(&path),
                    )
                    .bearer_auth(&root)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let reply: Value = response.json().await.unwrap_or(Value::Null);
                tried += 1;
                if status >= 500 {
                    failures.push(format!("{method} {template} {label}: {status} {reply}"));
                }
                if status >= 400 && reply["error"]["code"].as_str().is_none() {
                    failures.push(format!(
                        "{method} {template} {label}: {status} without the error shape"
                    ));
                }
            }
        }
    }
    // Paths and queries that are not UTF-8 either.
    for target in [
        "/api/classrooms/%FF%FE".to_string(),
        format!("/api/classrooms/{room}/sources/%C0%AF"),
        "/api/recordings?classroom_id=%FF".to_string(),
        format!("/live/{room}/%FF/index.m3u8?token=%FF"),
        "/vod/%FF/index.m3u8".to_string(),
    ] {
        let (status, body) = common::raw_get(server.http, &target);
        tried += 1;
        if status >= 500 || status == 0 {
            failures.push(format!("GET {target}: {status} {body}"));
        }
    }
    assert!(tried > 40, "only {tried} requests: is the document empty?");
    assert!(
        failures.is_empty(),
        "{tried} tried:\n{}",
        failures.join("\n")
    );
}
