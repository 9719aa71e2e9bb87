//! `uploads.max_per_user` unfinished uploads per person: two creations at
//! the same moment when only one is allowed give one upload and one 429,
//! never two uploads. Another teacher is not held back, and a cancelled
//! upload makes room again.

mod common;

use common::uploads;
use common::{ServerOptions, TestServer};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn one_person_has_a_limited_number_of_uploads() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        env: vec![("CLASSCAST_UPLOADS__MAX_PER_USER", "1".into())],
        ..Default::default()
    })
    .await;
    let token = uploads::teacher(&server, "teacher").await;
    let create = |token: String| {
        let request = uploads::tus(&server, reqwest::Method::POST, "/api/uploads", &token)
            .header("upload-length", "1000000")
            .send();
        async move { request.await.unwrap() }
    };
    for round in 0..5 {
        let (a, b) = tokio::join!(create(token.clone()), create(token.clone()));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 429], "round {round}");
        let (made, refused) = if a.status() == 201 { (a, b) } else { (b, a) };
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "too_many_uploads", "{body}");
        assert_eq!(uploads::rows(&server).0, 1);
        // A third while the first is unfinished: still refused.
        assert_eq!(create(token.clone()).await.status(), 429);
        // Cancelling it makes room.
        let path = made.headers()["location"].to_str().unwrap().to_string();
        let gone = uploads::tus(&server, reqwest::Method::DELETE, &path, &token)
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 204);
        assert_eq!(uploads::offset(&server, &path, &token).await, Err(404));
        assert_eq!(uploads::rows(&server), (0, 0));
    }
    assert_eq!(create(token.clone()).await.status(), 201);
    // Another teacher of the school has their own allowance.
    let root = common::accounts::api_token(&server, "root", common::accounts::PASSWORD).await;
    let school = common::accounts::psql(&server, "SELECT id FROM schools LIMIT 1");
    let other = uploads::teacher_of(&server, &root, &school, "colleague").await;
    assert_eq!(create(other).await.status(), 201);
    assert_eq!(create(token).await.status(), 429);
}
