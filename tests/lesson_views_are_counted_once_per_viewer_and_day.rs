//! A micro-lesson's views and watch time, from the player's heartbeats:
//! one view per viewer and day however often they reload, watch time no
//! faster than the clock, statistics per lesson, per viewer's school and
//! per knowledge point for library staff, as JSON and as a CSV that opens
//! in a spreadsheet with its Chinese names; nobody else reads them, and
//! nobody counts on a lesson they may not see.

mod common;

use reqwest::Method;
use serde_json::{Value, json};

use common::library::{Group, reviewer, teacher, teaching_group};

async fn beat(g: &Group, who: &str, lesson: &str, seconds: u32) -> (u16, Value) {
    g.call(
        who,
        Method::POST,
        &format!("/api/library/lessons/{lesson}/views"),
        Some(json!({ "seconds": seconds })),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn lesson_views_are_counted_once_per_viewer_and_day() {
    let g = Group::start().await;
    let math = g.term("subjects", "math").await;
    let grade = g.term("grades", "g5").await;
    let (status, point) = g
        .call(
            &g.root,
            Method::POST,
            "/api/library/knowledge-points",
            Some(json!({"subject_id": math, "grade_id": grade, "name": "分数的加减法"})),
        )
        .await;
    assert_eq!(status, 201, "{point}");
    let author = g.person("wang", &g.main, teacher()).await;
    let lesson = g
        .draft(
            &author,
            json!({"title": "认识分数", "subject_id": math, "grade_id": grade,
                   "knowledge_point_ids": [point["id"]], "visibility": "school"}),
        )
        .await;
    let tg = g.person("tg", &g.main, teaching_group(&[&math])).await;
    let school = g.person("sr", &g.main, reviewer("school")).await;
    let center = g.person("cr", &g.main, reviewer("resource_center")).await;
    g.publish(&author, [&tg, &school, &center], &lesson).await;
    let viewer = |name: &'static str, school: String| {
        let g = &g;
        async move { g.person(name, &school, json!([{"role": "viewer"}])).await }
    };
    let alice = viewer("alice", g.main.clone()).await;
    let bob = viewer("bob", g.main.clone()).await;
    let outsider = viewer("carol", g.partner.clone()).await;

    // Alice reloads and plays: three heartbeats in a moment, one view, and
    // the 90 s she claims are credited only as fast as the clock ran.
    for seconds in [0, 30, 60] {
        let (status, body) = beat(&g, &alice, &lesson, seconds).await;
        assert_eq!(status, 204, "{body}");
    }
    assert_eq!(beat(&g, &bob, &lesson, 0).await.0, 204);
    // The partner school's viewer cannot see this lesson, so cannot count.
    assert_eq!(beat(&g, &outsider, &lesson, 30).await.0, 403);
    let (status, body) = g
        .call(
            &alice,
            Method::POST,
            &format!("/api/library/lessons/{lesson}/views"),
            Some(json!({"seconds": -1})),
        )
        .await;
    assert!(status == 400 || status == 422, "{status} {body}");

    let (_, shown) = g
        .call(
            &alice,
            Method::GET,
            &format!("/api/library/lessons/{lesson}"),
            None,
        )
        .await;
    assert_eq!(shown["view_count"], 2, "{shown}");

    let stats = |by: &'static str| {
        let g = &g;
        async move {
            let (status, rows) = g
                .call(
                    &g.root,
                    Method::GET,
                    &format!("/api/library/stats?by={by}"),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{rows}");
            rows
        }
    };
    let rows = stats("lesson").await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(
        (&rows[0]["name"], &rows[0]["views"], &rows[0]["viewers"]),
        (&json!("认识分数"), &json!(2), &json!(2))
    );
    let watched = rows[0]["watch_seconds"].as_i64().unwrap();
    assert!(
        watched <= 15,
        "90 s claimed within a moment credited as {watched} s"
    );
    let rows = stats("school").await;
    assert_eq!(
        (&rows[0]["name"], &rows[0]["views"]),
        (&json!("实验小学"), &json!(2)),
        "{rows}"
    );
    let rows = stats("knowledge_point").await;
    assert_eq!(
        (&rows[0]["name"], &rows[0]["viewers"]),
        (&json!("分数的加减法"), &json!(2)),
        "{rows}"
    );

    // CSV for a spreadsheet: a byte-order mark, headers in the caller's language.
    let response = g
        .server
        .client
        .get(g.server.url("/api/library/stats?by=lesson&format=csv"))
        .bearer_auth(&g.root)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("\u{feff}\"微课\",\"观看次数（人·天）\""),
        "{text}"
    );
    assert!(
        text.contains(&format!("\"认识分数\",2,2,{watched}\r\n")),
        "{text}"
    );

    // Nobody but library staff reads the statistics; a bad range is said so.
    for who in [&author, &alice, &tg] {
        assert_eq!(
            g.call(who, Method::GET, "/api/library/stats", None).await.0,
            403
        );
    }
    let (status, body) = g
        .call(
            &g.root,
            Method::GET,
            "/api/library/stats?from=2026-12-01&to=2025-01-01",
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["fields"]["from"].is_string(), "{body}");
}
