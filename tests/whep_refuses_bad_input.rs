//! WHEP meets bad input with a clear 4xx and loses nothing: malformed or
//! unplayable offers, unknown classrooms, sessions and renditions, a
//! classroom that is not live; and garbage datagrams and STUN floods on the
//! media port are dropped while a viewer plays on. 1,000 viewers joining
//! and leaving leave the server's memory and descriptors flat.

mod common;

use std::time::Duration;

use common::webrtc_peer::{aiortc_play_spawn, aiortc_result};
use common::{ServerOptions, TestServer};
use serde_json::{Value, json};

const DEMO: &str = "00000000-0000-4000-8000-0000000000de";
const OFFER: &str = include_str!("fixtures/whep-offer.sdp");

async fn post_offer(
    server: &TestServer,
    path: &str,
    body: &str,
    content_type: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = server
        .client
        .post(server.url(path))
        .header("content-type", content_type)
        .header("accept-language", "en")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

fn code(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"]["code"].as_str().unwrap().to_string()
}

/// The offer with one media section removed.
fn without_section(kind: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in OFFER.split_inclusive('\n') {
        if line.starts_with("m=") {
            skipping = line.starts_with(&format!("m={kind}"));
        }
        if !skipping {
            out.push_str(line);
        }
    }
    out.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE 1")
}

/// The UDP port the answers' host candidates name.
fn media_port(answer: &str) -> u16 {
    answer
        .lines()
        .find(|l| {
            l.starts_with("a=candidate:")
                && l.to_ascii_lowercase().contains(" udp ")
                && l.contains("127.0.0.1")
        })
        .and_then(|l| l.split_whitespace().nth(5))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no host candidate in {answer}"))
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_offers_unknown_things_and_idle_classrooms_get_clear_answers() {
    let server = TestServer::start(ServerOptions {
        demo: true,
        ..Default::default()
    })
    .await;
    server.wait_live(DEMO).await;
    let demo = format!("/whep/{DEMO}");
    let sdp = "application/sdp";

    let (status, _, body) = post_offer(&server, &demo, "hello, server", sdp).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "invalid_offer"),
        "{body}"
    );
    let (status, _, body) = post_offer(&server, &demo, OFFER, "text/plain").await;
    assert_eq!(
        (status, code(&body).as_str()),
        (415, "unsupported_media_type")
    );
    // str0m's own parser refuses a broken offer that starts like SDP.
    let broken: String = OFFER
        .lines()
        .map(|l| {
            if l.starts_with("a=fingerprint:") {
                "a=fingerprint:sha-256 zz:zz"
            } else {
                l
            }
        })
        .map(|l| format!("{l}\r\n"))
        .collect();
    let (status, _, body) = post_offer(&server, &demo, &broken, sdp).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (400, "invalid_offer"),
        "{body}"
    );
    let truncated = &OFFER[..OFFER.len() / 3];
    let (status, _, body) = post_offer(&server, &demo, truncated, sdp).await;
    assert_eq!(status, 400, "a truncated offer: {body}");
    let (status, _, body) = post_offer(&server, &demo, &without_section("video"), sdp).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (422, "offer_unplayable"),
        "{body}"
    );
    assert!(body.contains("no video"), "{body}");
    let vp8_only: String = OFFER
        .lines()
        .filter(|l| !l.contains("H264") && !l.contains("packetization-mode"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let (status, _, body) = post_offer(&server, &demo, &vp8_only, sdp).await;
    assert_eq!(
        (status, code(&body).as_str()),
        (422, "offer_unplayable"),
        "{body}"
    );
    assert!(body.contains("H.264"), "{body}");
    let (status, _, body) = post_offer(&server, &format!("{demo}?rendition=4k"), OFFER, sdp).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("4k"), "{body}");

    let unknown = format!("/whep/{}", uuid::Uuid::new_v4());
    let (status, _, body) = post_offer(&server, &unknown, OFFER, sdp).await;
    assert_eq!((status, code(&body).as_str()), (404, "not_found"));
    let (status, _, _) = post_offer(&server, "/whep/not-a-classroom", OFFER, sdp).await;
    assert_eq!(status, 404);

    // A classroom whose encoder has not connected: 409, and when to retry.
    let (idle, _) = server
        .classroom_with_source("空教室", json!({"kind": "rtmp"}))
        .await;
    let (status, headers, body) = post_offer(&server, &format!("/whep/{idle}"), OFFER, sdp).await;
    assert_eq!((status, code(&body).as_str()), (409, "not_live"), "{body}");
    assert!(headers.contains_key("retry-after"));

    // Unknown sessions, made-up or of another classroom.
    let (status, headers, _) = post_offer(&server, &demo, OFFER, sdp).await;
    assert_eq!(status, 201);
    let location = headers["location"].to_str().unwrap().to_string();
    let session = location.rsplit('/').next().unwrap();
    for path in [
        format!("{demo}/{}", uuid::Uuid::new_v4()),
        format!("/whep/{idle}/{session}"),
        format!("{demo}/nonsense"),
    ] {
        let patch = server
            .client
            .patch(server.url(&path))
            .header("content-type", "application/trickle-ice-sdpfrag")
            .body("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n")
            .send()
            .await
            .unwrap();
        assert_eq!(patch.status(), 404, "PATCH {path}");
        let delete = server
            .client
            .delete(server.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), 404, "DELETE {path}");
    }
    let delete = server
        .client
        .delete(server.url(&location))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 200);

    // Players on other sites ask first.
    let preflight = server
        .client
        .request(reqwest::Method::OPTIONS, server.url(&demo))
        .header("origin", "https://portal.school.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    assert_eq!(server.get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_and_stun_floods_on_the_media_port_leave_viewers_playing() {
    let server = TestServer::start(ServerOptions {
        demo: true,
        ..Default::default()
    })
    .await;
    server.wait_live(DEMO).await;
    let (status, headers, answer) =
        post_offer(&server, &format!("/whep/{DEMO}"), OFFER, "application/sdp").await;
    assert_eq!(status, 201);
    let port = media_port(&answer);
    let location = headers["location"].to_str().unwrap().to_string();
    server
        .client
        .delete(server.url(&location))
        .send()
        .await
        .unwrap();

    let url = server.url(&format!("/whep/{DEMO}?rendition=360p"));
    let viewer = aiortc_play_spawn(&url, None, 150, false, Duration::ZERO);
    let flood = std::thread::spawn(move || {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = ("127.0.0.1", port);
        let mut sent = 0;
        let deadline = std::time::Instant::now() + Duration::from_secs(4);
        let mut seed: u32 = 12345;
        while std::time::Instant::now() < deadline {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let garbage: Vec<u8> = (0..(seed % 1200) as usize)
                .map(|i| (seed >> (i % 24)) as u8)
                .collect();
            let _ = socket.send_to(&garbage, target);
            // A STUN binding request for a username nobody has.
            let username = format!("{seed:08x}:nobody");
            let _ = socket.send_to(&stun_binding(&username, seed), target);
            sent += 2;
            if sent % 200 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        sent
    });
    let played = tokio::task::spawn_blocking(move || aiortc_result(viewer))
        .await
        .unwrap();
    let sent = flood.join().unwrap();
    assert!(sent > 1000, "only {sent} datagrams sent");
    assert_eq!(played.status, 201, "{played:?}");
    assert!(
        played.video_frames.unwrap() >= 150,
        "the viewer stalled: {played:?}"
    );
    assert_eq!(played.timed_out, Some(false), "{played:?}");
    let metrics = server.get("/metrics").await.text().await.unwrap();
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("classcast_webrtc_datagrams_dropped_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(dropped >= 1000.0, "dropped {dropped} of {sent}");
    // HLS and the classroom were untouched.
    let classroom = server.classroom(DEMO).await;
    assert!(
        classroom["live"]["renditions"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
}

/// A minimal RFC 5389 binding request with a USERNAME attribute.
fn stun_binding(username: &str, seed: u32) -> Vec<u8> {
    let name = username.as_bytes();
    let padded = name.len().div_ceil(4) * 4;
    let mut message = Vec::with_capacity(20 + 4 + padded);
    message.extend_from_slice(&0x0001u16.to_be_bytes());
    message.extend_from_slice(&((4 + padded) as u16).to_be_bytes());
    message.extend_from_slice(&0x2112_A442u32.to_be_bytes());
    message.extend_from_slice(&seed.to_be_bytes());
    message.extend_from_slice(&[7u8; 8]);
    message.extend_from_slice(&0x0006u16.to_be_bytes());
    message.extend_from_slice(&(name.len() as u16).to_be_bytes());
    message.extend_from_slice(name);
    message.resize(20 + 4 + padded, 0);
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_viewers_joining_and_leaving_leave_memory_flat() {
    let server = TestServer::start(ServerOptions {
        demo: true,
        ..Default::default()
    })
    .await;
    server.wait_live(DEMO).await;
    // Memory is compared once the live window is full (six segments), so
    // that the playlist filling up is not taken for a leak.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let playlist = server.get(&format!("/live/{DEMO}/source/index.m3u8")).await;
        let text = playlist.text().await.unwrap_or_default();
        if text.matches("#EXTINF").count() >= 6 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the live window never filled: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pid = server.pid().unwrap();
    let path = format!("/whep/{DEMO}");
    let mut after_100 = (0, 0);
    for cycle in 1..=1000 {
        let (status, headers, body) = post_offer(&server, &path, OFFER, "application/sdp").await;
        assert_eq!(status, 201, "cycle {cycle}: {body}");
        let location = headers["location"].to_str().unwrap();
        let delete = server
            .client
            .delete(server.url(location))
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), 200, "cycle {cycle}");
        if cycle == 100 {
            after_100 = (rss_kb(pid), fds(pid));
        }
    }
    let (rss, open) = (rss_kb(pid), fds(pid));
    eprintln!(
        "after 100 cycles {} kB and {} fds; after 1,000 {rss} kB and {open} fds",
        after_100.0, after_100.1
    );
    assert!(
        (rss as f64) < after_100.0 as f64 * 1.10,
        "RSS grew from {} kB after 100 cycles to {rss} kB after 1,000",
        after_100.0
    );
    assert!(
        (open as f64) < after_100.1 as f64 * 1.10 + 2.0,
        "fds grew from {} after 100 cycles to {open} after 1,000",
        after_100.1
    );
}
