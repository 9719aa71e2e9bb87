//! Low-latency viewers lose the lesson when their access ends, as HLS
//! viewers do: a teacher watching over WHEP with a playback token, and one
//! watching with an API token, are cut off within seconds of being
//! disabled; a viewer still allowed plays on.

mod common;

use std::time::Duration;

use common::accounts::{PASSWORD, api_token, call, school, user, wait_serving, within};
use common::webrtc_peer::{aiortc_play_spawn, aiortc_result};
use common::{ServerOptions, TestServer};
use reqwest::Method;
use serde_json::json;

async fn viewers(server: &TestServer, admin: &str) -> f64 {
    let metrics = server
        .client
        .get(server.url("/metrics"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("classcast_webrtc_viewers "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_a_viewer_ends_their_webrtc_sessions() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    server.create_admin("jiaowu", PASSWORD);
    let admin = api_token(&server, "jiaowu", PASSWORD).await;
    let campus = school(&server, &admin, "实验中学", "campus").await;
    let (status, room) = call(
        &server,
        Method::POST,
        "/api/classrooms",
        Some(&admin),
        Some(json!({"name": "初一(2)班", "school_id": campus})),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    let room = room["id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/api/classrooms/{room}/sources"),
        Some(&admin),
        Some(json!({"kind": "test"})),
    )
    .await;
    assert_eq!(status, 201);
    wait_serving(&server, &admin, &room).await;
    let teacher = user(
        &server,
        &admin,
        json!({"username": "wang.laoshi", "password": PASSWORD, "school_id": campus,
               "roles": [{"role": "teacher"}]}),
    )
    .await;
    let teacher_token = api_token(&server, "wang.laoshi", PASSWORD).await;
    let (status, playback) = call(
        &server,
        Method::GET,
        &format!("/api/classrooms/{room}/playback"),
        Some(&teacher_token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{playback}");
    let url = playback["url"].as_str().unwrap();
    let token = url
        .split("token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();

    // Three viewers: the teacher by playback token and by API token, and
    // the admin, who stays allowed.
    let whep = server.url(&format!("/whep/{room}?rendition=360p"));
    let by_playback = aiortc_play_spawn(
        &format!("{whep}&token={token}"),
        None,
        1_000_000,
        false,
        Duration::ZERO,
    );
    let by_api_token = aiortc_play_spawn(
        &whep,
        Some(&teacher_token),
        1_000_000,
        false,
        Duration::ZERO,
    );
    let admin_viewer = aiortc_play_spawn(&whep, Some(&admin), 1_000_000, false, Duration::ZERO);
    within(Duration::from_secs(15), "three WebRTC viewers", || async {
        viewers(&server, &admin).await == 3.0
    })
    .await;

    let teacher_id = teacher["id"].as_str().unwrap();
    let (status, _) = call(
        &server,
        Method::PATCH,
        &format!("/api/users/{teacher_id}"),
        Some(&admin),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    let took = within(
        Duration::from_secs(10),
        "the teacher's sessions ended",
        || async { viewers(&server, &admin).await == 1.0 },
    )
    .await;
    eprintln!("disabled viewers cut off {took:?} after the change");

    // The teacher's players see their sessions stop; the admin's plays on.
    let results = tokio::task::spawn_blocking(move || {
        [by_playback, by_api_token, admin_viewer].map(aiortc_result)
    })
    .await
    .unwrap();
    for played in &results {
        assert_eq!(played.status, 201, "{played:?}");
    }
    let admin_frames = results[2].video_frames.unwrap();
    for teacher_played in &results[..2] {
        assert!(
            teacher_played.video_frames.unwrap() + 100 < admin_frames,
            "a disabled viewer kept receiving: {teacher_played:?} vs {admin_frames} frames"
        );
    }
}
