//! An IP camera is pulled over RTSP, with the codecs Chinese classroom
//! cameras send: H.264 with G.711 (A-law) behind a password, and H.265 with
//! AAC. The classroom goes live, every HLS rendition parses and decodes,
//! and when the camera is unplugged the lesson ends and the recording is as
//! long as the video the camera sent (±0.5 s). The password is really
//! needed: without it, or with a wrong one, the camera never goes live and
//! the classroom says its credentials were refused.

mod common;

use std::time::{Duration, Instant};

use common::rtsp_camera::{CameraCodecs, RtspCamera};
use common::{ServerOptions, TestServer, check_hls, ffprobe_duration};
use serde_json::json;

const LESSON: Duration = Duration::from_secs(10);

async fn camera_lesson(codecs: CameraCodecs, credentials: Option<(&str, &str)>) {
    let camera = RtspCamera::start(codecs, credentials);
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    let mut source = json!({"kind": "rtsp", "url": camera.url()});
    if let Some((username, password)) = credentials {
        source["username"] = json!(username);
        source["password"] = json!(password);
    }
    // The camera really needs its password: the same camera without it (or
    // with a wrong one) never goes live, and says why.
    let mut locked_out = Vec::new();
    if credentials.is_some() {
        for (name, source) in [
            (
                "没有密码的教室",
                json!({"kind": "rtsp", "url": camera.url()}),
            ),
            (
                "密码错误的教室",
                json!({"kind": "rtsp", "url": camera.url(), "username": "admin", "password": "wrong"}),
            ),
        ] {
            let (room, _) = server.classroom_with_source(name, source).await;
            let refused = server
                .wait_for_classroom(&room, Duration::from_secs(20), "a problem reported", |c| {
                    c["live"]["problem"].is_string()
                })
                .await;
            assert_eq!(refused["live"]["state"], "idle", "{refused}");
            let problem = refused["live"]["problem"].as_str().unwrap().to_string();
            assert!(problem.starts_with("source_failed"), "{problem}");
            // Not just "it failed": a school admin must see that the camera
            // refused the credentials (RTSP's 401, "Unauthorized", as the
            // camera's RTSP source reports it), not that it is unreachable.
            assert!(
                problem.contains("Unauthorized") && problem.contains("RTSPSrc"),
                "{name}: {problem}"
            );
            eprintln!("{name}: {problem}");
            locked_out.push(room);
        }
    }
    let (classroom, _) = server
        .classroom_with_source(&format!("录播教室 {codecs:?}"), source)
        .await;

    let live = server.wait_live(&classroom).await;
    for room in &locked_out {
        let still = server.classroom(room).await;
        assert_eq!(still["live"]["state"], "idle", "{still}");
        assert!(still["live"]["recording_id"].is_null(), "{still}");
    }
    let went_live = Instant::now();
    let recording_id = live["live"]["recording_id"]
        .as_str()
        .expect("recording on by default")
        .to_string();
    server.wait_segments(&classroom).await;
    let variants = check_hls(&server, &format!("/live/{classroom}/index.m3u8")).await;
    let master = server
        .get(&format!("/live/{classroom}/index.m3u8"))
        .await
        .text()
        .await
        .unwrap();
    match codecs {
        // Browsers play H.264: the camera's own stream is the top rendition.
        CameraCodecs::H264Alaw => assert!(
            variants.iter().any(|v| v.contains("/source/")),
            "H.264 passes through: {master}"
        ),
        // Browsers mostly don't play H.265: every rendition is transcoded.
        CameraCodecs::H265Aac => {
            assert!(
                !master.contains("hvc1") && !master.contains("hev1"),
                "{master}"
            );
            assert!(
                !variants.iter().any(|v| v.contains("/source/")),
                "H.265 is transcoded: {master}"
            );
        }
    }
    // Audio reaches viewers as AAC whatever the camera sends.
    assert!(master.contains("mp4a.40.2"), "{master}");

    tokio::time::sleep(LESSON.saturating_sub(went_live.elapsed())).await;
    camera.unplug();
    let sent = camera.seconds_sent();
    let recording = server
        .wait_for_recording(&recording_id, Duration::from_secs(20), |r| {
            r["status"] == "complete"
        })
        .await;
    let duration = recording["duration_ms"].as_i64().unwrap() as f64 / 1000.0;
    assert!(
        (duration - sent).abs() <= 0.5,
        "catalogued duration {duration} s for {sent} s the camera sent"
    );
    let variants = check_hls(&server, recording["hls_url"].as_str().unwrap()).await;
    let played = ffprobe_duration(&server.url(&variants[0]));
    assert!(
        (played - sent).abs() <= 0.5,
        "VOD plays {played} s for {sent} s the camera sent"
    );
    assert_eq!(recording["gaps"], json!([]), "{recording}");
    // Not live for a moment either, all along: no lesson, no recording.
    for room in &locked_out {
        let lessons = server
            .get_json(&format!("/api/sessions?classroom_id={room}"))
            .await;
        assert_eq!(lessons, json!([]), "{room} had a lesson");
        let recordings = server
            .get_json(&format!("/api/recordings?classroom_id={room}"))
            .await;
        assert_eq!(recordings, json!([]), "{room} was recorded");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn h264_camera_with_g711_audio_and_a_password() {
    camera_lesson(CameraCodecs::H264Alaw, Some(("admin", "Jiaowu#2026"))).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn h265_camera_with_aac_audio() {
    camera_lesson(CameraCodecs::H265Aac, None).await;
}
