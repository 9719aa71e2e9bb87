//! Media is opened by a signed, expiring playback token for exactly one
//! classroom, carried in the URLs so plain players work; tampered, expired
//! and cross-classroom tokens are refused, and so are sessions and API
//! tokens the moment they are revoked. File routes read nothing outside
//! the media root, however the path is spelled.

mod common;

use std::time::Duration;

use common::{ServerOptions, TestServer, raw_get};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server
        .client
        .request(method, server.url(path))
        .bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn token_for(server: &TestServer, username: &str) -> (String, String, String) {
    let (cookie, csrf) = server.sign_in(username, PASSWORD).await;
    let response = server
        .client
        .post(server.url("/api/tokens"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "教务系统"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    (
        body["secret"].as_str().unwrap().to_string(),
        body["id"].as_str().unwrap().to_string(),
        cookie,
    )
}

async fn live_classroom(server: &TestServer, admin: &str, name: &str) -> String {
    let (status, room) = send(
        server,
        reqwest::Method::POST,
        "/api/classrooms",
        admin,
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    let (status, _) = send(
        server,
        reqwest::Method::POST,
        &format!("/api/classrooms/{id}/sources"),
        admin,
        Some(json!({"kind": "test"})),
    )
    .await;
    assert_eq!(status, 201);
    for _ in 0..200 {
        let (_, c) = send(
            server,
            reqwest::Method::GET,
            &format!("/api/classrooms/{id}"),
            admin,
            None,
        )
        .await;
        if c["live"]["renditions"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} did not go live");
}

/// Follows a tokened master playlist to one segment, with no credentials
/// but the URLs themselves, as a native player would.
async fn play(server: &TestServer, master_url: &str) -> u16 {
    let master = server.get(master_url).await;
    if master.status() != 200 {
        return master.status().as_u16();
    }
    let text = master.text().await.unwrap();
    let media = text.lines().find(|l| !l.starts_with('#')).unwrap();
    assert!(media.contains("?token="), "{text}");
    let base = master_url
        .split('?')
        .next()
        .unwrap()
        .rsplit_once('/')
        .unwrap()
        .0;
    let media_url = format!("{base}/{media}");
    let playlist = server.get(&media_url).await.text().await.unwrap();
    assert!(
        playlist.contains("init-") && playlist.contains(".mp4?token="),
        "{playlist}"
    );
    let segment = playlist.lines().rfind(|l| l.contains(".m4s")).unwrap();
    let dir = media_url
        .split('?')
        .next()
        .unwrap()
        .rsplit_once('/')
        .unwrap()
        .0;
    let response = server.get(&format!("{dir}/{segment}")).await;
    assert_eq!(response.headers()["content-type"], "video/iso.segment");
    // Signed-in media stays in the viewer's browser, never a shared cache;
    // and a live segment name comes back next lesson, so it lives briefly.
    assert_eq!(response.headers()["cache-control"], "private, max-age=60");
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn playback_tokens_open_one_classroom_and_revocation_is_immediate() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        env: vec![("CLASSCAST_AUTH__PLAYBACK_TTL_SECONDS", "6".into())],
        ..Default::default()
    })
    .await;
    server.create_admin("教务处", PASSWORD);
    let (admin, _, _) = token_for(&server, "教务处").await;
    let room_a = live_classroom(&server, &admin, "高一(1)班").await;
    let room_b = live_classroom(&server, &admin, "高一(2)班").await;

    let (status, playback) = send(
        &server,
        reqwest::Method::GET,
        &format!("/api/classrooms/{room_a}/playback"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let url = playback["url"].as_str().unwrap().to_string();
    assert_eq!(
        play(&server, &url).await,
        200,
        "the token plays its classroom"
    );
    let token = url.split("token=").nth(1).unwrap().to_string();

    // Without anything: 401. Another classroom with A's token: 403.
    assert_eq!(
        server
            .get(&format!("/live/{room_a}/index.m3u8"))
            .await
            .status(),
        401
    );
    // Each refusal says why: a 403 alone is what an expired token gets too.
    let reason = |path: String| {
        let server = &server;
        async move {
            let response = server.get(&path).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (
                status,
                body["error"]["code"].as_str().unwrap_or("").to_string(),
            )
        }
    };
    let cross = format!("/live/{room_b}/index.m3u8?token={token}");
    assert_eq!(
        reason(cross).await,
        (403, "playback_token_wrong_scope".into())
    );
    // A token with one character changed: 403.
    let mut tampered: Vec<char> = token.chars().collect();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let url_tampered = format!("/live/{room_a}/index.m3u8?token={tampered}");
    let (status, why) = reason(url_tampered).await;
    assert_eq!(status, 403);
    // One character of base64 may land in the signature or the body.
    assert!(
        why == "playback_token_bad_signature" || why == "playback_token_malformed",
        "{why}"
    );
    assert_eq!(
        reason(format!("/live/{room_a}/index.m3u8?token=garbage")).await,
        (403, "playback_token_malformed".into())
    );
    // The token expires (6 s here; 5 minutes by default): wait for it.
    let expires: chrono::DateTime<chrono::Utc> =
        playback["expires_at"].as_str().unwrap().parse().unwrap();
    let wait = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1100)).await;
    assert_eq!(
        reason(url.clone()).await,
        (403, "playback_token_expired".into())
    );

    // A teacher's session and API token stop working the moment they are
    // revoked or the account is disabled.
    let (status, school) = send(
        &server,
        reqwest::Method::POST,
        "/api/schools",
        &admin,
        Some(json!({"name": "一中"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, teacher) = send(
        &server,
        reqwest::Method::POST,
        "/api/users",
        &admin,
        Some(
            json!({"username": "li.laoshi", "password": PASSWORD, "school_id": school["id"],
                    "roles": [{"role": "teacher"}]}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{teacher}");
    let (bearer, token_id, cookie) = token_for(&server, "li.laoshi").await;
    let (second_bearer, _, _) = token_for(&server, "li.laoshi").await;
    let me = |auth: (&'static str, String)| {
        server
            .client
            .get(server.url("/api/session"))
            .header(auth.0, auth.1)
            .send()
    };
    assert_eq!(
        me(("authorization", format!("Bearer {bearer}")))
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, _) = send(
        &server,
        reqwest::Method::DELETE,
        &format!("/api/tokens/{token_id}"),
        &bearer,
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        me(("authorization", format!("Bearer {bearer}")))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(me(("cookie", cookie.clone())).await.unwrap().status(), 200);
    let teacher_id = teacher["id"].as_str().unwrap();
    let (status, _) = send(
        &server,
        reqwest::Method::PATCH,
        &format!("/api/users/{teacher_id}"),
        &admin,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        me(("cookie", cookie)).await.unwrap().status(),
        401,
        "session ended"
    );
    assert_eq!(
        me(("authorization", format!("Bearer {second_bearer}")))
            .await
            .unwrap()
            .status(),
        401,
        "tokens revoked"
    );

    // Sign-in is rate limited per account, with a clear message.
    for _ in 0..5 {
        let response = server
            .client
            .post(server.url("/api/session"))
            .json(&json!({"username": "教务处", "password": "wrong password!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let response = server
        .client
        .post(server.url("/api/session"))
        .header("accept-language", "en")
        .json(&json!({"username": "教务处", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again in"),
        "{body}"
    );

    // And per address: many accounts tried from one place are refused too,
    // even for a name never tried before (30 failures; the 5 above count).
    for i in 0..25 {
        let response = server
            .client
            .post(server.url("/api/session"))
            .json(&json!({"username": format!("guess{i}"), "password": "wrong password!"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "attempt {i}");
    }
    let response = server
        .client
        .post(server.url("/api/session"))
        .json(&json!({"username": "fresh.name", "password": "wrong password!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429, "the address is limited");

    // Path traversal on every file route: refused, nothing read. The
    // server log sits in the media directory's parent's reach.
    let recording = {
        let (_, c) = send(
            &server,
            reqwest::Method::GET,
            &format!("/api/classrooms/{room_a}"),
            &admin,
            None,
        )
        .await;
        c["live"]["recording_id"].as_str().unwrap().to_string()
    };
    // Fresh tokens for both, so every probe gets past the access check and
    // reaches the file handling: a refusal for want of a token proves nothing.
    let fresh = |path: String| {
        let server = &server;
        let admin = admin.clone();
        async move {
            let (status, playback) = send(server, reqwest::Method::GET, &path, &admin, None).await;
            assert_eq!(status, 200, "{playback}");
            let url = playback["url"].as_str().unwrap().to_string();
            url.split_once('?').unwrap().1.to_string()
        }
    };
    let live = fresh(format!("/api/classrooms/{room_a}/playback")).await;
    let vod = fresh(format!("/api/recordings/{recording}/playback")).await;
    assert_eq!(
        server
            .get(&format!("/vod/{recording}/index.m3u8?{vod}"))
            .await
            .status(),
        200,
        "the recording token works"
    );
    for target in [
        format!("/vod/{recording}/../../server.log?{vod}"),
        format!("/vod/{recording}/source/..%2F..%2F..%2Fserver.log?{vod}"),
        format!("/vod/{recording}/source/%2e%2e%2f%2e%2e%2fserver.log?{vod}"),
        format!("/vod/{recording}/..%2F..%2F/index.m3u8?{vod}"),
        format!("/vod/..%2F..%2Fserver.log/source/index.m3u8?{vod}"),
        format!("/vod/{recording}/source//etc/passwd?{vod}"),
        format!("/vod/{recording}/%2Fetc%2Fpasswd/index.m3u8?{vod}"),
        format!("/live/{room_a}/source/..%2F..%2Findex.m3u8?{live}"),
        format!("/live/{room_a}/..%2F..%2Fserver.log/0.m4s?{live}"),
        "/..%2F..%2F..%2Fetc%2Fpasswd".to_string(),
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd".to_string(),
        "/../../../../etc/passwd".to_string(),
    ] {
        let (status, body) = raw_get(server.http, &target);
        assert!(
            matches!(status, 400 | 404) || (status == 200 && body.contains("<!doctype html>")),
            "{target}: {status}"
        );
        assert!(!body.contains("root:x:0:0"), "{target} read /etc/passwd");
        assert!(
            !body.contains("classcast is serving"),
            "{target} read the server log"
        );
    }
}
