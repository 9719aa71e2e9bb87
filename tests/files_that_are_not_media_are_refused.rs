//! A document renamed `.mp4` and a video cut short (half of a real MP4)
//! are refused once their last byte is in, with the reason in the
//! uploader's language, and nothing of them is left: no row, no part, no
//! object. A real video in the same server is accepted (the probe is not
//! simply refusing everything).

mod common;

use common::uploads::{self, last};
use common::{ServerOptions, TestServer};
use serde_json::Value;

fn refusal(events: &[Value]) -> Value {
    let error = last(events, "error").unwrap_or_else(|| panic!("not refused: {events:?}"));
    assert_eq!(error["status"], 422, "{error}");
    serde_json::from_str(error["body"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_are_not_media_are_refused() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    let token = uploads::teacher(&server, "teacher").await;
    let work = tempfile::tempdir().unwrap();

    let text = work.path().join("教案.mp4");
    std::fs::write(&text, "第一课 分数的认识\n教学目标：……\n".repeat(5000)).unwrap();
    let body = refusal(&uploads::tus_upload(&server, &token, &text, &[]));
    assert_eq!(body["error"]["code"], "upload_not_media", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("不是可播放"),
        "{body}"
    );
    assert_eq!(uploads::rows(&server), (0, 0));
    assert!(uploads::objects(&server).is_empty());

    // Half of a real video, sent in two chunks (a part is stored first).
    let whole = work.path().join("whole.mp4");
    uploads::video(&whole, 10.0, "320x240", false);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = work.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let chunk = (bytes.len() / 4).to_string();
    let body = refusal(&uploads::tus_upload(
        &server,
        &token,
        &cut,
        &["--chunk-size", &chunk],
    ));
    assert_eq!(body["error"]["code"], "upload_truncated", "{body}");
    assert_eq!(uploads::rows(&server), (0, 0));
    assert!(
        uploads::objects(&server).is_empty(),
        "{:?}",
        uploads::objects(&server)
    );

    // The same refusal in English for an English browser.
    let response = uploads::tus(&server, reqwest::Method::POST, "/api/uploads", &token)
        .header("upload-length", (bytes.len() / 2).to_string())
        .header("content-type", "application/offset+octet-stream")
        .header("accept-language", "en-US,en;q=0.9")
        .body(bytes[..bytes.len() / 2].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cut short"),
        "{body}"
    );
    assert_eq!(uploads::rows(&server), (0, 0));

    // And a whole video goes through.
    let events = uploads::tus_upload(&server, &token, &whole, &[]);
    assert!(last(&events, "success").is_some(), "{events:?}");
    assert_eq!(uploads::rows(&server), (1, 0));
    assert_eq!(uploads::objects(&server).len(), 1);
}
