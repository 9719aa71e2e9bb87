//! Interactive sessions in the matrix: the main classroom (main school) with
//! a remote classroom at the partner school. Its teachers and admins run it;
//! everyone at both schools sees it; only the remote classroom's own school
//! sends its picture; the unrelated school gets 404 as if it did not exist.

use reqwest::Method;
use serde_json::{Value, json};

use super::requests::{OnceChecks, request};
use super::rules::{Fixture, PEOPLE};

const OFFER: &str = include_str!("../fixtures/whep-offer.sdp");

/// Who may schedule, start, end and steer it.
const RUN: &[&str] = &["system_admin", "admin_main", "teacher_main"];
/// Who sees it: both schools (a classroom device too: it takes part).
const SEE_SESSION: &[&str] = &[
    "system_admin",
    "admin_main",
    "reviewer_main",
    "reviewer_tg_main",
    "staff_main",
    "teacher_main",
    "viewer_main",
    "device_main",
    "viewer_partner",
    "device_partner",
];

fn expected(person: &str, allowed: &[&str], ok: u16) -> u16 {
    if allowed.contains(&person) {
        ok
    } else if person == "anonymous" {
        401
    } else if SEE_SESSION.contains(&person) {
        403
    } else {
        404
    }
}

pub async fn check(once: &OnceChecks<'_>, fixture: &Fixture) {
    let server = once.server;
    let root = once.tokens["system_admin"].as_deref();
    let schools: Value = request(server, Method::GET, "/api/schools", root, None)
        .await
        .json()
        .await
        .unwrap();
    let partner = schools
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "山区小学")
        .unwrap()["id"]
        .clone();
    let remote: Value = request(
        server,
        Method::POST,
        "/api/classrooms",
        root,
        Some(&json!({"name": "山区小学 三年级", "school_id": partner, "recording_enabled": false})),
    )
    .await
    .json()
    .await
    .unwrap();
    let remote = remote["id"].as_str().unwrap().to_string();
    // The partner school invites the main school: only then may the main
    // school's teachers link its classroom into their sessions.
    let invited = request(
        server,
        Method::PUT,
        &format!("/api/classrooms/{remote}/audiences"),
        root,
        Some(&json!([fixture.main_school])),
    )
    .await;
    assert_eq!(invited.status(), 200);
    let now = chrono::Utc::now();
    let body = json!({
        "title": "专递课堂：三年级数学",
        "main_classroom_id": fixture.classroom,
        "remote_classroom_ids": [remote],
        "scheduled_start": now.to_rfc3339(),
        "scheduled_end": (now + chrono::Duration::minutes(45)).to_rfc3339(),
    });
    // Scheduling: those who run the main classroom; the others cannot see
    // its sessions yet, so everyone else is refused (403, 401).
    let mut session = None;
    for person in PEOPLE {
        let status = once
            .status(person, Method::POST, "/api/interactive", Some(&body))
            .await;
        let want = match *person {
            p if RUN.contains(&p) => 201,
            "anonymous" => 401,
            _ => 403,
        };
        assert_eq!(status, want, "POST /api/interactive as {person}");
        if status == 201 && session.is_none() {
            let list: Value = request(
                server,
                Method::GET,
                "/api/interactive",
                once.tokens[person].as_deref(),
                None,
            )
            .await
            .json()
            .await
            .unwrap();
            session = Some(list[0]["id"].as_str().unwrap().to_string());
        }
    }
    record(once, "POST", "/api/interactive");
    let id = session.unwrap();
    let path = format!("/api/interactive/{id}");

    for person in PEOPLE {
        let status = once.status(person, Method::GET, &path, None).await;
        assert_eq!(
            status,
            expected(person, SEE_SESSION, 200),
            "GET {path} as {person}"
        );
        let status = once
            .status(person, Method::GET, "/api/interactive", None)
            .await;
        if *person == "anonymous" {
            assert_eq!(status, 401);
            continue;
        }
        let list: Value = request(
            server,
            Method::GET,
            "/api/interactive",
            once.tokens[person].as_deref(),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        let listed = list
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == id.as_str());
        assert_eq!(
            listed,
            SEE_SESSION.contains(person),
            "GET /api/interactive as {person}"
        );
    }
    record(once, "GET", "/api/interactive/{id}");
    record(once, "GET", "/api/interactive");

    let steer = json!({"speaking_classroom_id": null});
    let mute = json!({"muted": false});
    let mute_path = format!("{path}/classrooms/{remote}");
    for person in PEOPLE {
        let status = once
            .status(person, Method::PATCH, &path, Some(&steer))
            .await;
        assert_eq!(
            status,
            expected(person, RUN, 200),
            "PATCH {path} as {person}"
        );
        let status = once
            .status(person, Method::PATCH, &mute_path, Some(&mute))
            .await;
        assert_eq!(
            status,
            expected(person, RUN, 200),
            "PATCH {mute_path} as {person}"
        );
    }
    record(once, "PATCH", "/api/interactive/{id}");
    record(
        once,
        "PATCH",
        "/api/interactive/{id}/classrooms/{participant}",
    );

    // Starting: refused to all but those who run it; the first of them
    // starts it, the next is told it is live already.
    let start = format!("{path}/start");
    for person in PEOPLE.iter().filter(|p| !RUN.contains(p)) {
        let status = once.status(person, Method::POST, &start, None).await;
        assert_eq!(
            status,
            expected(person, RUN, 200),
            "POST {start} as {person}"
        );
    }
    assert_eq!(
        once.status("teacher_main", Method::POST, &start, None)
            .await,
        200
    );
    assert_eq!(
        once.status("admin_main", Method::POST, &start, None).await,
        409
    );
    record(once, "POST", "/api/interactive/{id}/start");

    // Sending the remote classroom's picture: its own school's device (and
    // the group's admins); seeing the session is not enough.
    let whip = format!("{path}/classrooms/{remote}/whip");
    let send_for = ["system_admin", "device_partner"];
    for person in PEOPLE {
        let mut post = server
            .client
            .post(server.url(&whip))
            .header("content-type", "application/sdp")
            .body(OFFER);
        if let Some(token) = once.tokens[person].as_deref() {
            post = post.bearer_auth(token);
        }
        let response = post.send().await.unwrap();
        let status = response.status().as_u16();
        if *person == "device_partner" {
            assert_eq!(status, 201, "POST {whip} as {person}");
            let location = response.headers()["location"].to_str().unwrap().to_string();
            assert!(location.starts_with("/whip/sessions/"), "{location}");
            let end = server
                .client
                .delete(server.url(&location))
                .send()
                .await
                .unwrap();
            assert_eq!(end.status(), 200);
        } else if *person == "system_admin" {
            // Allowed; the feed just ended may still be closing (busy).
            assert!(
                matches!(status, 201 | 409),
                "POST {whip} as {person}: {status}"
            );
        } else {
            assert_eq!(
                status,
                expected(person, &send_for, 201),
                "POST {whip} as {person}"
            );
        }
    }
    // An offer is a few kilobytes: 40 KiB is refused as on /whip, by size.
    let huge = format!("{OFFER}{}", "a=x-padding:0123456789abcdef\r\n".repeat(1400));
    let response = server
        .client
        .post(server.url(&whip))
        .bearer_auth(once.tokens["device_partner"].as_deref().unwrap())
        .header("content-type", "application/sdp")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413, "a 40 KiB offer");
    // The WHIP source the device's first join made is the school's to turn
    // off, and off it stays: no second one is made behind the admin's back.
    let sources: Value = request(
        server,
        Method::GET,
        &format!("/api/classrooms/{remote}/sources"),
        root,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let whip_sources: Vec<&Value> = sources
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "whip")
        .collect();
    assert_eq!(whip_sources.len(), 1, "one source for the joins: {sources}");
    let off = request(
        server,
        Method::PATCH,
        &format!(
            "/api/classrooms/{remote}/sources/{}",
            whip_sources[0]["id"].as_str().unwrap()
        ),
        root,
        Some(&json!({"enabled": false})),
    )
    .await;
    assert_eq!(off.status(), 200);
    let refused = server
        .client
        .post(server.url(&whip))
        .bearer_auth(once.tokens["device_partner"].as_deref().unwrap())
        .header("content-type", "application/sdp")
        .body(OFFER)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "whip_source_disabled");
    record(
        once,
        "POST",
        "/api/interactive/{id}/classrooms/{participant}/whip",
    );

    let end = format!("{path}/end");
    for person in PEOPLE.iter().filter(|p| !RUN.contains(p)) {
        let status = once.status(person, Method::POST, &end, None).await;
        assert_eq!(status, expected(person, RUN, 200), "POST {end} as {person}");
    }
    assert_eq!(
        once.status("admin_main", Method::POST, &end, None).await,
        200
    );
    assert_eq!(
        once.status("teacher_main", Method::POST, &end, None).await,
        409
    );
    record(once, "POST", "/api/interactive/{id}/end");

    for person in PEOPLE.iter().filter(|p| !RUN.contains(p)) {
        let status = once.status(person, Method::DELETE, &path, None).await;
        assert_eq!(
            status,
            expected(person, RUN, 204),
            "DELETE {path} as {person}"
        );
    }
    assert_eq!(
        once.status("teacher_main", Method::DELETE, &path, None)
            .await,
        204
    );
    assert_eq!(
        once.status("admin_main", Method::GET, &path, None).await,
        404
    );
    record(once, "DELETE", "/api/interactive/{id}");
}

fn record(once: &OnceChecks<'_>, method: &str, template: &str) {
    once.checked
        .borrow_mut()
        .insert((method.to_string(), template.to_string()));
}
