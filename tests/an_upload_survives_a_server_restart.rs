//! The server is killed (SIGKILL) in the middle of an upload sent in 8 MB
//! chunks and comes back: the client, retrying as tus-js-client does, asks
//! where the upload stands and carries on, since the state lives in
//! PostgreSQL and the chunks in storage, not in the process. The file that
//! comes out is the one sent.

mod common;

use std::time::{Duration, Instant};

use common::uploads::{self, last};
use common::{ServerOptions, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_survives_a_server_restart() {
    let mut server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    let token = uploads::teacher(&server, "teacher").await;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("lesson.mp4");
    uploads::video(&file, 6.0, "640x360", true);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 40_000_000, "test video is {size} bytes");

    let chunk = (8 * 1024 * 1024).to_string();
    let client = uploads::tus_client(
        &server,
        &token,
        &file,
        &["--chunk-size", &chunk, "--retry-for-seconds", "60"],
    );
    // Until at least two chunks are in, read from the database itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let received: i64 =
            common::accounts::psql(&server, "SELECT coalesce(max(received), 0) FROM uploads")
                .parse()
                .unwrap();
        if received >= 16 * 1024 * 1024 {
            assert!((received as u64) < size, "finished before the restart");
            break;
        }
        assert!(Instant::now() < deadline, "upload never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.spawn().await;

    let events = uploads::events(client);
    assert!(last(&events, "success").is_some(), "{events:?}");
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
    assert_eq!(info["probe"]["video"]["codec"], "h264");
    let objects = uploads::objects(&server);
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(
        std::fs::read(&objects[0]).unwrap(),
        std::fs::read(&file).unwrap(),
        "the stored file is not the one sent"
    );
    assert_eq!(uploads::rows(&server), (1, 0));
}
