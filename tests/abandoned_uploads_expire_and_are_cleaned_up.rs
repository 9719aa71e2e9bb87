//! An unfinished upload nobody adds to for `uploads.expiry_seconds` is
//! gone: the client was told when (Upload-Expires), after that it is 404,
//! and the sweep deletes its row, its parts and their objects. Every chunk
//! pushes the expiry back.

mod common;

use std::time::Duration;

use common::uploads;
use common::{ServerOptions, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn abandoned_uploads_expire_and_are_cleaned_up() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        env: vec![
            ("CLASSCAST_UPLOADS__EXPIRY_SECONDS", "3".into()),
            ("CLASSCAST_UPLOADS__CLEANUP_INTERVAL_SECONDS", "1".into()),
        ],
        ..Default::default()
    })
    .await;
    let token = uploads::teacher(&server, "teacher").await;
    let response = uploads::tus(&server, reqwest::Method::POST, "/api/uploads", &token)
        .header("upload-length", "5000000")
        .header("content-type", "application/offset+octet-stream")
        .body(vec![3u8; 1_000_000])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let expires = response.headers()["upload-expires"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(expires.ends_with(" GMT"), "{expires}");
    let path = response.headers()["location"].to_str().unwrap().to_string();
    // Chunks keep it alive past its first expiry.
    for i in 1..=3u64 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let response = uploads::tus(&server, reqwest::Method::PATCH, &path, &token)
            .header("upload-offset", (i * 1_000_000).to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(vec![3u8; 1_000_000])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "chunk {i}");
    }
    assert_eq!(uploads::rows(&server), (1, 4));
    assert_eq!(uploads::objects(&server).len(), 4);

    // Then abandoned.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(uploads::offset(&server, &path, &token).await, Err(404));
    common::accounts::within(Duration::from_secs(5), "expired upload swept", || async {
        uploads::rows(&server) == (0, 0) && uploads::objects(&server).is_empty()
    })
    .await;
}
