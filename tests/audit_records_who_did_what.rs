//! The audit log records each security-relevant action with who did it,
//! from where and to what: key rotation, token revocation, role and
//! account changes, failed sign-ins, and every deletion (a school's
//! included). Deleting a finished recording removes its files and its
//! playback too. Every API answer is checked against the OpenAPI document.

mod common;

use std::time::Duration;

use common::accounts::{PASSWORD, api_token, school, user, wait_classroom};
use common::openapi::Spec;
use common::{ServerOptions, TestServer, ffmpeg_publish};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn every_sensitive_action_is_audited_with_actor_address_and_target() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let spec = Spec::fetch(&server).await;
    let root = api_token(&server, "root", PASSWORD).await;
    let main = school(&server, &root, "一中", "campus").await;
    let unused = school(&server, &root, "停办的分校", "campus").await;
    let (_, room) = spec
        .call(
            &server,
            Method::POST,
            "/api/classrooms",
            Some(&root),
            Some(json!({"name": "初三(2)班", "school_id": main, "ladder_heights": []})),
        )
        .await;
    let room = room["id"].as_str().unwrap().to_string();
    let (_, source) = spec
        .call(
            &server,
            Method::POST,
            &format!("/api/classrooms/{room}/sources"),
            Some(&root),
            Some(json!({"kind": "rtmp"})),
        )
        .await;
    let source_id = source["id"].as_str().unwrap().to_string();
    let key = source["stream_key"].as_str().unwrap().to_string();

    // A short lesson, recorded and finished.
    let mut publisher = ffmpeg_publish(&server.rtmp_url(&key), "flv", 4, true);
    let live = wait_classroom(&server, &root, &room, "live", |c| {
        c["live"]["state"] == "live"
    })
    .await;
    let recording = live["live"]["recording_id"].as_str().unwrap().to_string();
    publisher.wait().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, r) = spec
            .call(
                &server,
                Method::GET,
                &format!("/api/recordings/{recording}"),
                Some(&root),
                None,
            )
            .await;
        if r["status"] == "complete" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "recording not finished: {r}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, playback) = spec
        .call(
            &server,
            Method::GET,
            &format!("/api/recordings/{recording}/playback"),
            Some(&root),
            None,
        )
        .await;
    let vod = playback["url"].as_str().unwrap().to_string();
    assert_eq!(server.get(&vod).await.status(), 200);
    let files = server.media.path().join("recordings").join(&recording);
    assert!(files.join("index.m3u8").exists());

    // The actions.
    let (status, _) = spec
        .call(
            &server,
            Method::POST,
            &format!("/api/classrooms/{room}/sources/{source_id}/rotate-key"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, token) = {
        let (cookie, csrf) = server.sign_in("root", PASSWORD).await;
        let response = server
            .client
            .post(server.url("/api/tokens"))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .json(&json!({"name": "课表"}))
            .send()
            .await
            .unwrap();
        let response = spec.checked("POST", "/api/tokens", response).await;
        (response.status(), response.json::<Value>().await.unwrap())
    };
    let token_id = token["id"].as_str().unwrap().to_string();
    let (status, _) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/tokens/{token_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let teacher = user(
        &server,
        &root,
        json!({"username": "sun", "password": PASSWORD,
        "school_id": main, "roles": [{"role": "teacher"}]}),
    )
    .await;
    let teacher_id = teacher["id"].as_str().unwrap().to_string();
    let (status, _) = spec
        .call(
            &server,
            Method::PATCH,
            &format!("/api/users/{teacher_id}"),
            Some(&root),
            Some(json!({"roles": [{"role": "viewer"}]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = spec
        .call(
            &server,
            Method::PATCH,
            &format!("/api/users/{teacher_id}"),
            Some(&root),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/users/{teacher_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let response = server
        .client
        .post(server.url("/api/session"))
        .json(&json!({"username": "sun.typo", "password": "wrong password!"}))
        .send()
        .await
        .unwrap();
    let response = spec.checked("POST", "/api/session", response).await;
    assert_eq!(response.status(), 401);

    // A school still in use (its classroom) stays; one with nothing in it goes.
    let (status, body) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/schools/{main}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "school_in_use", "{body}");
    let (status, body) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/schools/{unused}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");

    // Deleting the finished recording: 204, its playback and files gone.
    let (status, _) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/recordings/{recording}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = spec
        .call(
            &server,
            Method::GET,
            &format!("/api/recordings/{recording}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(server.get(&vod).await.status(), 404, "its playback is gone");
    assert!(!files.exists(), "its files are gone: {files:?}");
    let (status, _) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/classrooms/{room}/sources/{source_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = spec
        .call(
            &server,
            Method::DELETE,
            &format!("/api/classrooms/{room}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 204);

    let (_, audit) = spec
        .call(
            &server,
            Method::GET,
            "/api/audit?limit=1000",
            Some(&root),
            None,
        )
        .await;
    let entries = audit.as_array().unwrap();
    let find = |action: &str, kind: Option<&str>, target: Option<&str>| -> &Value {
        entries
            .iter()
            .find(|e| {
                e["action"] == action
                    && kind.is_none_or(|k| e["target_kind"] == k)
                    && target.is_none_or(|t| e["target_id"] == t)
            })
            .unwrap_or_else(|| panic!("no {action} on {target:?} in {audit}"))
    };
    for (action, kind, target) in [
        ("stream_key_rotated", "source", &source_id),
        ("token_revoked", "token", &token_id),
        ("roles_changed", "user", &teacher_id),
        ("user_disabled", "user", &teacher_id),
        ("user_deleted", "user", &teacher_id),
        ("recording_deleted", "recording", &recording),
        ("source_deleted", "source", &source_id),
        ("classroom_deleted", "classroom", &room),
        ("school_deleted", "school", &unused),
    ] {
        let entry = find(action, Some(kind), Some(target));
        assert_eq!(entry["actor_name"], "root", "{entry}");
        assert!(entry["actor_id"].is_string(), "{entry}");
        assert_eq!(entry["address"], "127.0.0.1", "{entry}");
    }
    let roles = find("roles_changed", None, Some(&teacher_id));
    assert_eq!(
        roles["detail"]["to"],
        json!([{"role": "viewer"}]),
        "{roles}"
    );
    let failed = entries
        .iter()
        .find(|e| e["action"] == "sign_in_failed" && e["detail"]["username"] == "sun.typo")
        .unwrap_or_else(|| panic!("failed sign-in not audited: {audit}"));
    assert!(
        failed["actor_id"].is_null(),
        "nobody was signed in: {failed}"
    );
    assert_eq!(failed["address"], "127.0.0.1");
    assert_eq!(failed["detail"]["reason"], "bad_credentials");
    let school_deleted = find("school_deleted", None, Some(&unused));
    assert_eq!(
        school_deleted["detail"]["name"], "停办的分校",
        "{school_deleted}"
    );
    assert!(
        !entries
            .iter()
            .any(|e| e["action"] == "school_deleted" && e["target_id"] == main.as_str()),
        "the school in use was not deleted: {audit}"
    );
    spec.assert_all_matched();
}
