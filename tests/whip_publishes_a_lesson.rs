//! A remote classroom publishes over WebRTC (WHIP) from aiortc, a WebRTC
//! stack of its own: the classroom goes live, plays over HLS (picture and
//! the 440 Hz tone, transcoded to AAC) and over WHEP at the same time, and
//! after the DELETE the lesson is recorded. Wrong keys, a source of another
//! kind and a second publisher are refused with their reasons.

mod common;

use std::time::Duration;

use common::webrtc_peer::{aiortc_play, aiortc_publish_result, aiortc_publish_spawn};
use common::{ServerOptions, TestServer, check_hls};
use serde_json::{Value, json};

const OFFER: &str = include_str!("fixtures/whep-offer.sdp");

#[tokio::test(flavor = "multi_thread")]
async fn a_whip_publisher_goes_live_plays_everywhere_and_is_recorded() {
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    let (classroom, source) = server
        .classroom_with_source("同步课堂 远端教室", json!({"kind": "whip"}))
        .await;
    let key = source["stream_key"]
        .as_str()
        .expect("WHIP sources get a key");
    // The API shows what to enter in OBS: the server URL and the key.
    let server_url = source["publish"]["server_url"].as_str().unwrap();
    assert!(server_url.ends_with("/whip"), "{source}");
    let url = server.url("/whip");
    let publisher = aiortc_publish_spawn(&url, Some(key), 12);

    let live = server.wait_live(&classroom).await;
    let recording = live["live"]["recording_id"].as_str().unwrap().to_string();
    server.wait_segments(&classroom).await;
    let variants = check_hls(&server, &format!("/live/{classroom}/index.m3u8")).await;
    assert!(!variants.is_empty());

    // While it publishes, a viewer plays the same lesson over WHEP.
    let whep = server.url(&format!("/whep/{classroom}"));
    let played = tokio::task::spawn_blocking(move || aiortc_play(&whep, None, 30, false))
        .await
        .unwrap();
    assert_eq!(played.status, 201, "{played:?}");
    assert!(played.video_frames.unwrap() >= 30, "{played:?}");
    let hz = played.audio_hz.unwrap_or(0.0);
    assert!(
        (hz - 440.0).abs() < 20.0,
        "WHEP tone at {hz} Hz: {played:?}"
    );

    let published = tokio::task::spawn_blocking(move || aiortc_publish_result(publisher))
        .await
        .unwrap();
    assert_eq!(published.status, 201, "{published:?}");
    assert_eq!(published.connection_state.as_deref(), Some("connected"));
    assert_eq!(published.delete_status, Some(200), "{published:?}");
    let location = published.location.unwrap();
    assert!(location.starts_with("/whip/sessions/"), "{location}");

    // The DELETE ended the feed; after the grace period the lesson is kept.
    let recording = server
        .wait_for_recording(&recording, Duration::from_secs(30), |r| {
            r["status"] == "complete"
        })
        .await;
    let seconds = recording["duration_ms"].as_i64().unwrap() as f64 / 1000.0;
    assert!(
        seconds > 8.0,
        "recorded {seconds} s of 12 s published: {recording}"
    );
    let variants = check_hls(&server, recording["hls_url"].as_str().unwrap()).await;
    // aiortc's encoder makes a keyframe every 250 frames (8 s) unless
    // asked; the server asks every segment, so the camera's own H.264 is
    // cut into segments of about the configured 2 s.
    let playlist = server.get(&variants[0]).await.text().await.unwrap();
    let lengths: Vec<f64> = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .filter_map(|l| l.trim_end_matches(',').split(',').next()?.parse().ok())
        .collect();
    let longest = lengths[..lengths.len() - 1]
        .iter()
        .cloned()
        .fold(0.0, f64::max);
    assert!(longest < 3.5, "segments of {lengths:?} s");
    // Ended twice: the session is gone.
    let again = server
        .client
        .delete(server.url(&location))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
}

async fn whip(server: &TestServer, path: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut request = server
        .client
        .post(server.url(path))
        .header("content-type", "application/sdp")
        .body(publisher_offer());
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A sendonly offer, made from the viewer's fixture by turning it around.
fn publisher_offer() -> String {
    OFFER.replace("a=recvonly", "a=sendonly")
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_keys_other_kinds_and_a_second_publisher_are_refused() {
    let server = TestServer::start(ServerOptions::default()).await;
    let (status, body) = whip(&server, "/whip", None).await;
    assert_eq!(status, 401, "no key: {body}");
    let (status, body) = whip(&server, "/whip", Some("no-such-key-at-all")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unknown_stream_key"))
    );
    let (status, _) = whip(&server, "/whip/no-such-key-at-all", None).await;
    assert_eq!(status, 401);

    // An RTMP source's key does not publish over WHIP.
    let (_, rtmp) = server
        .classroom_with_source("录播教室 RTMP", json!({"kind": "rtmp"}))
        .await;
    let (status, body) = whip(&server, "/whip", rtmp["stream_key"].as_str()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("wrong_source_kind")),
        "{body}"
    );

    // Bad offers start nothing, whatever the key.
    let (_, source) = server
        .classroom_with_source("远端教室", json!({"kind": "whip"}))
        .await;
    let key = source["stream_key"].as_str().unwrap();
    let garbage = server
        .client
        .post(server.url("/whip"))
        .bearer_auth(key)
        .header("content-type", "application/sdp")
        .body("not an offer")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);

    // One publisher at a time: a second is told the classroom is busy.
    let first = aiortc_publish_spawn(&server.url("/whip"), Some(key), 4);
    let classroom = source["classroom_id"].as_str().unwrap().to_string();
    server.wait_live(&classroom).await;
    let (status, body) = whip(&server, &format!("/whip/{key}"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("classroom_busy")),
        "{body}"
    );
    let first = tokio::task::spawn_blocking(move || aiortc_publish_result(first))
        .await
        .unwrap();
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.delete_status, Some(200));
    assert_eq!(server.get("/healthz").await.status(), 200);
}
