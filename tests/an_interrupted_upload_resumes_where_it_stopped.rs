//! A 200 MB lesson video sent with tus-js-client, the client killed
//! halfway through its one big request (a school network dropping), then
//! resumed: the server kept what arrived, the second run sends only the
//! rest, and the file that comes out is byte for byte the one sent, probed
//! right (container, codecs, size, duration, rotation, audio).

mod common;

use common::uploads::{self, last};
use common::{ServerOptions, TestServer};
use sha2::{Digest, Sha256};

const SIZE_WANTED: u64 = 200 * 1024 * 1024;

fn sha256(path: &std::path::Path) -> Vec<u8> {
    let mut file = std::fs::File::open(path).unwrap();
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).unwrap();
    hasher.finalize().to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_upload_resumes_where_it_stopped() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    let token = uploads::teacher(&server, "teacher").await;
    let work = tempfile::tempdir().unwrap();
    // About 11 MB a second of nearly incompressible video: 19 s is 200 MB.
    let plain = work.path().join("plain.mp4");
    uploads::video(&plain, 19.0, "640x360", true);
    // A phone held upright: the picture is turned for display.
    let file = work.path().join("物理实验.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&plain)
        .args([
            "-c",
            "copy",
            "-metadata:s:v:0",
            "rotate=90",
            "-movflags",
            "+faststart",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > SIZE_WANTED * 9 / 10, "test video is {size} bytes");

    // Creation first, then the whole file in one PATCH, killed halfway.
    let half = (size / 2).to_string();
    let first = uploads::tus_upload(
        &server,
        &token,
        &file,
        &["--no-creation-with-upload", "--die-after", &half],
    );
    assert!(
        last(&first, "dying").is_some(),
        "client was not cut off: {first:?}"
    );
    assert!(last(&first, "success").is_none());
    let path = uploads::upload_path(&first);
    // The server keeps what arrived before the cut (after the socket closes).
    let kept =
        uploads::kept_after_cut(&server, &path, &token, std::time::Duration::from_secs(5)).await;
    assert!(kept > 0 && kept < size, "kept {kept} of {size}");

    let url = server.url(&path);
    let second = uploads::tus_upload(&server, &token, &file, &["--upload-url", &url]);
    assert!(
        last(&second, "success").is_some(),
        "resume failed: {second:?}"
    );
    let resumed_from = uploads::resumed_from(&second);
    assert!(
        resumed_from >= kept,
        "the resumed run started at {resumed_from}, not at {kept}"
    );

    let info = uploads::info(&server, &path, &token).await;
    assert_eq!(info["state"], "complete");
    assert_eq!(info["received"], size);
    assert_eq!(info["metadata"]["filename"], "物理实验.mp4");
    let probe = &info["probe"];
    assert!(
        probe["container"].as_str().unwrap().contains("mp4"),
        "{probe}"
    );
    assert_eq!(probe["video"]["codec"], "h264", "{probe}");
    assert_eq!(probe["video"]["width"], 640);
    assert_eq!(probe["video"]["height"], 360);
    assert_eq!(probe["video"]["rotation"], 90);
    assert!((probe["video"]["frame_rate"].as_f64().unwrap() - 25.0).abs() < 0.1);
    assert!(
        (probe["duration_seconds"].as_f64().unwrap() - 19.0).abs() < 0.2,
        "{probe}"
    );
    assert_eq!(probe["audio"]["codec"], "aac");
    assert_eq!(probe["audio"]["channels"], 2);
    assert_eq!(probe["audio"]["sample_rate"], 48000);
    assert_eq!(probe["size_bytes"], size);

    // One object is left, the whole file, identical; no parts.
    let objects = uploads::objects(&server);
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(sha256(&objects[0]), sha256(&file), "stored file differs");
    assert_eq!(uploads::rows(&server), (1, 0));
}
