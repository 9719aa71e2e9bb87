//! Bad input on the media ports: a wrong stream key over RTMP and SRT,
//! random bytes on both ports, and an encoder sending audio but no picture.
//! Each gets a clear refusal or a visible problem on the classroom; the
//! server keeps running, and a classroom that is live meanwhile (the demo)
//! never stops, nor does a correct publisher afterwards get turned away.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::{ServerOptions, TestServer, ffmpeg_fails, ffmpeg_publish};
use serde_json::{Value, json};

const DEMO: &str = "00000000-0000-4000-8000-0000000000de";

/// The demo classroom's newest live segment sequence number.
async fn demo_sequence(server: &TestServer) -> u64 {
    let master = format!("/live/{DEMO}/index.m3u8");
    let text = server.get(&master).await.text().await.unwrap();
    let media = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap_or_else(|| panic!("no variant in {text}"));
    let playlist = server
        .get(&format!("/live/{DEMO}/{media}"))
        .await
        .text()
        .await
        .unwrap();
    let first: u64 = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{playlist}"));
    first
        + playlist
            .lines()
            .filter(|l| l.starts_with("#EXTINF"))
            .count() as u64
}

/// Random-looking bytes, reproducible.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_media_input_is_refused_and_harms_nobody() {
    let mut server = TestServer::start(ServerOptions {
        demo: true,
        grace_seconds: Some(1),
        ..Default::default()
    })
    .await;
    server
        .wait_for_classroom(DEMO, Duration::from_secs(20), "demo live", |c| {
            c["live"]["renditions"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        })
        .await;
    let before = demo_sequence(&server).await;
    let (rtmp_room, rtmp_source) = server
        .classroom_with_source("初三(1)班", json!({"kind": "rtmp"}))
        .await;
    let (srt_room, srt_source) = server
        .classroom_with_source("初三(2)班", json!({"kind": "srt"}))
        .await;

    // A wrong key: refused at the handshake, with the reason in the log.
    let stderr = ffmpeg_fails(
        ffmpeg_publish(&server.rtmp_url("not-a-key"), "flv", 5, true),
        "RTMP with a wrong key",
    );
    assert!(
        stderr.contains("unknown stream key"),
        "the encoder is told why: {stderr}"
    );
    let stderr = ffmpeg_fails(
        ffmpeg_publish(&server.srt_url("not-a-key"), "mpegts", 5, true),
        "SRT with a wrong key",
    );
    assert!(
        stderr.contains("REJECT"),
        "refused at the SRT handshake: {stderr}"
    );
    let logs = server.logs();
    assert!(
        logs.contains("rtmp publish refused: unknown stream key"),
        "{logs}"
    );
    assert!(
        logs.contains("srt publish refused: unknown stream key"),
        "{logs}"
    );

    // Random bytes on the RTMP port: the connection is closed, not kept.
    let mut socket = TcpStream::connect(("127.0.0.1", server.rtmp)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = socket.write_all(&garbage(64 * 1024, 7));
    let mut buffer = [0u8; 4096];
    let closed = loop {
        match socket.read(&mut buffer) {
            Ok(0) => break true,
            Ok(_) => continue, // a handshake reply to the first bytes
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true, // reset
        }
    };
    assert!(closed, "the server hung on to a garbage RTMP connection");

    // Random datagrams on the SRT port: ignored.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for seed in 0..200 {
        udp.send_to(&garbage(1316, seed), ("127.0.0.1", server.srt))
            .unwrap();
    }

    // An encoder with its camera input missing: audio only.
    let mut audio_only = ffmpeg_publish(
        &server.rtmp_url(rtmp_source["stream_key"].as_str().unwrap()),
        "flv",
        6,
        false,
    );
    let room = server
        .wait_for_classroom(&rtmp_room, Duration::from_secs(15), "audio_only", |c| {
            c["live"]["problem"] == "audio_only"
        })
        .await;
    assert_eq!(room["live"]["state"], "idle", "{room}");
    let _ = audio_only.kill();
    let _ = audio_only.wait();

    // Nobody else noticed: the server runs, the demo kept producing
    // segments, and a correct publisher is taken at once.
    assert!(server.is_running(), "{}", server.logs());
    let after = demo_sequence(&server).await;
    assert!(after > before, "the demo classroom stalled at {before}");
    let mut good = ffmpeg_publish(
        &server.srt_url(srt_source["stream_key"].as_str().unwrap()),
        "mpegts",
        4,
        true,
    );
    let room: Value = server.wait_live(&srt_room).await;
    assert!(room["live"]["problem"].is_null(), "{room}");
    assert!(good.wait().unwrap().success());
    let health = server.get("/healthz").await;
    assert_eq!(health.status(), 200);
}
