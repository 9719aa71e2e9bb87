//! A playback token stops working within seconds of its viewer's access
//! ending, on every node: two classcast processes share one database, the
//! change (a viewer disabled, deleted or given a new password, an audience
//! removed, a teacher demoted) is made through one and the refusal seen on
//! the other. A live token opens one lesson, never the classroom's next
//! one. Refusals say why, so a player knows to fetch a fresh token. Every
//! API answer is checked against the OpenAPI document.

mod common;

use std::time::Duration;

use common::accounts::{
    PASSWORD, api_token, code, school, second_node, user, wait_classroom, wait_serving, within,
};
use common::openapi::Spec;
use common::{ServerOptions, TestServer, ffmpeg_publish};
use reqwest::Method;
use serde_json::{Value, json};

/// Fetches `path` and answers (status, error code if any).
async fn fetch(server: &TestServer, path: &str) -> (u16, String) {
    let response = server.get(path).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, code(&body).to_string())
}

async fn playback(server: &TestServer, spec: &Spec, bearer: &str, path: &str) -> String {
    let (status, body) = spec
        .call(server, Method::GET, path, Some(bearer), None)
        .await;
    assert_eq!(status, 200, "{path}: {body}");
    let token = body["token"].as_str().unwrap().to_string();
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("?token={token}")),
        "{body}"
    );
    let expires: chrono::DateTime<chrono::Utc> =
        body["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = expires - chrono::Utc::now();
    assert!(ttl <= chrono::Duration::minutes(5), "short-lived: {ttl}");
    token
}

