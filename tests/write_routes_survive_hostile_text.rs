//! Every write route, as the OpenAPI document lists them, is sent hostile
//! text in each of its string fields (a NUL byte, 100,000 characters) and
//! bodies and paths that are not UTF-8: the answer is always a 4xx in the
//! error shape, never a 5xx, and one the document lists. A NUL or 100k
//! value in a free-text field is 422 naming that field, unless the route
//! refuses the well-formed request the same way before reading it.

mod common;

use common::accounts::{PASSWORD, api_token, call, wait_serving};
use common::openapi::Spec;
use common::{ServerOptions, TestServer};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// Ids the hostile requests name: made before them, or by them.
struct Ids {
    school: String,
    room: String,
    other_room: String,
    /// What each create route (its template) made first: the id its item
    /// routes (`{template}/{id}`) are then called with.
    created: std::collections::BTreeMap<String, String>,
}

/// A body each route accepts, so hostile fields reach its validation
/// rather than stopping at a missing field.
fn base_body(doc: &Value, method: &str, path: &str, operation: &Value, ids: &Ids) -> Value {
    let school = &ids.school;
    let soon = |hours: i64| (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339();
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
        ("post", "/api/interactive") => json!({"title": "专递课堂", "main_classroom_id": ids.room,
            "remote_classroom_ids": [ids.other_room], "scheduled_start": soon(1),
            "scheduled_end": soon(2)}),
        ("post", "/api/jobs") => json!({"kind": "vod_ladder",
            "payload": {"input": "uploads/lesson.mp4", "output_dir": "lessons/fuzzed"}}),
        ("post", "/api/library/grades") => json!({"code": "fuzz_grade", "name": "初一",
            "stage": "junior"}),
        // A system admin has no school of their own to default to.
        ("post", "/api/library/lessons") => {
            let mut body = required_fields(
                doc,
                &operation["requestBody"]["content"]["application/json"]["schema"],
                ids,
            );
            body["school_id"] = json!(school);
            body
        }
        _ => required_fields(
            doc,
            &operation["requestBody"]["content"]["application/json"]["schema"],
            ids,
        ),
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => resolve(
            doc,
            &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        ),
        None => schema,
    }
}

/// The required fields of a body schema, each with a plausible value, for
/// routes that need nothing more particular.
fn required_fields(doc: &Value, schema: &Value, ids: &Ids) -> Value {
    let schema = resolve(doc, schema);
    let mut body = Map::new();
    for name in schema["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap();
        let field = resolve(doc, &schema["properties"][name]);
        if field["format"] == "uuid" {
            // What this test made of that kind; left out (the route then
            // refuses the body as a whole) while there is none yet.
            let made = match name {
                "school_id" => Some(&ids.school),
                "subject_id" => ids.created.get("/api/library/subjects"),
                "grade_id" => ids.created.get("/api/library/grades"),
                "edition_id" => ids.created.get("/api/library/editions"),
                _ => Some(&ids.room),
            };
            if let Some(id) = made {
                body.insert(name.to_string(), json!(id));
            }
            continue;
        }
        let kind = match &field["type"] {
            Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned(),
            kind => Some(kind.clone()),
        };
        let value = if let Some(first) = field["enum"].as_array().and_then(|e| e.first()) {
            first.clone()
        } else {
            match kind.as_ref().and_then(Value::as_str) {
                // Lower-case words: also a valid `code`.
                Some("string") => json!(format!("fuzz_{name}")),
                Some("integer") | Some("number") => json!(1),
                Some("boolean") => json!(false),
                Some("array") => json!([]),
                _ => json!({}),
            }
        };
        body.insert(name.to_string(), value);
    }
    Value::Object(body)
}

/// The route's path with real ids: each `{param}` is what the create
/// route before it made (or the test's own of that kind), else a
/// classroom.
fn fill(template: &str, ids: &Ids) -> String {
    let (mut path, mut so_far) = (String::new(), String::new());
    for part in template.split('/').skip(1) {
        let id = if part.starts_with('{') {
            match ids.created.get(&so_far) {
                Some(id) => id.as_str(),
                None => ids.room.as_str(),
            }
        } else {
            part
        };
        path.push('/');
        path.push_str(id);
        so_far.push('/');
        so_far.push_str(part);
    }
    path
}

/// Fields a route may ignore: an admin resetting someone else's password
/// sends no `current_password` (only people changing their own are asked
/// for it), so here it is held to "no 5xx, the error shape" alone.
const IGNORED_HERE: &[&str] = &["current_password"];

