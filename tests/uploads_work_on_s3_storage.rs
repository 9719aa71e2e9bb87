//! With `[storage] kind = "s3"`, uploads go to S3-compatible object
//! storage: here s3s-fs (a real S3 API over a directory, installed by
//! `make test` into target/tools). A video sent in 6 MB chunks by
//! tus-js-client (each chunk its own object, then joined) comes out as
//! one object in the bucket, identical to the file, and probed; a refused
//! file leaves nothing in the bucket. The whole way on: the upload made a
//! lesson's video, transcoded by the worker from the bucket into the
//! bucket, and played through the lesson's HLS route, every segment
//! decoded, with nothing of it on the server's disk; and the lesson's
//! attachment kept in, served (whole and by range) from and deleted from
//! the bucket; and the lesson deleted, its prefixes emptied in the bucket.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::jobs::fast_jobs_env;
use common::lesson_media::{attach, draft, play, upload_id, wait_media};
use common::uploads::{self, last};
use common::{ServerOptions, TestServer, files_under, free_tcp_port};

const BUCKET: &str = "classcast-media";

struct S3Server {
    child: Child,
    port: u16,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3s_fs() -> PathBuf {
    std::env::var_os("CLASSCAST_S3S_FS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/s3s-fs"),
        PathBuf::from,
    )
}