/// The newest segment of a live rendition, as a path without a token.
async fn newest_segment(server: &TestServer, room: &str, token: &str) -> String {
    let text = server
        .get(&format!("/live/{room}/source/index.m3u8?token={token}"))
        .await
        .text()
        .await
        .unwrap();
    let line = text.lines().rfind(|l| l.contains(".m4s")).unwrap();
    format!("/live/{room}/source/{}", line.split('?').next().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_viewers_lose_playback_on_every_node_within_seconds() {
    let a = TestServer::start(ServerOptions {
        auth: true,
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    a.create_admin("root", PASSWORD);
    let spec = Spec::fetch(&a).await;
    let root = api_token(&a, "root", PASSWORD).await;
    let main = school(&a, &root, "实验中学", "campus").await;
    let partner = school(&a, &root, "山区小学", "partner").await;
    for (name, school, role) in [
        ("viewer_main", &main, json!({"role": "viewer"})),
        ("viewer_stays", &main, json!({"role": "viewer"})),
        ("viewer_deleted", &main, json!({"role": "viewer"})),
        ("viewer_reset", &main, json!({"role": "viewer"})),
        ("viewer_partner", &partner, json!({"role": "viewer"})),
        ("teacher_main", &main, json!({"role": "teacher"})),
    ] {
        user(
            &a,
            &root,
            json!({"username": name, "password": PASSWORD, "school_id": school, "roles": [role]}),
        )
        .await;
    }
    let (_, users) = spec
        .call(&a, Method::GET, "/api/users", Some(&root), None)
        .await;
    let id_of = |name: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (status, room) = spec
        .call(
            &a,
            Method::POST,
            "/api/classrooms",
            Some(&root),
            Some(json!({"name": "专递课堂", "school_id": main, "ladder_heights": []})),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let room = room["id"].as_str().unwrap().to_string();
    let (status, _) = spec
        .call(
            &a,
            Method::PATCH,
            &format!("/api/classrooms/{room}"),
            Some(&root),
            Some(json!({"teacher_id": id_of("teacher_main")})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = spec
        .call(
            &a,
            Method::PUT,
            &format!("/api/classrooms/{room}/audiences"),
            Some(&root),
            Some(json!([partner])),
        )
        .await;
    assert_eq!(status, 200);
    let (_, source) = spec
        .call(
            &a,
            Method::POST,
            &format!("/api/classrooms/{room}/sources"),
            Some(&root),
            Some(json!({"kind": "rtmp"})),
        )
        .await;
    let key = source["stream_key"].as_str().unwrap().to_string();

    // The second node shares the database and the media directory (as two
    // nodes share storage), and starts before the lesson.
    let b = second_node(
        &a,
        ServerOptions {
            auth: true,
            env: vec![(
                "CLASSCAST_MEDIA__DIR",
                a.media.path().to_string_lossy().into_owned(),
            )],
            ..Default::default()
        },
    )
    .await;
    let mut publisher = ffmpeg_publish(&a.rtmp_url(&key), "flv", 120, true);
    let live = wait_serving(&a, &root, &room).await;
    let recording = live["live"]["recording_id"].as_str().unwrap().to_string();

    let tokens = async |who: &str| api_token(&a, who, PASSWORD).await;
    let (viewer, stays, guest, teacher) = (
        tokens("viewer_main").await,
        tokens("viewer_stays").await,
        tokens("viewer_partner").await,
        tokens("teacher_main").await,
    );
    let (deleted, reset) = (tokens("viewer_deleted").await, tokens("viewer_reset").await);
    let live_path = format!("/api/classrooms/{room}/playback");
    let vod_path = format!("/api/recordings/{recording}/playback");
    let t_viewer = playback(&a, &spec, &viewer, &live_path).await;
    let t_stays = playback(&b, &spec, &stays, &live_path).await;
    let t_guest = playback(&a, &spec, &guest, &live_path).await;
    let t_teacher = playback(&a, &spec, &teacher, &vod_path).await;
    let t_deleted = playback(&a, &spec, &deleted, &live_path).await;
    let t_reset = playback(&b, &spec, &reset, &live_path).await;
    let live_url = |t: &str| format!("/live/{room}/source/index.m3u8?token={t}");
    let vod_url = |t: &str| format!("/vod/{recording}/index.m3u8?token={t}");
    for t in [&t_viewer, &t_stays, &t_guest, &t_deleted, &t_reset] {
        assert_eq!(fetch(&a, &live_url(t)).await.0, 200);
    }
    assert_eq!(
        fetch(&b, &vod_url(&t_teacher)).await.0,
        200,
        "VOD on the other node"
    );
    let segment = newest_segment(&a, &room, &t_viewer).await;
    assert_eq!(
        fetch(&a, &format!("{segment}?token={t_viewer}")).await.0,
        200
    );

    // Disabled through node B: node A refuses the viewer's playlists and
    // segments within seconds; other viewers play on.
    let (status, _) = spec
        .call(
            &b,
            Method::PATCH,
            &format!("/api/users/{}", id_of("viewer_main")),
            Some(&root),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    let took = within(
        Duration::from_secs(10),
        "disabled viewer refused on node A",
        || async {
            fetch(&a, &live_url(&t_viewer)).await == (403, "playback_token_revoked".into())
        },
    )
    .await;
    eprintln!("node A refused the disabled viewer after {took:?}");
    assert_eq!(
        fetch(&a, &format!("{segment}?token={t_viewer}")).await,
        (403, "playback_token_revoked".into()),
        "segments too, not only playlists"
    );
    assert_eq!(
        fetch(&a, &live_url(&t_stays)).await.0,
        200,
        "others play on"
    );

    // Deleted through node B: refused on node A within seconds.
    let (status, _) = spec
        .call(
            &b,
            Method::DELETE,
            &format!("/api/users/{}", id_of("viewer_deleted")),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 204);
    within(
        Duration::from_secs(10),
        "deleted viewer refused on node A",
        || async {
            fetch(&a, &live_url(&t_deleted)).await == (403, "playback_token_revoked".into())
        },
    )
    .await;
    // A password reset by an admin (an account thought stolen) through
    // node B: whoever holds the old token is refused on node A too.
    let (status, _) = spec
        .call(
            &b,
            Method::PATCH,
            &format!("/api/users/{}", id_of("viewer_reset")),
            Some(&root),
            Some(json!({"password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(status, 200);
    within(
        Duration::from_secs(10),
        "viewer with a reset password refused on node A",
        || async { fetch(&a, &live_url(&t_reset)).await == (403, "playback_token_revoked".into()) },
    )
    .await;
    assert_eq!(
        fetch(&a, &live_url(&t_stays)).await.0,
        200,
        "others still play on"
    );

    // The partner school is taken off the classroom's audiences (on A):
    // its viewer's token stops; the school's own viewer's does not.
    let (status, _) = spec
        .call(
            &a,
            Method::PUT,
            &format!("/api/classrooms/{room}/audiences"),
            Some(&root),
            Some(json!([])),
        )
        .await;
    assert_eq!(status, 200);
    within(
        Duration::from_secs(10),
        "removed audience refused",
        || async { fetch(&a, &live_url(&t_guest)).await == (403, "playback_token_revoked".into()) },
    )
    .await;
    // Everyone of the classroom must fetch a fresh token once; a viewer
    // still entitled gets one and plays.
    let (status, _) = spec
        .call(&a, Method::GET, &live_path, Some(&guest), None)
        .await;
    assert_eq!(status, 403, "the partner's viewer is no longer invited");
    let fresh = playback(&b, &spec, &stays, &live_path).await;
    assert_eq!(fetch(&a, &live_url(&fresh)).await.0, 200);

    // The teacher is demoted (on A): the recording token stops on node B.
    let (status, _) = spec
        .call(
            &a,
            Method::PATCH,
            &format!("/api/users/{}", id_of("teacher_main")),
            Some(&root),
            Some(json!({"roles": [{"role": "viewer"}]})),
        )
        .await;
    assert_eq!(status, 200);
    within(
        Duration::from_secs(10),
        "demoted teacher refused on node B",
        || async {
            fetch(&b, &vod_url(&t_teacher)).await == (403, "playback_token_revoked".into())
        },
    )
    .await;

    // A live token opens its lesson only: when the classroom's next lesson
    // starts, the old token is refused and a fresh one plays.
    let t_admin = playback(&a, &spec, &root, &live_path).await;
    publisher.kill().unwrap();
    publisher.wait().unwrap();
    wait_classroom(&a, &root, &room, "the lesson ended", |c| {
        c["live"]["state"] == "idle"
    })
    .await;
    let mut publisher = ffmpeg_publish(&a.rtmp_url(&key), "flv", 60, true);
    let next = wait_serving(&a, &root, &room).await;
    assert_ne!(next["live"]["session_id"], live["live"]["session_id"]);
    assert_eq!(
        fetch(&a, &live_url(&t_admin)).await,
        (403, "playback_token_other_lesson".into())
    );
    let t_next = playback(&a, &spec, &root, &live_path).await;
    assert_eq!(fetch(&a, &live_url(&t_next)).await.0, 200);
    let _ = publisher.kill();
    let _ = publisher.wait();
    drop(b);
    spec.assert_all_matched();
}
