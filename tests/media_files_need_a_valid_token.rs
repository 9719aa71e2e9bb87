//! Not only playlists: every media file (init segments and fragments, live
//! and recorded) is refused to nobody, to garbage, tampered, foreign,
//! expired and other-lesson tokens, each with its reason, and served to a
//! valid token and to a signed-in viewer who may watch.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use classcast::auth::playback::{Grant, PlaybackKey, Scope};
use common::accounts::{PASSWORD, api_token, call, code, psql, school, user, wait_serving};
use common::{ServerOptions, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

async fn live_room(server: &TestServer, admin: &str, name: &str, school: &str) -> Value {
    let (status, room) = call(
        server,
        Method::POST,
        "/api/classrooms",
        Some(admin),
        Some(json!({"name": name, "school_id": school, "ladder_heights": []})),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    let (status, _) = call(
        server,
        Method::POST,
        &format!("/api/classrooms/{id}/sources"),
        Some(admin),
        Some(json!({"kind": "test"})),
    )
    .await;
    assert_eq!(status, 201);
    wait_serving(server, admin, &id).await
}

/// The init segment and newest fragment a tokened media playlist lists.
async fn files(server: &TestServer, playlist: &str, token: &str) -> Vec<String> {
    let text = server
        .get(&format!("{playlist}?token={token}"))
        .await
        .text()
        .await
        .unwrap();
    let dir = playlist.rsplit_once('/').unwrap().0;
    let init = text
        .lines()
        .find_map(|l| l.split("URI=\"").nth(1))
        .and_then(|r| r.split(['?', '"']).next())
        .unwrap_or_else(|| panic!("no init in {text}"));
    let segment = text
        .lines()
        .rfind(|l| l.contains(".m4s"))
        .and_then(|l| l.split('?').next())
        .unwrap_or_else(|| panic!("no segment in {text}"));
    assert!(
        init.starts_with("init-") && init.ends_with(".mp4"),
        "{init}"
    );
    vec![
        playlist.to_string(),
        format!("{dir}/{init}"),
        format!("{dir}/{segment}"),
    ]
}

async fn answer(server: &TestServer, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = server.client.get(server.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, code(&body).to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_media_file_needs_a_valid_token_or_a_viewer_who_may_watch() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let root = api_token(&server, "root", PASSWORD).await;
    let main = school(&server, &root, "一中", "campus").await;
    let other = school(&server, &root, "二中", "campus").await;
    user(
        &server,
        &root,
        json!({"username": "outsider", "password": PASSWORD, "school_id": other,
               "roles": [{"role": "viewer"}]}),
    )
    .await;
    user(
        &server,
        &root,
        json!({"username": "pupil", "password": PASSWORD, "school_id": main,
               "roles": [{"role": "viewer"}]}),
    )
    .await;
    let a = live_room(&server, &root, "高一(1)班", &main).await;
    let b = live_room(&server, &root, "高一(2)班", &main).await;
    let (room_a, room_b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let lesson_a: Uuid = a["live"]["session_id"].as_str().unwrap().parse().unwrap();
    let recording: Uuid = a["live"]["recording_id"].as_str().unwrap().parse().unwrap();
    let room_a_id: Uuid = room_a.parse().unwrap();

    // The server's own key, as every node reads it from the database: lets
    // the test sign the expired and other-lesson tokens a server never would.
    let hex = psql(
        &server,
        "SELECT encode(value, 'hex') FROM server_secrets WHERE name = 'playback_key'",
    );
    let key = PlaybackKey::new(
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect(),
    );
    let now = chrono::Utc::now().timestamp();
    let grant = |scope, lesson, expires| Grant {
        scope,
        lesson,
        viewer: Uuid::new_v4(),
        viewer_epoch: 0,
        scope_epoch: 0,
        expires,
    };
    let live_token = key.sign(&grant(Scope::Live(room_a_id), Some(lesson_a), now + 300));
    let vod_token = key.sign(&grant(Scope::Recording(recording), None, now + 300));
    let mut live_files = files(
        &server,
        &format!("/live/{room_a}/source/index.m3u8"),
        &live_token,
    )
    .await;
    // The recording's files exist once its first segment is on disk.
    let vod_playlist = format!("/vod/{recording}/source/index.m3u8");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while answer(&server, &format!("{vod_playlist}?token={vod_token}"), None)
        .await
        .0
        != 200
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no recording playlist"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let vod_files = files(&server, &vod_playlist, &vod_token).await;
    live_files.push(format!("/live/{room_a}/index.m3u8"));
    live_files.push(format!("/live/{room_a}/thumbnail.jpg"));

    let tamper = |token: &str| {
        let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
        bytes[60] ^= 1; // the expiry
        URL_SAFE_NO_PAD.encode(bytes)
    };
    let live_b = key.sign(&grant(
        Scope::Live(room_b.parse().unwrap()),
        b["live"]["session_id"].as_str().unwrap().parse().ok(),
        now + 300,
    ));
    let live_refusals = [
        (
            "garbage",
            "not-a-token".to_string(),
            "playback_token_malformed",
        ),
        (
            "tampered",
            tamper(&live_token),
            "playback_token_bad_signature",
        ),
        ("another classroom's", live_b, "playback_token_wrong_scope"),
        (
            "a recording's",
            vod_token.clone(),
            "playback_token_wrong_scope",
        ),
        (
            "expired",
            key.sign(&grant(Scope::Live(room_a_id), Some(lesson_a), now - 1)),
            "playback_token_expired",
        ),
        (
            "another lesson's",
            key.sign(&grant(
                Scope::Live(room_a_id),
                Some(Uuid::new_v4()),
                now + 300,
            )),
            "playback_token_other_lesson",
        ),
    ];
    let vod_refusals = [
        ("garbage", "A".repeat(110), "playback_token_malformed"),
        (
            "tampered",
            tamper(&vod_token),
            "playback_token_bad_signature",
        ),
        ("a live", live_token.clone(), "playback_token_wrong_scope"),
        (
            "another recording's",
            key.sign(&grant(Scope::Recording(Uuid::new_v4()), None, now + 300)),
            "playback_token_wrong_scope",
        ),
        (
            "expired",
            key.sign(&grant(Scope::Recording(recording), None, now - 1)),
            "playback_token_expired",
        ),
    ];
    let (outsider, _) = server.sign_in("outsider", PASSWORD).await;
    let (pupil, _) = server.sign_in("pupil", PASSWORD).await;
    let mut failures = Vec::new();
    let mut expect = |what: String, got: (u16, String), want: (u16, &str)| {
        if got.0 != want.0 || (!want.1.is_empty() && got.1 != want.1) {
            failures.push(format!("{what}: {got:?}, expected {want:?}"));
        }
    };
    for (paths, valid, refusals) in [
        (&live_files, &live_token, &live_refusals[..]),
        (&vod_files, &vod_token, &vod_refusals[..]),
    ] {
        for path in paths {
            expect(
                format!("{path} anonymously"),
                answer(&server, path, None).await,
                (401, "unauthorized"),
            );
            for (what, token, reason) in refusals {
                let got = answer(&server, &format!("{path}?token={token}"), None).await;
                expect(format!("{path} with {what} token"), got, (403, reason));
            }
            expect(
                format!("{path} with a valid token"),
                answer(&server, &format!("{path}?token={valid}"), None).await,
                (200, ""),
            );
            expect(
                format!("{path} as an outsider"),
                answer(&server, path, Some(&outsider)).await,
                (403, "forbidden"),
            );
        }
    }
    // A pupil of the school watches live by cookie; a recording is not theirs.
    for path in &live_files {
        expect(
            format!("{path} as a pupil"),
            answer(&server, path, Some(&pupil)).await,
            (200, ""),
        );
    }
    for path in &vod_files {
        expect(
            format!("{path} as a pupil"),
            answer(&server, path, Some(&pupil)).await,
            (403, "forbidden"),
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