/// The string properties of a route's JSON body in the OpenAPI document,
/// each with whether it is free text (no `format` such as a UUID, no `enum`:
/// text a person types, which validation must judge field by field).
fn string_fields(doc: &Value, operation: &Value) -> Vec<(String, bool)> {
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
        .map(|(name, p)| {
            let free = p["format"].is_null()
                && p["enum"].is_null()
                && p["$ref"].is_null()
                && !IGNORED_HERE.contains(&name.as_str());
            (name.clone(), free)
        })
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
    let (_, other_room) = call(
        &server,
        Method::POST,
        "/api/classrooms",
        Some(&root),
        Some(json!({"name": "初二", "school_id": school})),
    )
    .await;
    let other_room = other_room["id"].as_str().unwrap().to_string();
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
    // A recording, for the routes that change one: a classroom with the
    // built-in test source goes live and records at once.
    let (_, studio) = call(
        &server,
        Method::POST,
        "/api/classrooms",
        Some(&root),
        Some(json!({"name": "录播", "school_id": school, "ladder_heights": []})),
    )
    .await;
    let studio = studio["id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/classrooms/{studio}/sources"),
        Some(&root),
        Some(json!({"kind": "test"})),
    )
    .await;
    assert_eq!(status, 201);
    let live = wait_serving(&server, &root, &studio).await;
    let recording = live["live"]["recording_id"].as_str().unwrap().to_string();
    let created = [
        ("/api/classrooms", &room),
        ("/api/classrooms/{id}/sources", &source),
        ("/api/users", &someone),
        ("/api/recordings", &recording),
    ];
    let mut ids = Ids {
        school,
        room: room.clone(),
        other_room,
        created: created
            .into_iter()
            .map(|(template, id)| (template.to_string(), id.clone()))
            .collect(),
    };

    let doc: Value = server.get("/api/openapi.json").await.json().await.unwrap();
    let spec = Spec::new(doc.clone());
    let send = async |method: &str, path: &str, body: Vec<u8>| {
        let response = server
            .client
            .request(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                server.url(path),
            )
            .bearer_auth(&root)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        spec.check(method, path, status, &reply);
        (status, reply)
    };
    // First what the create routes make with a well-formed body, so the
    // item routes after them (and creates that refer to others, such as a
    // lesson to its subject) are called with ids that exist. Twice: a
    // create may need one that comes after it in the document.
    for _ in 0..2 {
        for (template, operations) in doc["paths"].as_object().unwrap() {
            let Some(operation) = operations.get("post") else {
                continue;
            };
            if template.contains('{') || ids.created.contains_key(template) {
                continue;
            }
            let base = base_body(&doc, "post", template, operation, &ids);
            let (status, made) = send("post", template, base.to_string().into_bytes()).await;
            if status == 201
                && let Some(id) = made["id"].as_str()
            {
                ids.created.insert(template.clone(), id.to_string());
            }
        }
    }
    let nul = "a\u{0}b".to_string();
    let long = "长".repeat(100_000);
    let mut tried = 0;
    let mut named = 0;
    let mut failures = Vec::new();
    for (template, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            if !matches!(method.as_str(), "post" | "patch" | "put") {
                continue;
            }
            let path = fill(template, &ids);
            let base = base_body(&doc, method, template, operation, &ids);
            // Free text a route refuses only because the request as a whole
            // is refused (the id names nothing, the caller may not) gets
            // the same refusal: only then may it be something else than 422.
            let fields = string_fields(&doc, operation);
            let made_one = method == "post" && ids.created.contains_key(template);
            let (refused, _) = if fields.iter().any(|(_, free)| *free) && !made_one {
                send(method, &path, base.to_string().into_bytes()).await
            } else {
                (0, Value::Null)
            };
            let refused = (refused >= 400 && refused != 422).then_some(refused);
            let mut bodies: Vec<(String, Option<String>, Vec<u8>)> = Vec::new();
            for (field, free) in fields {
                for (label, value) in [("NUL", &nul), ("100k", &long)] {
                    let mut body: Map<String, Value> =
                        base.as_object().cloned().unwrap_or_default();
                    body.insert(field.clone(), Value::String(value.clone()));
                    bodies.push((
                        format!("{field}={label}"),
                        free.then(|| field.clone()),
                        Value::Object(body).to_string().into_bytes(),
                    ));
                }
            }
            // Not UTF-8 at all, inside an otherwise plausible body.
            let mut invalid = b"{\"name\": \"".to_vec();
            invalid.extend_from_slice(&[0xff, 0xfe, 0x80]);
            invalid.extend_from_slice(b"\"}");
            bodies.push(("invalid UTF-8".into(), None, invalid));
            for (label, free_text, body) in bodies {
                let (status, reply) = send(method, &path, body).await;
                tried += 1;
                if status >= 500 {
                    failures.push(format!("{method} {template} {label}: {status} {reply}"));
                }
                if status >= 400 && reply["error"]["code"].as_str().is_none() {
                    failures.push(format!(
                        "{method} {template} {label}: {status} without the error shape"
                    ));
                }
                let Some(field) = free_text else { continue };
                if status == 422 && reply["error"]["fields"][&field].is_string() {
                    named += 1;
                } else if refused != Some(status) {
                    failures.push(format!(
                        "{method} {template} {label}: {status} {reply}, not 422 naming {field}"
                    ));
                }
            }
        }
    }
    // Paths and queries that are not UTF-8 either.
    for target in [
        "/api/classrooms/%FF%FE".to_string(),
        format!("/api/classrooms/{}/sources/%C0%AF", ids.room),
        "/api/recordings?classroom_id=%FF".to_string(),
        format!("/live/{}/%FF/index.m3u8?token=%FF", ids.room),
        "/vod/%FF/index.m3u8".to_string(),
    ] {
        let (status, body) = common::raw_get(server.http, &target);
        tried += 1;
        let reply = body
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        spec.check("GET", &target, status, &reply);
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
    eprintln!("{named} hostile values refused as 422 naming their field, of {tried} requests");
    assert!(
        named >= 100,
        "only {named} free-text values reached validation"
    );
    spec.assert_all_matched();
}
