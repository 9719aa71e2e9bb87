//! A database restart during school hours loses no lesson. On a
//! PostgreSQL cluster of the test's own (so tests beside it are
//! unaffected): stopped for 10 s with an encoder live, viewers holding a
//! playback token keep getting segments (never waiting longer than one
//! segment) while the API says at once that the database is away, and the
//! recording keeps every segment; stopped before the encoder connects, the
//! classroom still goes live and is recorded. Once the database is back
//! the catalogue shows one lesson and one recording of the right length.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::accounts::{PASSWORD, api_token};
use common::throwaway_postgres::ThrowawayPostgres;
use common::{ServerOptions, TestServer, check_hls, ffmpeg_publish, ffprobe_duration};
use serde_json::{Value, json};

const SEGMENT: Duration = Duration::from_secs(2);
/// How often the viewer below polls the live playlist.
const POLL: Duration = Duration::from_millis(250);

/// A viewer polling the live media playlist every `POLL`, as a player
/// does (with its own client: a playback token and no other credential);
/// records when each new segment first appeared.
struct Viewer {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(Instant, u64)>>,
}

impl Viewer {
    fn watch(server: &TestServer, path: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::new();
        let url = server.url(&path);
        let stopping = stop.clone();
        let task = tokio::spawn(async move {
            let mut seen: Vec<(Instant, u64)> = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                if let Ok(response) = client.get(&url).send().await
                    && response.status() == 200
                {
                    let text = response.text().await.unwrap_or_default();
                    if let Ok(playlist) = m3u8_rs::parse_media_playlist_res(text.as_bytes()) {
                        let newest = playlist.media_sequence + playlist.segments.len() as u64;
                        if seen.last().is_none_or(|(_, n)| newest > *n) {
                            seen.push((Instant::now(), newest));
                        }
                    }
                }
                tokio::time::sleep(POLL).await;
            }
            seen
        });
        Self { stop, task }
    }

    async fn finish(self) -> Vec<(Instant, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

async fn server_on(cluster: &ThrowawayPostgres) -> TestServer {
    TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        database_url: Some(cluster.url("classcast")),
        ..Default::default()
    })
    .await
}

/// As `server_on`, with sign-in required: the test's own requests carry a
/// system admin's API token, viewers a playback token.
async fn signed_in_server_on(cluster: &ThrowawayPostgres) -> TestServer {
    let mut server = TestServer::start(ServerOptions {
        auth: true,
        grace_seconds: Some(1),
        database_url: Some(cluster.url("classcast")),
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let bearer = api_token(&server, "root", PASSWORD).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {bearer}").parse().unwrap(),
    );
    server.client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    server
}

/// The playback answer of `path` (`/api/classrooms/{id}/playback` or a
/// recording's): its token (empty with sign-in off) and master URL.
async fn playback(server: &TestServer, path: &str) -> (String, String) {
    let playback = server.get_json(path).await;
    let field = |name: &str| playback[name].as_str().unwrap().to_string();
    (field("token"), field("url"))
}

/// Waits for the lesson's recording to be complete in the catalogue and
/// checks what a teacher would: one lesson, one recording, as long as
/// what was published, every segment on disk decoding.
async fn check_catalogue(server: &TestServer, classroom: &str, published: f64) {
    let recordings = server
        .wait_for(
            &format!("/api/recordings?classroom_id={classroom}"),
            Duration::from_secs(60),
            "the recording to be catalogued as complete",
            |r| {
                r.as_array()
                    .is_some_and(|a| a.iter().any(|r| r["status"] == "complete"))
            },
        )
        .await;
    let recordings = recordings.as_array().unwrap();
    assert_eq!(recordings.len(), 1, "one recording: {recordings:?}");
    let recording = &recordings[0];
    let catalogued = recording["duration_ms"].as_i64().unwrap() as f64 / 1000.0;
    assert!(
        (catalogued - published).abs() <= 0.5,
        "catalogued {catalogued} s for {published} s published"
    );
    let sessions: Value = server
        .get_json(&format!("/api/sessions?classroom_id={classroom}"))
        .await;
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 1, "one lesson: {sessions:?}");
    assert!(sessions[0]["ended_at"].is_string(), "{sessions:?}");
    assert_eq!(recording["live_session_id"], sessions[0]["id"]);

    let id = recording["id"].as_str().unwrap();
    let (_, master) = playback(server, &format!("/api/recordings/{id}/playback")).await;
    assert!(
        master.starts_with(&format!("/vod/{id}/index.m3u8")),
        "{master}"
    );
    let variants = check_hls(server, &master).await;
    let played = ffprobe_duration(&server.url(&variants[0]));
    assert!(
        (played - published).abs() <= 0.5,
        "the recording plays {played} s for {published} s published"
    );
    // Every segment of every rendition is there: as many as the published
    // length holds, numbered without a hole (a segment lost while the
    // database was away would leave one, or a short count).
    let expected = (published / SEGMENT.as_secs_f64()).ceil() as usize;
    for variant in &variants {
        let text = server.get(variant).await.text().await.unwrap();
        let playlist = m3u8_rs::parse_media_playlist_res(text.as_bytes()).unwrap();
        let numbers: Vec<u64> = playlist
            .segments
            .iter()
            .map(|s| {
                let name = s.uri.split('?').next().unwrap();
                name.trim_end_matches(".m4s").parse().unwrap()
            })
            .collect();
        assert_eq!(
            numbers.len(),
            expected,
            "{variant}: {} segments for {published} s published\n{text}",
            numbers.len()
        );
        assert!(
            numbers.windows(2).all(|w| w[1] == w[0] + 1),
            "{variant}: segments missing from {numbers:?}"
        );
    }
}

