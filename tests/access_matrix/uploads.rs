//! Uploads in the matrix: teachers, resource staff and admins may start
//! one; viewers, reviewers and classroom devices may not; an upload is its
//! uploader's alone (HEAD, PATCH, DELETE, info), whoever else asks. tus
//! requests carry `Tus-Resumable`, so they are made here, not by the
//! matrix's JSON requests.

use reqwest::Method;

use super::requests::{OnceChecks, SPEC};
use super::rules::{Fixture, PEOPLE};

/// Who may start an upload.
pub const UPLOADERS: &[&str] = &[
    "system_admin",
    "admin_main",
    "staff_main",
    "teacher_main",
    "admin_other",
];

async fn tus(
    once: &OnceChecks<'_>,
    who: &str,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> reqwest::Response {
    let server = once.server;
    let mut request = server
        .client
        .request(method.clone(), server.url(path))
        .header("tus-resumable", "1.0.0");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(token) = once.tokens[who].as_deref() {
        request = request.bearer_auth(token);
    }
    let response = request.body(body).send().await.unwrap();
    SPEC.get()
        .unwrap()
        .checked(method.as_str(), path, response)
        .await
}

fn refused(who: &str) -> u16 {
    if who == "anonymous" { 401 } else { 403 }
}

pub async fn check(once: &OnceChecks<'_>, fixture: &Fixture) {
    let length = [("upload-length", "10".to_string())];
    for person in PEOPLE {
        let status = tus(
            once,
            person,
            Method::POST,
            "/api/uploads",
            &length,
            Vec::new(),
        )
        .await
        .status()
        .as_u16();
        let expected = if UPLOADERS.contains(person) {
            201
        } else {
            refused(person)
        };
        assert_eq!(status, expected, "POST /api/uploads as {person}");
    }
    let path = format!("/api/uploads/{}", fixture.upload);
    let chunk = [
        ("upload-offset", "0".to_string()),
        (
            "content-type",
            "application/offset+octet-stream".to_string(),
        ),
    ];
    for person in PEOPLE.iter().filter(|p| **p != "teacher_main") {
        for method in [Method::HEAD, Method::PATCH, Method::DELETE] {
            let status = tus(once, person, method.clone(), &path, &chunk, b"abc".to_vec())
                .await
                .status()
                .as_u16();
            assert_eq!(status, refused(person), "{method} {path} as {person}");
        }
    }
    let owner = "teacher_main";
    let head = tus(once, owner, Method::HEAD, &path, &[], Vec::new()).await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["upload-offset"], "0");
    let patch = tus(once, owner, Method::PATCH, &path, &chunk, b"abc".to_vec()).await;
    assert_eq!(patch.status(), 204);
    assert_eq!(patch.headers()["upload-offset"], "3");
    let delete = tus(once, owner, Method::DELETE, &path, &[], Vec::new()).await;
    assert_eq!(delete.status(), 204);
    let mut checked = once.checked.borrow_mut();
    for (method, template) in [
        ("POST", "/api/uploads"),
        ("HEAD", "/api/uploads/{id}"),
        ("PATCH", "/api/uploads/{id}"),
        ("DELETE", "/api/uploads/{id}"),
    ] {
        checked.insert((method.to_string(), template.to_string()));
    }
}
