//! The HTTP listener holds up against careless and hostile clients:
//! trickled and silent connections are closed after the header timeout,
//! a flood of them cannot lock real clients out (at the connection cap the
//! oldest idle connection makes room), oversized bodies get 413, every
//! response carries security headers and the UI a Content Security Policy,
//! players on other sites get their CORS preflight, and unknown media
//! paths are JSON 404s rather than the UI's page. Every API answer here
//! is also checked against the OpenAPI document.

mod common;

use std::time::{Duration, Instant};

use common::openapi::Spec;
use common::{ServerOptions, TestServer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn open_fds(server: &TestServer) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.pid().unwrap()))
        .unwrap()
        .count()
}

/// Samples the server's open fds until `want` or `limit`; the most seen.
async fn peak_fds(server: &TestServer, want: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    let mut peak = 0;
    while Instant::now() < deadline {
        peak = peak.max(open_fds(server));
        if peak >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    peak
}

/// Reads until the server closes the connection; how long that took.
async fn until_closed(mut stream: TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), stream.read(&mut buf))
            .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

/// This test holds 1,000 sockets itself: lift its own soft limit (the
/// server raises its own).
fn allow_many_sockets() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn trickled_headers_are_cut_off_while_real_clients_are_served() {
    allow_many_sockets();
    let server = TestServer::start(ServerOptions {
        auth: true,
        env: vec![("CLASSCAST_HTTP__HEADER_READ_TIMEOUT_SECONDS", "2".into())],
        ..Default::default()
    })
    .await;
    let spec = Spec::fetch(&server).await;
    let baseline = open_fds(&server);
    let addr = format!("127.0.0.1:{}", server.http);
    // 1,000 clients start a request and trickle a header line every 500 ms:
    // each would hold its connection forever without a header timeout.
    let mut trickles = Vec::new();
    for i in 0..1000 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        stream
            .write_all(format!("GET /api/session HTTP/1.1\r\nHost: x\r\nX-{i}: a\r\n").as_bytes())
            .await
            .unwrap();
        trickles.push(tokio::spawn(async move {
            let start = Instant::now();
            let (mut read, mut write) = stream.into_split();
            let trickle = async {
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if write.write_all(b"X-More: a\r\n").await.is_err() {
                        break;
                    }
                }
            };
            let mut buf = [0u8; 256];
            let closed = async {
                loop {
                    match read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
            };
            tokio::select! {
                _ = closed => {}
                _ = tokio::time::sleep(Duration::from_secs(15)) => return None,
                _ = trickle => {}
            }
            Some(start.elapsed())
        }));
    }
    // The kernel completes each handshake before the server accepts it, so
    // the server may still be catching up: wait until it holds them (each
    // is closed 2 s after its own accept, so they are all held at once).
    let held = peak_fds(&server, baseline + 900, Duration::from_secs(5)).await;
    assert!(
        held >= baseline + 900,
        "the server never held the connections: at most {held} fds, baseline {baseline}"
    );
    // Meanwhile a real client is answered at once.
    let t = Instant::now();
    let response = spec
        .checked("GET", "/api/sso", server.get("/api/sso").await)
        .await;
    assert_eq!(response.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    let mut closed_after = Vec::new();
    for trickle in trickles {
        closed_after.push(trickle.await.unwrap());
    }
    let still_open = closed_after.iter().filter(|c| c.is_none()).count();
    assert_eq!(still_open, 0, "connections outlived the header timeout");
    let slowest = closed_after.iter().flatten().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(6),
        "closed {slowest:?} after connecting (timeout 2 s)"
    );
    // The server let go of them too.
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds(&server) > baseline + 20 {
        assert!(Instant::now() < deadline, "{} fds open", open_fds(&server));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A kept-alive connection that goes quiet is closed as well.
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let took = until_closed(stream, Duration::from_secs(10)).await;
    let took = took.expect("idle keep-alive connection never closed");
    assert!(took >= Duration::from_millis(1500), "{took:?}");

    // And one that connects and never sends a byte is closed by the same
    // 2 s timer, far below any connection cap: one such client, alone.
    let silent = TcpStream::connect(&addr).await.unwrap();
    let took = until_closed(silent, Duration::from_secs(10)).await;
    let took = took.expect("a silent connection was never closed");
    assert!(
        took >= Duration::from_millis(1500) && took <= Duration::from_secs(3),
        "a silent connection was closed after {took:?} (header timeout 2 s)"
    );
    spec.assert_all_matched();
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_connection_cap_silent_connections_make_room() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        env: vec![
            ("CLASSCAST_HTTP__MAX_CONNECTIONS", "50".into()),
            // Long enough that only the cap can explain what follows.
            ("CLASSCAST_HTTP__HEADER_READ_TIMEOUT_SECONDS", "60".into()),
        ],
        ..Default::default()
    })
    .await;
    let spec = Spec::fetch(&server).await;
    let addr = format!("127.0.0.1:{}", server.http);
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    // A real client still gets in and is served, several times over.
    for _ in 0..5 {
        let t = Instant::now();
        let response = tokio::time::timeout(Duration::from_secs(5), server.get("/api/sso"))
            .await
            .expect("a real client was locked out");
        let status = spec.checked("GET", "/api/sso", response).await.status();
        assert_eq!(status, 200);
        assert!(t.elapsed() < Duration::from_secs(2));
    }
    // The oldest silent connections were closed to make room.
    let mut closed = 0;
    for stream in silent.into_iter().take(100) {
        if until_closed(stream, Duration::from_millis(200))
            .await
            .is_some()
        {
            closed += 1;
        }
    }
    assert!(closed >= 90, "only {closed} of the oldest 100 were closed");
    spec.assert_all_matched();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_security_headers_and_media_paths_stay_media() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    let spec = Spec::fetch(&server).await;
    let room = uuid::Uuid::new_v4();
    for path in [
        "/".to_string(),
        "/api/session".to_string(),
        format!("/live/{room}/index.m3u8"),
        "/metrics".to_string(),
    ] {
        let response = spec.checked("GET", &path, server.get(&path).await).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if path == "/" {
            for directive in [
                "default-src 'self'",
                "script-src 'self'",
                "object-src 'none'",
            ] {
                assert!(csp.contains(directive), "{csp}");
            }
            assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        } else {
            assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        }
    }

    // A player on a school portal asks before fetching HLS.
    let preflight = server
        .client
        .request(
            reqwest::Method::OPTIONS,
            server.url(&format!("/live/{room}/index.m3u8")),
        )
        .header("origin", "https://portal.example.edu.cn")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(
        preflight.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );

    // Media paths that match no media route are JSON 404s, never the UI.
    for path in [
        "/live".to_string(),
        format!("/live/{room}"),
        format!("/live/{room}/source/index.m3u8/extra"),
        "/vod/nothing/here/at/all".to_string(),
        "/vod/".to_string(),
    ] {
        let response = server.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }

    // A body past the limit (1 MiB by default) is 413 in the error shape.
    let response = server
        .client
        .post(server.url("/api/session"))
        .header("content-type", "application/json")
        .body(vec![b' '; 10 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let response = spec.checked("POST", "/api/session", response).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    spec.assert_all_matched();
}
