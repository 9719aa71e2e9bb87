//! Deleting a micro-lesson in the matrix: a draft of the main school's
//! teacher is deleted by its own people (its author, library staff) and
//! refused to everyone else, whoever else may see it; once sent for
//! review it is no longer its author's to delete (409, not 403), and
//! still library staff's.

use reqwest::Method;
use serde_json::{Value, json};

use super::requests::{OnceChecks, request};
use super::rules::PEOPLE;

/// The lesson's own people: its author and library staff.
const OWNERS: &[&str] = &["system_admin", "staff_main", "teacher_main"];

fn refused(allowed: &[&str]) -> Vec<&'static str> {
    PEOPLE
        .iter()
        .copied()
        .filter(|p| !allowed.contains(p))
        .collect()
}

pub async fn check(once: &OnceChecks<'_>, main_school: &str) {
    let server = once.server;
    let as_who = |who: &str, method: Method, path: String, body: Option<Value>| {
        let token = once.tokens[who].clone();
        async move {
            let response = request(server, method, &path, token.as_deref(), body.as_ref()).await;
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (_, subjects) = as_who(
        "system_admin",
        Method::GET,
        "/api/library/subjects".into(),
        None,
    )
    .await;
    let (_, grades) = as_who(
        "system_admin",
        Method::GET,
        "/api/library/grades".into(),
        None,
    )
    .await;
    let body = json!({"title": "将被删除的微课", "subject_id": subjects[0]["id"],
                      "grade_id": grades[0]["id"], "school_id": main_school});
    let draft = || async {
        let (status, lesson) = as_who(
            "teacher_main",
            Method::POST,
            "/api/library/lessons".into(),
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 201, "{lesson}");
        format!("/api/library/lessons/{}", lesson["id"].as_str().unwrap())
    };

    let path = draft().await;
    once.check(
        Method::DELETE,
        "/api/library/lessons/{id}",
        &path,
        None,
        &refused(OWNERS),
        "teacher_main",
        204,
    )
    .await;
    assert_eq!(
        once.status("teacher_main", Method::GET, &path, None).await,
        404
    );

    // In review: the author is told why not; staff still delete it.
    let path = draft().await;
    let (status, _) = as_who(
        "teacher_main",
        Method::POST,
        format!("{path}/submit"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, refusal) = as_who("teacher_main", Method::DELETE, path.clone(), None).await;
    assert_eq!(
        (status, refusal["error"]["code"].clone()),
        (409, json!("lesson_not_deletable"))
    );
    for who in refused(OWNERS) {
        let want = if who == "anonymous" { 401 } else { 403 };
        assert_eq!(
            once.status(who, Method::DELETE, &path, None).await,
            want,
            "deleting a lesson in review as {who}"
        );
    }
    assert_eq!(
        once.status("staff_main", Method::DELETE, &path, None).await,
        204
    );
}
