//! Jobs in the matrix: a job is seen by whoever asked for it and by system
//! admins; the list holds one's own jobs (all of them for system admins);
//! only system admins enqueue by hand, and only files inside the media
//! directory.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use super::requests::{OnceChecks, request};
use super::rules::PEOPLE;

pub async fn check(once: &OnceChecks<'_>) {
    let server = once.server;
    // Keys name objects of the (local) media store.
    let uploads = server.media.path().join("objects/uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join("notes.txt"), "not a video").unwrap();
    let body = json!({"kind": "vod_ladder",
        "payload": {"input": "uploads/notes.txt", "output_dir": "lessons/matrix"}});
    let job = once
        .check(
            Method::POST,
            "/api/jobs",
            "/api/jobs",
            Some(&body),
            &["admin_main", "staff_main", "teacher_main", "anonymous"],
            "system_admin",
            201,
        )
        .await;
    let id = job["id"].as_str().unwrap().to_string();
    // Even a system admin names nothing outside the media directory.
    for input in ["../server.log", "/etc/passwd", "recordings/../../x"] {
        let escape = json!({"kind": "vod_ladder",
            "payload": {"input": input, "output_dir": "lessons/x"}});
        let status = once
            .status("system_admin", Method::POST, "/api/jobs", Some(&escape))
            .await;
        assert_eq!(status, 422, "input {input}");
    }
    let path = format!("/api/jobs/{id}");
    for person in PEOPLE {
        let status = once.status(person, Method::GET, &path, None).await;
        let expected = match *person {
            "system_admin" => 200,
            "anonymous" => 401,
            _ => 403,
        };
        assert_eq!(status, expected, "GET /api/jobs/{{id}} as {person}");
    }
    for person in PEOPLE {
        let response = request(
            server,
            Method::GET,
            "/api/jobs",
            once.tokens[person].as_deref(),
            None,
        )
        .await;
        if *person == "anonymous" {
            assert_eq!(response.status(), 401);
            continue;
        }
        assert_eq!(response.status(), 200, "GET /api/jobs as {person}");
        let listed: BTreeSet<String> = response
            .json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect();
        let expected: BTreeSet<String> = if *person == "system_admin" {
            BTreeSet::from([id.clone()])
        } else {
            BTreeSet::new()
        };
        assert_eq!(listed, expected, "jobs listed to {person}");
    }
    let mut checked = once.checked.borrow_mut();
    checked.insert(("GET".into(), "/api/jobs".into()));
    checked.insert(("GET".into(), "/api/jobs/{id}".into()));
}
