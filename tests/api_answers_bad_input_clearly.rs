//! The API answers bad input with a clear, field-level error in the shared
//! JSON shape, in Chinese by default and English on request; unknown ids are
//! 404; and a garbage request changes nothing.

mod common;

use common::{ServerOptions, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let server = TestServer::start(ServerOptions::default()).await;
    // The answers below are also checked against the OpenAPI document.
    let spec = common::openapi::Spec::fetch(&server).await;

    // Invalid JSON.
    let response = server
        .client
        .post(server.url("/api/classrooms"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    spec.check("POST", "/api/classrooms", 400, &body);
    assert_eq!(body["error"]["code"], "invalid_json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("请求内容不是有效的 JSON")
    );

    // Field-level validation, in English when asked.
    let response = server
        .client
        .post(server.url("/api/classrooms"))
        .header("accept-language", "en-US,en;q=0.9")
        .json(&json!({"name": "   ", "ladder_heights": [720, 720]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: serde_json::Value = response.json().await.unwrap();
    spec.check("POST", "/api/classrooms", 422, &body);
    assert_eq!(body["error"]["code"], "invalid_input");
    assert!(body["error"]["fields"]["name"].is_string());
    assert!(
        body["error"]["fields"]["ladder_heights"]
            .as_str()
            .unwrap()
            .contains("distinct")
    );

    // Unknown fields are refused rather than ignored.
    let (status, body) = server
        .post_json("/api/classrooms", json!({"name": "A", "colour": "red"}))
        .await;
    assert_eq!(status, 400, "{body}");
    spec.check("POST", "/api/classrooms", status, &body);

    // Unknown ids and malformed ids.
    let missing = server
        .get(&format!("/api/classrooms/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(missing.status(), 404);
    let malformed = server.get("/api/classrooms/not-a-uuid").await;
    assert_eq!(malformed.status(), 400);
    let body: serde_json::Value = malformed.json().await.unwrap();
    spec.check("GET", "/api/classrooms/not-a-uuid", 400, &body);
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    let bad_query = server.get("/api/recordings?limit=many").await;
    assert_eq!(bad_query.status(), 400);
    let body: serde_json::Value = bad_query.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request", "{body}");
    assert_eq!(server.get("/api/no-such-route").await.status(), 404);

    // An RTSP source needs a real rtsp:// URL; a pushed one must not have one.
    let (status, classroom) = server
        .post_json(
            "/api/classrooms",
            json!({"name": "初一(1)班 <b>\"test\"</b>"}),
        )
        .await;
    assert_eq!(status, 201);
    spec.check("POST", "/api/classrooms", status, &classroom);
    assert_eq!(
        classroom["name"], "初一(1)班 <b>\"test\"</b>",
        "names are stored verbatim"
    );
    let id = classroom["id"].as_str().unwrap();
    let (status, body) = server
        .post_json(
            &format!("/api/classrooms/{id}/sources"),
            json!({"kind": "rtsp", "url": "http://camera"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body["error"]["fields"]["url"].is_string());
    let (status, _) = server
        .post_json(
            &format!("/api/classrooms/{id}/sources"),
            json!({"kind": "rtmp", "url": "rtsp://x"}),
        )
        .await;
    assert_eq!(status, 422);
    // Same name twice in one school is a conflict, not a server error.
    let (status, body) = server
        .post_json(
            "/api/classrooms",
            json!({"name": "初一(1)班 <b>\"test\"</b>"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    // ...which the form shows next to the name.
    assert_eq!(body["error"]["code"], "classroom_name_taken", "{body}");
    assert!(body["error"]["fields"]["name"].is_string(), "{body}");
    spec.check("POST", "/api/classrooms", status, &body);

    // Nothing extra was created by the bad requests.
    let list = server.get_json("/api/classrooms").await;
    spec.check("GET", "/api/classrooms", 200, &list);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Stream keys can be rotated; the old one is gone.
    let (_, source) = server
        .post_json(
            &format!("/api/classrooms/{id}/sources"),
            json!({"kind": "srt"}),
        )
        .await;
    let old_key = source["stream_key"].as_str().unwrap().to_string();
    let sid = source["id"].as_str().unwrap();
    let (status, rotated) = server
        .post_json(
            &format!("/api/classrooms/{id}/sources/{sid}/rotate-key"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    spec.check(
        "POST",
        &format!("/api/classrooms/{id}/sources/{sid}/rotate-key"),
        status,
        &rotated,
    );
    assert_ne!(rotated["stream_key"].as_str().unwrap(), old_key);

    // The OpenAPI document describes the routes.
    let doc = server.get_json("/api/openapi.json").await;
    assert!(doc["paths"]["/api/classrooms"]["post"].is_object());
    assert!(doc["paths"]["/api/classrooms/{id}/sources/{source_id}/rotate-key"].is_object());
    spec.assert_all_matched();
}
