//! Sign-in under attack: parallel guesses cannot slip past the failure
//! limits (each attempt holds its place before the slow hash), spellings of
//! one username share one lock, `current_password` cannot be guessed
//! without limit, and a flood of sign-ins neither exhausts memory nor stops
//! the lessons being served. Every API answer is checked against the
//! OpenAPI document (429 and 503 included).

mod common;

use std::time::{Duration, Instant};

use common::accounts::{PASSWORD, api_token, code, memory_mib, psql, school, user};
use common::openapi::Spec;
use common::{ServerOptions, TestServer};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

async fn sign_in(server: &TestServer, spec: &Spec, username: &str, password: &str) -> u16 {
    spec.call(
        server,
        Method::POST,
        "/api/session",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
    .0
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_guesses_and_other_spellings_hit_the_same_limit() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let spec = Spec::fetch(&server).await;
    let root = api_token(&server, "root", PASSWORD).await;
    let school = school(&server, &root, "一中", "campus").await;
    for name in ["rl_victim", "rl_kong"] {
        user(
            &server,
            &root,
            json!({"username": name, "password": PASSWORD, "school_id": school,
                   "roles": [{"role": "teacher"}]}),
        )
        .await;
    }
    // Failures counted against this test's one address (limit 30).
    let mut failed_here = 0;

    // 20 wrong passwords at once for one account (limit 5): the count is
    // taken and the place held before hashing, so at most 5 are judged.
    let guesses = (0..20).map(|i| {
        let (server, spec) = (&server, &spec);
        async move { sign_in(server, spec, "rl_victim", &format!("wrong guess {i}")).await }
    });
    let statuses = join_all(guesses).await;
    assert_eq!(count(&statuses, 401), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 15, "{statuses:?}");
    failed_here += count(&statuses, 401);

    // Every spelling that names the account meets the same lock, even
    // with the right password: case, full-width letters.
    for spelling in ["rl_victim", "RL_VICTIM", "ｒｌ＿ｖｉｃｔｉｍ"] {
        let status = sign_in(&server, &spec, spelling, PASSWORD).await;
        assert_eq!(status, 429, "{spelling} must hit rl_victim's lock");
    }
    // The Kelvin sign "\u{212A}" is a K (NFKC), so it folds to the k of
    // rl_kong: wrong guesses under that spelling lock rl_kong itself, and
    // the lock holds for the plain name and for the Kelvin one alike.
    let kelvin = "rl_\u{212A}ong";
    let guesses = (0..8).map(|i| {
        let (server, spec) = (&server, &spec);
        async move { sign_in(server, spec, kelvin, &format!("wrong guess {i}")).await }
    });
    let statuses = join_all(guesses).await;
    assert_eq!(count(&statuses, 401), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 3, "{statuses:?}");
    failed_here += count(&statuses, 401);
    for spelling in ["rl_kong", "RL_KONG", kelvin] {
        let status = sign_in(&server, &spec, spelling, PASSWORD).await;
        assert_eq!(status, 429, "{spelling} must hit rl_kong's lock");
    }
    // `İ` folds to i + a combining dot: a name no account has. It never
    // opens rl_victim, locked or not.
    let dotted = "rl_victİm";
    assert_ne!(sign_in(&server, &spec, dotted, PASSWORD).await, 200);
    // Once rl_victim's failures leave the window (aged here as 15 minutes
    // passing would), the account opens with its own name and password,
    // and the dotted name still does not open it: it is refused as a
    // name no account can have, not merely by the lock.
    psql(
        &server,
        "UPDATE login_failures SET at = at - interval '1 day' WHERE key = 'user:rl_victim'",
    );
    let status = sign_in(&server, &spec, dotted, PASSWORD).await;
    assert_eq!(status, 422, "{dotted} once rl_victim is unlocked");
    assert_eq!(sign_in(&server, &spec, "rl_victim", PASSWORD).await, 200);

    // From one address (limit 30): the failures above are already
    // counted, so of 40 parallel guesses at unknown names exactly the
    // rest of the 30 are judged, and never more than 25.
    let guesses = (0..40).map(|i| {
        let (server, spec) = (&server, &spec);
        async move { sign_in(server, spec, &format!("guess{i}"), "wrong password!").await }
    });
    let statuses = join_all(guesses).await;
    let judged = count(&statuses, 401);
    // 503 server_busy: no hashing slot came free in time (a loaded
    // machine); such an attempt was never judged, so it is neither a 401
    // nor a 429, and the limit may leave some of its room unused.
    let busy = count(&statuses, 503);
    assert!(judged <= 25, "{judged} judged: {statuses:?}");
    assert!(
        judged <= 30 - failed_here,
        "{failed_here} counted before: {statuses:?}"
    );
    if busy == 0 {
        assert_eq!(
            judged,
            30 - failed_here,
            "{failed_here} counted before: {statuses:?}"
        );
    }
    assert_eq!(judged + count(&statuses, 429) + busy, 40, "{statuses:?}");

    // Failed sign-ins are in the audit log with the name tried and the address.
    let (status, audit) = spec
        .call(
            &server,
            Method::GET,
            "/api/audit?limit=1000",
            Some(&root),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let failed: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sign_in_failed")
        .collect();
    let tried = |name: &str| {
        failed
            .iter()
            .any(|e| e["detail"]["username"] == name && e["address"] == "127.0.0.1")
    };
    assert!(tried("rl_victim"), "{failed:?}");
    assert!(tried(dotted), "{failed:?}");
    assert!(tried(kelvin), "{failed:?}");
    assert!(
        failed
            .iter()
            .any(|e| e["detail"]["reason"] == "too_many_attempts"),
        "refusals are audited too"
    );
    spec.assert_all_matched();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_current_password_cannot_be_guessed_through_an_open_session() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let root = api_token(&server, "root", PASSWORD).await;
    let school = school(&server, &root, "一中", "campus").await;
    let teacher = user(
        &server,
        &root,
        json!({"username": "wang", "password": PASSWORD, "school_id": school,
               "roles": [{"role": "teacher"}]}),
    )
    .await;
    let id = teacher["id"].as_str().unwrap();
    let spec = Spec::fetch(&server).await;
    let (cookie, csrf) = server.sign_in("wang", PASSWORD).await;
    let path = format!("/api/users/{id}");
    let change = async |current: String| {
        let response = server
            .client
            .patch(server.url(&path))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"password": "taken over 12345", "current_password": current}))
            .send()
            .await
            .unwrap();
        spec.checked("PATCH", &path, response).await
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(change(format!("guess {i}")).await.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    // Locked for the right one too, and for signing in.
    let response = change(PASSWORD.into()).await;
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "too_many_attempts");
    assert_eq!(sign_in(&server, &spec, "wang", PASSWORD).await, 429);
    let (_, audit) = spec
        .call(
            &server,
            Method::GET,
            "/api/audit?limit=100",
            Some(&root),
            None,
        )
        .await;
    let checks = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"] == "password_check_failed"
                && e["actor_name"] == "wang"
                && e["target_id"] == id
                && e["address"] == "127.0.0.1"
        })
        .count();
    assert_eq!(checks, 5, "{audit}");
    spec.assert_all_matched();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_sign_ins_neither_exhausts_memory_nor_stops_the_lessons() {
    let server = TestServer::start(ServerOptions {
        auth: true,
        // Every attempt must be hashed: no limit steps in before memory does.
        env: vec![("CLASSCAST_AUTH__MAX_FAILURES_PER_ADDRESS", "100000".into())],
        ..Default::default()
    })
    .await;
    server.create_admin("root", PASSWORD);
    let spec = Spec::fetch(&server).await;
    let root = api_token(&server, "root", PASSWORD).await;
    let (status, room) = spec
        .call(
            &server,
            Method::POST,
            "/api/classrooms",
            Some(&root),
            Some(json!({"name": "初一(1)班", "ladder_heights": []})),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let id = room["id"].as_str().unwrap().to_string();
    let (status, _) = spec
        .call(
            &server,
            Method::POST,
            &format!("/api/classrooms/{id}/sources"),
            Some(&root),
            Some(json!({"kind": "test"})),
        )
        .await;
    assert_eq!(status, 201);
    let deadline = Instant::now() + Duration::from_secs(30);
    let playlist = loop {
        let (_, playback) = spec
            .call(
                &server,
                Method::GET,
                &format!("/api/classrooms/{id}/playback"),
                Some(&root),
                None,
            )
            .await;
        let token = playback["token"].as_str().unwrap_or_default().to_string();
        let url = format!("/live/{id}/source/index.m3u8?token={token}");
        if server.get(&url).await.status() == 200 {
            break url;
        }
        assert!(Instant::now() < deadline, "the classroom did not go live");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let (before, peak_before) = memory_mib(&server);
    eprintln!("memory before: {before:.0} MiB, peak so far {peak_before:.0} MiB");
    let started = Instant::now();
    let flood = (0..60).map(|i| {
        let (server, spec) = (&server, &spec);
        async move { sign_in(server, spec, &format!("nobody{i}"), "wrong password!").await }
    });
    let watching = async {
        // A viewer keeps playing meanwhile: playlists and their newest segment.
        let mut fetches = Vec::new();
        while started.elapsed() < Duration::from_secs(3) {
            let t = Instant::now();
            let text = server.get(&playlist).await.text().await.unwrap();
            let segment = text
                .lines()
                .rfind(|l| l.contains(".m4s"))
                .unwrap()
                .to_string();
            let base = playlist.rsplit_once('/').unwrap().0;
            let status = server.get(&format!("{base}/{segment}")).await.status();
            fetches.push((status.as_u16(), t.elapsed()));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        fetches
    };
    let (statuses, fetches) = tokio::join!(join_all(flood), watching);
    let (after, peak) = memory_mib(&server);
    eprintln!("memory after: {after:.0} MiB, peak {peak:.0} MiB");
    // Judged (401) or told the server is busy (503): never more hashes at
    // once than there are slots, whatever arrives.
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    assert!(count(&statuses, 401) > 0, "{statuses:?}");
    assert!(
        peak - before < 300.0,
        "60 parallel sign-ins took the server from {before:.0} MiB to a peak of {peak:.0} MiB"
    );
    assert!(fetches.len() >= 5, "{fetches:?}");
    for (status, took) in &fetches {
        assert_eq!(*status, 200, "{fetches:?}");
        assert!(*took < Duration::from_secs(2), "HLS stalled: {fetches:?}");
    }
    spec.assert_all_matched();
}
