//! The micro-lesson library in the matrix. Every route, asked by every
//! person: the library's terms are read by everyone signed in and edited
//! by resource-center staff; knowledge points by the subject's 教研组
//! (reviewer_tg_main, given 数学 here); a lesson of the main school is
//! drafted by its teacher, decided at each level by that level's reviewer
//! only, curated by staff, and seen in the library by its own school.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use super::requests::{OnceChecks, SPEC, api_token, request};
use super::rules::{PASSWORD, PEOPLE};

/// Library staff: the resource center and the group's operators.
const STAFF: &[&str] = &["system_admin", "staff_main"];
/// The lesson's own people: its author and library staff.
const OWNERS: &[&str] = &["system_admin", "staff_main", "teacher_main"];
/// The main school's math 教研组, and library staff.
const MATH_GROUP: &[&str] = &["system_admin", "staff_main", "reviewer_tg_main"];
/// Who sees a published lesson of the main school's own (visibility `school`).
const MAIN_SCHOOL: &[&str] = &[
    "system_admin",
    "admin_main",
    "reviewer_main",
    "reviewer_tg_main",
    "staff_main",
    "teacher_main",
    "viewer_main",
    "device_main",
];

fn refused(allowed: &[&str]) -> Vec<&'static str> {
    PEOPLE
        .iter()
        .copied()
        .filter(|p| !allowed.contains(p))
        .collect()
}

fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {value}"))
        .to_string()
}

