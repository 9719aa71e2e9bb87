//! A micro-lesson's video in tests: a draft made by the real API, an upload
//! attached to it, the transcode waited for, and the ladder played back
//! through the lesson's own HLS route the way a player would (master,
//! every rendition, every segment decoded by FFmpeg).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::TestServer;
use super::accounts::call;
use super::hls_check::{decode_audio, decode_bytes};

/// The id of the first seeded subject or grade.
async fn first_term(server: &TestServer, token: &str, kind: &str) -> String {
    let (status, list) = call(
        server,
        Method::GET,
        &format!("/api/library/{kind}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list[0]["id"].as_str().unwrap().to_string()
}

/// A draft by `token` (a teacher) at their own school; returns its id.
pub async fn draft(server: &TestServer, token: &str, title: &str) -> String {
    let subject = first_term(server, token, "subjects").await;
    let grade = first_term(server, token, "grades").await;
    let (status, lesson) = call(
        server,
        Method::POST,
        "/api/library/lessons",
        Some(token),
        Some(json!({"title": title, "subject_id": subject, "grade_id": grade})),
    )
    .await;
    assert_eq!(status, 201, "{lesson}");
    lesson["id"].as_str().unwrap().to_string()
}

/// The upload id in a tus client's events.
pub fn upload_id(events: &[Value]) -> String {
    super::uploads::upload_path(events)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

/// `PUT /media`: (status, the lesson or the error).
pub async fn attach(server: &TestServer, token: &str, lesson: &str, upload: &str) -> (u16, Value) {
    call(
        server,
        Method::PUT,
        &format!("/api/library/lessons/{lesson}/media"),
        Some(token),
        Some(json!({"upload_id": upload})),
    )
    .await
}

pub async fn lesson(server: &TestServer, token: &str, id: &str) -> Value {
    let (status, lesson) = call(
        server,
        Method::GET,
        &format!("/api/library/lessons/{id}"),
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{lesson}");
    lesson
}

/// Polls the lesson until its media is no longer processing; returns the
/// media seen processing with progress (if it was seen) and the last one.
pub async fn wait_media(
    server: &TestServer,
    token: &str,
    id: &str,
    timeout: Duration,
) -> (Option<Value>, Value) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut progress = None;
    loop {
        let media = lesson(server, token, id).await["media"].clone();
        if media["state"] != "processing" {
            return (progress, media);
        }
        if media["progress_percent"].as_f64().unwrap_or(0.0) > 0.0 {
            progress = Some(media);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lesson's video is still processing after {timeout:?}\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// GET a file of the lesson's ladder: (status, bytes).
pub async fn file(server: &TestServer, token: &str, lesson: &str, path: &str) -> (u16, Vec<u8>) {
    let response = server
        .client
        .get(server.url(&format!("/api/library/lessons/{lesson}/hls/{path}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Plays the whole ladder: every rendition the master lists, every segment
/// fetched and decoded without errors (video renditions: frames; audio
/// only: audio frames). Returns (rendition, seconds listed) in master order.
pub async fn play(server: &TestServer, token: &str, lesson: &str) -> Vec<(String, f64)> {
    let (status, master) = file(server, token, lesson, "master.m3u8").await;
    assert_eq!(status, 200, "master playlist");
    let master = match m3u8_rs::parse_playlist_res(&master) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(m)) => m,
        other => panic!("not a master playlist: {other:?}"),
    };
    let mut out = Vec::new();
    for variant in &master.variants {
        let dir = variant.uri.trim_end_matches("/index.m3u8").to_string();
        let (status, text) = file(server, token, lesson, &variant.uri).await;
        assert_eq!(status, 200, "{}", variant.uri);
        let media = match m3u8_rs::parse_playlist_res(&text) {
            Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
            other => panic!("{}: not a media playlist: {other:?}", variant.uri),
        };
        assert!(media.end_list, "{} is complete", variant.uri);
        let mut seconds = 0.0;
        for segment in &media.segments {
            let (status, data) =
                file(server, token, lesson, &format!("{dir}/{}", segment.uri)).await;
            assert_eq!(status, 200, "{dir}/{}", segment.uri);
            let (frames, errors) = if variant.resolution.is_some() {
                decode_bytes(&data)
            } else {
                decode_audio(&data)
            };
            assert!(
                frames > 0 && errors.is_empty(),
                "{dir}/{}: {frames} frames, {errors}",
                segment.uri
            );
            seconds += segment.duration as f64;
        }
        out.push((dir, seconds));
    }
    out
}
