//! One classroom whose shutdown is slow delays nobody else. The media
//! folder is on a slow disk (every fsync a second longer, like a school's
//! NAS on a busy network), so a classroom's recorder falls behind and its
//! shutdown waits seconds for the last segments to be written. Deleting
//! that classroom must not hold up the API for the others: listing
//! classrooms, renaming another, adding it a source.

mod common;

use std::time::{Duration, Instant};

use common::slow_disk::SlowDisk;
use common::{ServerOptions, TestServer};
use serde_json::json;

/// What an API call may take while another classroom shuts down slowly:
/// generous for a loaded test machine, far below the shutdown's seconds.
const PROMPT: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_classroom_with_a_slow_shutdown_holds_up_no_other() {
    let disk = SlowDisk::mount(Duration::from_secs(1));
    let server = TestServer::start(ServerOptions {
        grace_seconds: Some(1),
        env: vec![("CLASSCAST_MEDIA__DIR", disk.path().display().to_string())],
        ..Default::default()
    })
    .await;
    let (slow, _) = server
        .classroom_with_source("录播一室 (NAS)", json!({"kind": "test"}))
        .await;
    let (other, _) = server
        .classroom_with_source("录播二室", json!({"kind": "rtmp"}))
        .await;
    let live = server.wait_segments(&slow).await;
    let recording = live["live"]["recording_id"].as_str().unwrap().to_string();
    // Two renditions, two fsyncs per segment each: the recorder needs 4 s
    // for every 2 s of lesson, and falls further behind as it runs.
    tokio::time::sleep(Duration::from_secs(8)).await;

    let timed = |what: &'static str, started: Instant| {
        let took = started.elapsed();
        eprintln!("{what}: {took:?}");
        assert!(
            took < PROMPT,
            "{what} took {took:?} while a classroom shut down"
        );
    };
    let deleted = Instant::now();
    let response = server
        .client
        .delete(server.url(&format!("/api/classrooms/{slow}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    timed("deleting the slow classroom", deleted);

    let started = Instant::now();
    let list = server.get_json("/api/classrooms").await;
    timed("listing classrooms", started);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != slow.as_str()),
        "{list}"
    );
    let started = Instant::now();
    let renamed = server
        .client
        .patch(server.url(&format!("/api/classrooms/{other}")))
        .json(&json!({"name": "录播二室（新）"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    timed("renaming another classroom", started);
    let started = Instant::now();
    let (status, _) = server
        .post_json(
            &format!("/api/classrooms/{other}/sources"),
            json!({"kind": "srt"}),
        )
        .await;
    assert_eq!(status, 201);
    timed("adding a source to another classroom", started);

    // Meanwhile the slow classroom really is still shutting down, and then
    // finishes: its recording ends properly on the slow disk.
    let playlist = disk
        .path()
        .join("recordings")
        .join(&recording)
        .join("source/index.m3u8");
    let finished = loop {
        let text = std::fs::read_to_string(&playlist).unwrap_or_default();
        if text.contains("#EXT-X-ENDLIST") {
            break deleted.elapsed();
        }
        assert!(
            deleted.elapsed() < Duration::from_secs(60),
            "the deleted classroom's recording never finished\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("the deleted classroom finished its recording {finished:?} after the delete");
    assert!(
        finished > PROMPT * 3,
        "the shutdown was not slow ({finished:?}): the test proves nothing"
    );
}