pub async fn check(once: &OnceChecks<'_>, main_school: &str) {
    let server = once.server;
    let root = once.tokens["system_admin"].as_deref();
    let get = |path: String| async move {
        let response = request(server, Method::GET, &path, root, None).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json::<Value>().await.unwrap()
    };
    let code_id = |list: &Value, code: &str| {
        id(list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["code"] == code)
            .unwrap())
    };
    let subjects = get("/api/library/subjects".into()).await;
    let math = code_id(&subjects, "math");
    let grade = code_id(&get("/api/library/grades".into()).await, "g5");

    // Terms: staff add and rename them.
    for (kind, body) in [
        ("subjects", json!({"code": "robotics", "name": "机器人"})),
        (
            "grades",
            json!({"code": "k3", "name": "幼儿园大班", "stage": "primary"}),
        ),
        ("editions", json!({"code": "local", "name": "校本教材"})),
    ] {
        let made = once
            .check(
                Method::POST,
                &format!("/api/library/{kind}"),
                &format!("/api/library/{kind}"),
                Some(&body),
                &refused(STAFF),
                "staff_main",
                201,
            )
            .await;
        once.check(
            Method::PATCH,
            &format!("/api/library/{kind}/{{id}}"),
            &format!("/api/library/{kind}/{}", id(&made)),
            Some(&json!({"name_en": "Renamed"})),
            &refused(STAFF),
            "system_admin",
            200,
        )
        .await;
    }

    // reviewer_tg_main joins the main school's math teaching-research group.
    let users = get("/api/users".into()).await;
    let tg = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "reviewer_tg_main")
        .unwrap();
    let grant = json!({"roles": [{"role": "reviewer", "review_level": "teaching_group", "subject_id": math}]});
    let response = request(
        server,
        Method::PATCH,
        &format!("/api/users/{}", id(tg)),
        root,
        Some(&grant),
    )
    .await;
    assert_eq!(response.status(), 200);

    // Knowledge points: the math group keeps math's tree.
    let point = once
        .check(
            Method::POST,
            "/api/library/knowledge-points",
            "/api/library/knowledge-points",
            Some(&json!({"subject_id": math, "grade_id": grade, "name": "分数"})),
            &refused(MATH_GROUP),
            "reviewer_tg_main",
            201,
        )
        .await;
    let point = id(&point);
    once.check(
        Method::PATCH,
        "/api/library/knowledge-points/{id}",
        &format!("/api/library/knowledge-points/{point}"),
        Some(&json!({"name": "分数的意义"})),
        &refused(MATH_GROUP),
        "reviewer_tg_main",
        200,
    )
    .await;
    let tree_path = format!("/api/library/knowledge-points?subject_id={math}&grade_id={grade}");
    once.check(
        Method::GET,
        "/api/library/knowledge-points",
        &tree_path,
        None,
        &["anonymous"],
        "viewer_partner",
        200,
    )
    .await;
    let import_path =
        format!("/api/library/knowledge-point-imports?subject_id={math}&grade_id={grade}");
    let import = |who: &'static str| {
        let path = import_path.clone();
        async move {
            let mut r = server
                .client
                .post(server.url(&path))
                .header("content-type", "text/csv")
                .body("分数的意义,分数的加减法\n数与代数,小数\n");
            if let Some(token) = once.tokens[who].as_deref() {
                r = r.bearer_auth(token);
            }
            let response = r.send().await.unwrap();
            SPEC.get().unwrap().checked("POST", &path, response).await
        }
    };
    for who in refused(MATH_GROUP) {
        let want = if who == "anonymous" { 401 } else { 403 };
        assert_eq!(import(who).await.status(), want, "CSV import as {who}");
    }
    let report: Value = import("reviewer_tg_main").await.json().await.unwrap();
    assert_eq!(
        (report["created"].clone(), report["existing"].clone()),
        (json!(3), json!(0)),
        "{report}"
    );
    once.checked
        .borrow_mut()
        .insert(("POST".into(), "/api/library/knowledge-point-imports".into()));
    let tree = get(tree_path.clone()).await;
    let leaf = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "数与代数")
        .unwrap()["children"][0]
        .clone();
    once.check(
        Method::DELETE,
        "/api/library/knowledge-points/{id}",
        &format!("/api/library/knowledge-points/{}", id(&leaf)),
        None,
        &refused(MATH_GROUP),
        "staff_main",
        204,
    )
    .await;

    // A lesson: its teacher drafts it for the main school.
    let lesson = once
        .check(
            Method::POST,
            "/api/library/lessons",
            "/api/library/lessons",
            Some(
                &json!({"title": "认识分数", "subject_id": math, "grade_id": grade,
                         "school_id": main_school, "knowledge_point_ids": [point]}),
            ),
            &refused(OWNERS),
            "teacher_main",
            201,
        )
        .await;
    let lesson = id(&lesson);
    let path = format!("/api/library/lessons/{lesson}");
    once.check(
        Method::GET,
        "/api/library/lessons/{id}",
        &path,
        None,
        &refused(OWNERS),
        "teacher_main",
        200,
    )
    .await;
    once.check(
        Method::PATCH,
        "/api/library/lessons/{id}",
        &path,
        Some(&json!({"chapter": "第二单元"})),
        &refused(OWNERS),
        "teacher_main",
        200,
    )
    .await;
    super::chapters::check_draft(once, &path, OWNERS).await;
    // Its video: set by its own people (an upload of theirs; this one is
    // no upload, so 422 once past the rules), played by whoever sees it
    // (nothing is made yet: 404 once past the rules).
    once.check(
        Method::PUT,
        "/api/library/lessons/{id}/media",
        &format!("{path}/media"),
        Some(&json!({"upload_id": "00000000-0000-4000-8000-000000000000"})),
        &refused(OWNERS),
        "teacher_main",
        422,
    )
    .await;
    once.check(
        Method::GET,
        "/api/library/lessons/{id}/hls/{file}",
        &format!("{path}/hls/master.m3u8"),
        None,
        &refused(OWNERS),
        "teacher_main",
        404,
    )
    .await;
    // Its attachments: added and removed by its own people while it is a
    // draft, listed and downloaded by whoever sees it (for now: them).
    let attachments = format!("{path}/attachments");
    let attach = |who: &'static str| {
        let url = format!("{attachments}?kind=task_sheet&name=任务单.pdf");
        async move {
            let mut r = server
                .client
                .post(server.url(&url))
                .header("content-type", "application/octet-stream")
                .body(&b"%PDF-1.4\n%%EOF\n"[..]);
            if let Some(token) = once.tokens[who].as_deref() {
                r = r.bearer_auth(token);
            }
            let response = r.send().await.unwrap();
            SPEC.get().unwrap().checked("POST", &url, response).await
        }
    };
    for who in refused(OWNERS) {
        let want = if who == "anonymous" { 401 } else { 403 };
        assert_eq!(attach(who).await.status(), want, "attaching as {who}");
    }
    let mut kept = Vec::new();
    for _ in 0..2 {
        let response = attach("teacher_main").await;
        assert_eq!(response.status(), 201);
        kept.push(id(&response.json::<Value>().await.unwrap()));
    }
    once.checked.borrow_mut().insert((
        "POST".into(),
        "/api/library/lessons/{id}/attachments".into(),
    ));
    once.check(
        Method::DELETE,
        "/api/library/lessons/{id}/attachments/{attachment}",
        &format!("{attachments}/{}", kept[1]),
        None,
        &refused(OWNERS),
        "teacher_main",
        204,
    )
    .await;
    let attachment = format!("{attachments}/{}", kept[0]);
    once.check(
        Method::GET,
        "/api/library/lessons/{id}/attachments",
        &attachments,
        None,
        &refused(OWNERS),
        "teacher_main",
        200,
    )
    .await;
    once.check(
        Method::GET,
        "/api/library/lessons/{id}/attachments/{attachment}",
        &attachment,
        None,
        &refused(OWNERS),
        "teacher_main",
        200,
    )
    .await;
    once.check(
        Method::POST,
        "/api/library/lessons/{id}/submit",
        &format!("{path}/submit"),
        Some(&json!({})),
        &refused(OWNERS),
        "teacher_main",
        200,
    )
    .await;
    let approve = format!("{path}/approve");
    once.check(
        Method::POST,
        "/api/library/lessons/{id}/approve",
        &approve,
        Some(&json!({})),
        &refused(&["reviewer_tg_main"]),
        "reviewer_tg_main",
        200,
    )
    .await;
    once.check(
        Method::POST,
        "/api/library/lessons/{id}/reject",
        &format!("{path}/reject"),
        Some(&json!({"comment": "请补充练习"})),
        &refused(&["reviewer_main"]),
        "reviewer_main",
        200,
    )
    .await;
    // Resubmitted and approved at every level; the resource center's
    // reviewer is group-wide and made here.
    let center_user = request(
        server,
        Method::POST,
        "/api/users",
        root,
        Some(&json!({"username": "center_other", "password": PASSWORD,
                     "school_id": users.as_array().unwrap().iter()
                         .find(|u| u["username"] == "viewer_other").unwrap()["school_id"],
                     "roles": [{"role": "reviewer", "review_level": "resource_center"}]})),
    )
    .await;
    assert_eq!(center_user.status(), 201);
    let center = api_token(server, "center_other").await;
    let step = |who: Option<String>, url: String| async move {
        let response = request(server, Method::POST, &url, who.as_deref(), Some(&json!({}))).await;
        assert_eq!(response.status(), 200, "{url}");
    };
    step(
        once.tokens["teacher_main"].clone(),
        format!("{path}/submit"),
    )
    .await;
    step(once.tokens["reviewer_tg_main"].clone(), approve.clone()).await;
    step(once.tokens["reviewer_main"].clone(), approve.clone()).await;
    step(Some(center), approve.clone()).await;
    once.check(
        Method::PUT,
        "/api/library/lessons/{id}/featured",
        &format!("{path}/featured"),
        Some(&json!({"featured": true})),
        &refused(STAFF),
        "staff_main",
        200,
    )
    .await;

    // Published for its own school: the library lists it to them alone.
    for person in PEOPLE.iter().filter(|p| **p != "anonymous") {
        let page: Value = request(
            server,
            Method::GET,
            "/api/library/lessons",
            once.tokens[person].as_deref(),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        let ids: BTreeSet<String> = page["items"].as_array().unwrap().iter().map(id).collect();
        let want: BTreeSet<String> = if MAIN_SCHOOL.contains(person) {
            BTreeSet::from([lesson.clone()])
        } else {
            BTreeSet::new()
        };
        assert_eq!(ids, want, "the library as {person}");
        let status = once.status(person, Method::GET, &path, None).await;
        let expected = if MAIN_SCHOOL.contains(person) {
            200
        } else {
            403
        };
        assert_eq!(status, expected, "the published lesson as {person}");
        super::chapters::check_audience(once, &path, person, expected).await;
        // Its attachments reach exactly those who see it.
        for url in [&attachments, &attachment] {
            let status = once.status(person, Method::GET, url, None).await;
            assert_eq!(
                status, expected,
                "{url} of the published lesson as {person}"
            );
        }
    }
    // Watching it is counted by whoever may see it; the counts are staff's.
    once.check(
        Method::POST,
        "/api/library/lessons/{id}/views",
        &format!("{path}/views"),
        Some(&json!({"seconds": 0})),
        &refused(MAIN_SCHOOL),
        "viewer_main",
        204,
    )
    .await;
    once.check(
        Method::GET,
        "/api/library/stats",
        "/api/library/stats?by=school",
        None,
        &refused(STAFF),
        "staff_main",
        200,
    )
    .await;
    once.check(
        Method::POST,
        "/api/library/lessons/{id}/unpublish",
        &format!("{path}/unpublish"),
        Some(&json!({"comment": "下架"})),
        &refused(STAFF),
        "system_admin",
        200,
    )
    .await;
}
