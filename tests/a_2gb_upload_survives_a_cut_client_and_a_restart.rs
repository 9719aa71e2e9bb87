//! The size: a 2 GiB lesson file sent with tus-js-client over a
//! school network that fails twice. First the client is killed a third of
//! the way through its one big request; resumed, in 64 MiB chunks, the
//! server is killed (SIGKILL) past two thirds and comes back, and the
//! client carries on by itself. The file that comes out is the one sent,
//! byte for byte, and becomes a lesson that plays: every rendition, every
//! segment decoded, and the lesson page's player in Chromium with frames
//! advancing.
//!
//! The file is a 10 s video followed by an MP4 `free` box of padding (a
//! box players and FFmpeg skip), so that the upload is 2 GiB while the
//! transcode stays 10 s of work: the upload path, not the ladder, is what
//! this test is about (the ladder has its own tests). The padding is a
//! sparse file on the sending side; the server writes every byte.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use common::jobs::fast_jobs_env;
use common::lesson_media::{attach, draft, play, upload_id, wait_media};
use common::uploads::{self, last};
use common::{ServerOptions, TestServer};

const SIZE: u64 = 2 * 1024 * 1024 * 1024;

/// `video` followed by one `free` box, `SIZE` bytes in all.
fn padded(video: &std::path::Path, out: &std::path::Path) {
    std::fs::copy(video, out).unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(out).unwrap();
    let at = file.seek(SeekFrom::End(0)).unwrap();
    let box_size = u32::try_from(SIZE - at).unwrap();
    file.write_all(&box_size.to_be_bytes()).unwrap();
    file.write_all(b"free").unwrap();
    file.set_len(SIZE).unwrap();
}

async fn received(server: &TestServer) -> u64 {
    common::accounts::psql(server, "SELECT coalesce(max(received), 0) FROM uploads")
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2gb_upload_survives_a_cut_client_and_a_restart() {
    let mut server = TestServer::start(ServerOptions {
        auth: true,
        env: fast_jobs_env(true),
        ..Default::default()
    })
    .await;
    let teacher = uploads::teacher(&server, "zhao").await;
    let work = tempfile::tempdir().unwrap();
    let video = work.path().join("video.mp4");
    uploads::video(&video, 10.0, "640x360", false);
    let file = work.path().join("物理实验（完整版）.mp4");
    padded(&video, &file);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), SIZE);

    // The client dies a third of the way through its one big PATCH.
    let third = (SIZE / 3).to_string();
    let first = uploads::tus_upload(
        &server,
        &teacher,
        &file,
        &["--no-creation-with-upload", "--die-after", &third],
    );
    assert!(last(&first, "dying").is_some(), "not cut off: {first:?}");
    let path = uploads::upload_path(&first);
    // What arrived is kept once the server sees the socket close.
    let kept = uploads::kept_after_cut(&server, &path, &teacher, Duration::from_secs(30)).await;
    assert!(kept < SIZE, "kept {kept}");

    // Resumed in 64 MiB chunks, retrying as a browser's client would.
    let url = server.url(&path);
    let chunk = (64 * 1024 * 1024).to_string();
    let client = uploads::tus_client(
        &server,
        &teacher,
        &file,
        &[
            "--upload-url",
            &url,
            "--chunk-size",
            &chunk,
            "--retry-for-seconds",
            "120",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let now = received(&server).await;
        if now >= SIZE * 2 / 3 {
            assert!(now < SIZE, "finished before the restart");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the resumed upload stalled at {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    server.spawn().await;
    let second = uploads::events(client);
    assert!(last(&second, "success").is_some(), "{second:?}");
    let resumed_from = uploads::resumed_from(&second);
    assert!(
        resumed_from >= kept,
        "the resumed run started at {resumed_from}, not at {kept}"
    );

    let info = uploads::info(&server, &path, &teacher).await;
    assert_eq!(info["state"], "complete", "{info}");
    assert_eq!(info["received"], SIZE);
    assert_eq!(info["metadata"]["filename"], "物理实验（完整版）.mp4");
    assert_eq!(info["probe"]["video"]["codec"], "h264", "{info}");
    assert!(
        (info["probe"]["duration_seconds"].as_f64().unwrap() - 10.0).abs() < 0.2,
        "{info}"
    );
    let objects = uploads::objects(&server);
    assert_eq!(objects.len(), 1, "{objects:?}");
    // cmp(1) rather than hashing in this debug-built test: 2 GiB in seconds.
    let same = Command::new("cmp")
        .arg("-s")
        .arg(&objects[0])
        .arg(&file)
        .status()
        .unwrap();
    assert!(same.success(), "the stored file is not the one sent");
    assert_eq!(uploads::rows(&server), (1, 0));

    let lesson = draft(&server, &teacher, "物理实验：测量小灯泡的电功率").await;
    let (status, body) = attach(&server, &teacher, &lesson, &upload_id(&second)).await;
    assert_eq!(status, 202, "{body}");
    let (_, media) = wait_media(&server, &teacher, &lesson, Duration::from_secs(300)).await;
    assert_eq!(media["state"], "ready", "{media}\n{}", server.logs());
    let played = play(&server, &teacher, &lesson).await;
    let names: Vec<&str> = played.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["360", "audio"]);
    for (name, seconds) in &played {
        assert!((seconds - 10.0).abs() < 0.5, "{name}: {seconds} s");
    }
    // And as the teacher would check it: in the browser, frames advancing.
    uploads::plays_in_chromium(&server, "zhao", &lesson);
}