fn start_s3(root: &Path) -> S3Server {
    std::fs::create_dir_all(root.join(BUCKET)).unwrap();
    let port = free_tcp_port();
    let child = Command::new(s3s_fs())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--access-key",
            "classcast",
            "--secret-key",
            "classcast-secret",
        ])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("s3s-fs runs (make test installs it into target/tools)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "s3s-fs did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    S3Server { child, port }
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_work_on_s3_storage() {
    let root = tempfile::tempdir().unwrap();
    let s3 = start_s3(root.path());
    let mut env = fast_jobs_env(true);
    env.extend([
        ("CLASSCAST_STORAGE__KIND", "s3".into()),
        ("CLASSCAST_STORAGE__BUCKET", BUCKET.into()),
        (
            "CLASSCAST_STORAGE__ENDPOINT",
            format!("http://127.0.0.1:{}", s3.port),
        ),
        ("CLASSCAST_STORAGE__ACCESS_KEY_ID", "classcast".into()),
        (
            "CLASSCAST_STORAGE__SECRET_ACCESS_KEY",
            "classcast-secret".into(),
        ),
    ]);
    let server = TestServer::start(ServerOptions {
        auth: true,
        env,
        ..Default::default()
    })
    .await;
    let token = uploads::teacher(&server, "teacher").await;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("lesson.mp4");
    uploads::video(&file, 2.0, "640x360", true);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 13_000_000, "test video is {size} bytes");

    let chunk = (6 * 1024 * 1024).to_string();
    let events = uploads::tus_upload(&server, &token, &file, &["--chunk-size", &chunk]);
    let upload_events = events.clone();
    assert!(
        last(&events, "success").is_some(),
        "{events:?}\n{}",
        server.logs()
    );
    let path = uploads::upload_path(&events);
    let (status, info) = common::accounts::call(
        &server,
        reqwest::Method::GET,
        &format!("{path}/info"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["state"], "complete");
    assert_eq!(info["probe"]["video"]["codec"], "h264", "{info}");
    assert_eq!(info["probe"]["size_bytes"], size);

    // Nothing on the server's disk; one object in the bucket, the file.
    assert!(uploads::objects(&server).is_empty());
    let stored: Vec<PathBuf> = files_under(&root.path().join(BUCKET))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/uploads/"))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        std::fs::read(&stored[0]).unwrap(),
        std::fs::read(&file).unwrap()
    );

    // A refused file leaves nothing in the bucket either.
    let text = work.path().join("notes.mp4");
    std::fs::write(&text, "not a video\n".repeat(1000)).unwrap();
    let events = uploads::tus_upload(&server, &token, &text, &[]);
    assert_eq!(last(&events, "error").unwrap()["status"], 422, "{events:?}");
    let stored = files_under(&root.path().join(BUCKET))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/uploads/"))
        .count();
    assert_eq!(stored, 1);
    assert_eq!(uploads::rows(&server), (1, 0));

    // Upload → lesson → transcode → play, all on the bucket.
    let lesson = draft(&server, &token, "在对象存储上的微课").await;
    let (status, body) = attach(&server, &token, &lesson, &upload_id(&upload_events)).await;
    assert_eq!(status, 202, "{body}");
    let (_, media) = wait_media(&server, &token, &lesson, Duration::from_secs(180)).await;
    assert_eq!(media["state"], "ready", "{media}\n{}", server.logs());
    let played = play(&server, &token, &lesson).await;
    let names: Vec<&str> = played.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["360", "audio"]);
    for (name, seconds) in &played {
        assert!((seconds - 2.0).abs() < 0.5, "{name}: {seconds} s of 2");
    }
    let ladder = files_under(&root.path().join(BUCKET))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&format!("/lessons/{lesson}/")))
        .count();
    // master, and per rendition (360p, audio) its playlist and one segment.
    assert!(ladder >= 5, "the ladder is in the bucket: {ladder} objects");
    assert!(
        !server.media.path().join("objects").exists()
            || files_under(&server.media.path().join("objects")).is_empty(),
        "nothing of it on the server's disk"
    );
    assert!(files_under(&server.media.path().join("staging")).is_empty());

    // The lesson's attachments are kept in the bucket too, served from it,
    // and deleted from it; a refused one never reaches it.
    let sheet =
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";
    let url = |rest: &str| server.url(&format!("/api/library/lessons/{lesson}/attachments{rest}"));
    let send = |body: &'static [u8]| {
        server
            .client
            .post(url("?kind=task_sheet&name=sheet.pdf"))
            .bearer_auth(&token)
            .body(body)
            .send()
    };
    assert_eq!(
        send(b"\x7fELF\x02\x01\x01 a program")
            .await
            .unwrap()
            .status(),
        415
    );
    let response = send(sheet).await.unwrap();
    assert_eq!(response.status(), 201);
    let added: serde_json::Value = response.json().await.unwrap();
    let id = added["id"].as_str().unwrap();
    let in_bucket = |id: &str| {
        files_under(&root.path().join(BUCKET))
            .into_iter()
            .filter(|p| {
                p.to_string_lossy()
                    .contains(&format!("/library/{lesson}/attachments/{id}"))
            })
            .collect::<Vec<_>>()
    };
    let stored = in_bucket("");
    assert_eq!(stored.len(), 1, "only the accepted one: {stored:?}");
    assert_eq!(std::fs::read(&stored[0]).unwrap(), sheet);
    let got = server
        .client
        .get(url(&format!("/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert_eq!(&got.bytes().await.unwrap()[..], sheet);
    // A range is read from the bucket alone.
    let part = server
        .client
        .get(url(&format!("/{id}")))
        .bearer_auth(&token)
        .header("range", "bytes=9-20")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 9-20/{}", sheet.len()).as_str()
    );
    assert_eq!(&part.bytes().await.unwrap()[..], &sheet[9..21]);
    let gone = server
        .client
        .delete(url(&format!("/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    assert!(in_bucket(id).is_empty());
    assert!(
        !server.media.path().join("objects").exists()
            || files_under(&server.media.path().join("objects")).is_empty(),
        "nothing of the attachment on the server's disk"
    );

    // Deleting the lesson empties its prefixes in the bucket, and takes
    // the upload its video was made from.
    let response = server
        .client
        .post(url("?kind=slides&name=slides.pdf"))
        .bearer_auth(&token)
        .body(&sheet[..])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(in_bucket("").len(), 1);
    let gone = server
        .client
        .delete(server.url(&format!("/api/library/lessons/{lesson}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let left: Vec<PathBuf> = files_under(&root.path().join(BUCKET))
        .into_iter()
        .filter(|p| {
            let p = p.to_string_lossy();
            p.contains(&format!("/lessons/{lesson}/"))
                || p.contains(&format!("/library/{lesson}/"))
                || p.contains("/uploads/")
        })
        .collect();
    assert!(left.is_empty(), "left in the bucket: {left:?}");
    assert_eq!(uploads::rows(&server), (0, 0));
}