/// Polls `path` until it answers 200; returns how long after `since`.
async fn wait_ok(server: &TestServer, path: &str, since: Instant) -> Duration {
    loop {
        if server.get(path).await.status() == 200 {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(15),
            "{path} never answered\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_restart_mid_lesson_loses_nothing() {
    const PUBLISHED: u32 = 30;
    let cluster = ThrowawayPostgres::start();
    let server = signed_in_server_on(&cluster).await;
    let (classroom, source) = server
        .classroom_with_source("初三(1)班", json!({"kind": "rtmp"}))
        .await;
    let key = source["stream_key"].as_str().unwrap();
    let mut publisher = ffmpeg_publish(&server.rtmp_url(key), "flv", PUBLISHED, true);
    server.wait_segments(&classroom).await;
    let (token, _) = playback(&server, &format!("/api/classrooms/{classroom}/playback")).await;
    assert!(!token.is_empty(), "sign-in is on: media needs the token");
    let viewer = Viewer::watch(
        &server,
        format!("/live/{classroom}/source/index.m3u8?token={token}"),
    );
    tokio::time::sleep(Duration::from_secs(6)).await;

    // The database goes away for 10 s in the middle of the lesson.
    let down = Instant::now();
    cluster.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The API says so within its pool wait (1.5 s), not when it is back...
    let asked = Instant::now();
    let response = server.get("/api/classrooms").await;
    let answered = asked.elapsed();
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    assert!(
        answered < Duration::from_secs(3),
        "GET /api/classrooms took {answered:?} with the database down"
    );
    // ...while token media is served from memory: the master playlist and
    // the newest segment, to a client that has nothing but the token.
    let anonymous = reqwest::Client::new();
    let media = |path: String| anonymous.get(server.url(&path)).send();
    let master = media(format!("/live/{classroom}/index.m3u8?token={token}"))
        .await
        .unwrap();
    assert_eq!(master.status(), 200, "still live with the database down");
    let playlist = media(format!("/live/{classroom}/source/index.m3u8?token={token}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let newest = playlist.lines().rfind(|l| l.contains(".m4s")).unwrap();
    let segment = media(format!("/live/{classroom}/source/{newest}"))
        .await
        .unwrap();
    assert_eq!(segment.status(), 200, "{newest} with the database down");
    assert!(!segment.bytes().await.unwrap().is_empty());
    tokio::time::sleep_until((down + Duration::from_secs(10)).into()).await;
    cluster.start_again();
    let up = Instant::now();
    eprintln!("database down for {:?}", up - down);

    let status = tokio::task::spawn_blocking(move || publisher.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "ffmpeg failed");
    let seen = viewer.finish().await;

    // Viewers saw a segment about every two seconds, before, during and
    // after the outage: no stall longer than one segment, give or take the
    // poll in which a new one may go unseen and the poll's own round trip.
    let during = seen.iter().filter(|(at, _)| *at > down && *at < up).count();
    assert!(
        during >= 4,
        "segments during the outage: {during} in {seen:?}"
    );
    let longest = seen.windows(2).map(|w| w[1].0 - w[0].0).max().unwrap();
    eprintln!("longest wait for the next segment: {longest:?}");
    assert!(
        longest <= SEGMENT + Duration::from_millis(750),
        "a viewer waited {longest:?} for the next segment (polling every {POLL:?})"
    );
    for pair in seen.windows(2) {
        assert!(
            pair[1].1 - pair[0].1 <= 2,
            "segments arrived in a burst after a stall: {seen:?}"
        );
    }
    check_catalogue(&server, &classroom, PUBLISHED as f64).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lesson_starting_with_the_database_down_goes_live_and_is_catalogued_later() {
    const PUBLISHED: u32 = 20;
    let cluster = ThrowawayPostgres::start();
    let server = server_on(&cluster).await;
    let (classroom, source) = server
        .classroom_with_source("初三(2)班", json!({"kind": "srt"}))
        .await;
    let key = source["stream_key"].as_str().unwrap();

    cluster.stop();
    let started = Instant::now();
    let mut publisher = ffmpeg_publish(&server.srt_url(key), "mpegts", PUBLISHED, true);
    // The classroom goes live from what the server last loaded: the lesson
    // starts within 3 s (counted in /metrics, which needs no database on
    // this open bench) and is playable one segment later.
    let went_live = loop {
        let metrics = server.get("/metrics").await.text().await.unwrap();
        let started_lessons = metrics
            .lines()
            .filter(|l| l.starts_with("classcast_live_sessions_total") && l.contains(&classroom))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
        if started_lessons >= 1.0 {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never went live"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let playable = wait_ok(&server, &format!("/live/{classroom}/index.m3u8"), started).await;
    eprintln!("database down: live {went_live:?}, playable {playable:?} after the encoder started");
    assert!(
        went_live < Duration::from_secs(3),
        "live after {went_live:?}"
    );
    assert!(
        playable < Duration::from_secs(3) + SEGMENT,
        "playable after {playable:?}"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    cluster.start_again();

    let status = tokio::task::spawn_blocking(move || publisher.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "ffmpeg failed");
    check_catalogue(&server, &classroom, PUBLISHED as f64).await;
}
