//! A lesson is found by the names of its knowledge points, and listed on
//! their pages: when the 教研组 renames one, searches find its lessons by
//! the new name and no longer by the old. And after an upgrade that changed the segmenter or
//! its vocabulary, `classcast reindex-library` rewrites every lesson's
//! search words (here: after they were wiped), beside a running server.

mod common;

use std::process::Command;

use common::library::{Group, ids, reviewer, teacher, teaching_group};
use reqwest::Method;
use serde_json::json;

fn q(text: &str) -> String {
    let encoded: String = text
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();
    format!("/api/library/lessons?q={encoded}")
}

#[tokio::test(flavor = "multi_thread")]
async fn search_follows_renamed_points_and_a_full_reindex() {
    let g = Group::start().await;
    let math = g.term("subjects", "math").await;
    let grade = g.term("grades", "g3").await;
    let author = g.person("wang_laoshi", &g.main, teacher()).await;
    let group = g
        .person("group", &g.main, teaching_group(&[math.as_str()]))
        .await;
    let school = g.person("school_rev", &g.main, reviewer("school")).await;
    let center = g
        .person("center_rev", &g.main, reviewer("resource_center"))
        .await;

    let (status, point) = g
        .call(
            &group,
            Method::POST,
            "/api/library/knowledge-points",
            Some(json!({"subject_id": math, "grade_id": grade, "name": "鸡兔同笼"})),
        )
        .await;
    assert_eq!(status, 201, "{point}");
    let point_id = point["id"].as_str().unwrap().to_string();
    // The title and description say nothing of the point's words.
    let lesson = g
        .draft(
            &author,
            json!({"title": "数学广角", "description": "用列表法解决问题。",
                   "subject_id": math, "grade_id": grade,
                   "knowledge_point_ids": [point_id], "visibility": "group"}),
        )
        .await;
    g.publish(&author, [&group, &school, &center], &lesson)
        .await;
    let found = |query: &'static str| {
        let g = &g;
        async move {
            let (status, page) = g.call(&g.root, Method::GET, &q(query), None).await;
            assert_eq!(status, 200, "{query}: {page}");
            ids(&page)
        }
    };
    assert_eq!(found("鸡兔同笼").await, vec![lesson.clone()]);
    // The point's page lists it; a point with no lessons lists none.
    let listed = |point: String| {
        let g = &g;
        async move {
            let path = format!("/api/library/lessons?knowledge_point_id={point}");
            let (status, page) = g.call(&g.root, Method::GET, &path, None).await;
            assert_eq!(status, 200, "{page}");
            ids(&page)
        }
    };
    assert_eq!(listed(point_id.clone()).await, vec![lesson.clone()]);
    let (_, empty) = g
        .call(
            &group,
            Method::POST,
            "/api/library/knowledge-points",
            Some(json!({"subject_id": math, "grade_id": grade, "name": "年月日"})),
        )
        .await;
    assert!(
        listed(empty["id"].as_str().unwrap().to_string())
            .await
            .is_empty()
    );

    let (status, renamed) = g
        .call(
            &group,
            Method::PATCH,
            &format!("/api/library/knowledge-points/{point_id}"),
            Some(json!({"name": "植树问题"})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(found("植树问题").await, vec![lesson.clone()]);
    assert!(
        found("鸡兔同笼").await.is_empty(),
        "the old name still finds it"
    );

    // As if an upgrade's new vocabulary left every lesson's words stale.
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&g.server.database_url)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE micro_lessons SET search = ''::tsvector, search_title = ''::tsvector, search_text = ''",
    )
        .execute(&db)
        .await
        .unwrap();
    assert!(found("植树问题").await.is_empty());
    let output = Command::new(env!("CARGO_BIN_EXE_classcast"))
        .arg("reindex-library")
        .env("DATABASE_URL", &g.server.database_url)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("search words rewritten for 1 micro-lessons"),
        "{said}"
    );
    assert_eq!(found("植树问题").await, vec![lesson.clone()]);
    assert_eq!(found("数学广角").await, vec![lesson]);
}
