//! An upload that says it is larger than `uploads.max_bytes` is answered
//! 413 at creation, before any of its bytes is stored, even when the first
//! chunk rides along with the creation. Within the limit, a chunk far
//! larger than the API's 1 MiB body limit goes through: chunks are not
//! held to it.

mod common;

use common::uploads;
use common::{ServerOptions, TestServer};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn uploads_over_the_limit_are_refused_before_storing() {
    let limit: usize = 3 * 1024 * 1024;
    let server = TestServer::start(ServerOptions {
        auth: true,
        env: vec![("CLASSCAST_UPLOADS__MAX_BYTES", limit.to_string())],
        ..Default::default()
    })
    .await;
    let token = uploads::teacher(&server, "teacher").await;
    let options = uploads::tus(&server, reqwest::Method::OPTIONS, "/api/uploads", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        options.headers()["tus-max-size"],
        limit.to_string().as_str()
    );

    let too_big = vec![7u8; limit + 1];
    let response = uploads::tus(&server, reqwest::Method::POST, "/api/uploads", &token)
        .header("upload-length", too_big.len().to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(too_big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    assert_eq!(uploads::rows(&server), (0, 0));
    assert!(uploads::objects(&server).is_empty());

    // At the limit: created, and a 2.5 MiB chunk is taken whole.
    let response = uploads::tus(&server, reqwest::Method::POST, "/api/uploads", &token)
        .header("upload-length", limit.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let path = response.headers()["location"].to_str().unwrap().to_string();
    let chunk = vec![1u8; limit - 512 * 1024];
    let response = uploads::tus(&server, reqwest::Method::PATCH, &path, &token)
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(chunk.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["upload-offset"],
        chunk.len().to_string().as_str()
    );
    // More than is left of the declared length is refused, and not kept.
    let response = uploads::tus(&server, reqwest::Method::PATCH, &path, &token)
        .header("upload-offset", chunk.len().to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(chunk.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        uploads::offset(&server, &path, &token).await,
        Ok(chunk.len() as u64)
    );
    assert_eq!(uploads::rows(&server), (1, 1));
    assert_eq!(uploads::objects(&server).len(), 1);
}
