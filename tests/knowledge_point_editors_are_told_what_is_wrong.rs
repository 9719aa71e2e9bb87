//! The knowledge-point tree as its browser and its editors need it: each
//! point counts the published lessons the caller would find under it (not
//! drafts, not lessons the caller may not see); a CSV import with bad
//! rows names each bad row by its line and makes nothing; a delete that
//! cannot be done says whether children or lessons stand in the way.

mod common;

use reqwest::Method;
use serde_json::{Value, json};

use common::library::{Group, reviewer, teacher, teaching_group};

/// The node named `name` anywhere in a tree.
fn node<'a>(tree: &'a Value, name: &str) -> &'a Value {
    fn find<'a>(nodes: &'a Value, name: &str) -> Option<&'a Value> {
        nodes.as_array()?.iter().find_map(|n| {
            if n["name"] == name {
                Some(n)
            } else {
                find(&n["children"], name)
            }
        })
    }
    find(tree, name).unwrap_or_else(|| panic!("no point {name} in {tree}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn knowledge_point_editors_are_told_what_is_wrong() {
    let g = Group::start().await;
    let math = g.term("subjects", "math").await;
    let grade = g.term("grades", "g5").await;
    let tg = g
        .person("tg", &g.main, teaching_group(&[math.as_str()]))
        .await;
    let tree_path = format!("/api/library/knowledge-points?subject_id={math}&grade_id={grade}");
    let import_path =
        format!("/api/library/knowledge-point-imports?subject_id={math}&grade_id={grade}");
    let import = |csv: &'static str| {
        let (g, path, tg) = (&g, import_path.clone(), tg.clone());
        async move {
            let response = g
                .server
                .client
                .post(g.server.url(&path))
                .bearer_auth(tg)
                .header("content-type", "text/csv")
                .header("accept-language", "zh-CN")
                .body(csv)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    // Line 3 has a gap inside its path; line 5's quoted comma is fine:
    // only line 3 is named, and nothing is made.
    let (status, body) = import(
        "数与代数,分数\n# 注释\n数与代数,,小数\n数与代数,分数,分数的加减法\n图形与几何,\"三角形,四边形\"\n",
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let fields = body["error"]["fields"].as_object().unwrap();
    assert_eq!(fields.keys().collect::<Vec<_>>(), ["csv:3"], "{body}");
    assert!(
        fields["csv:3"].as_str().unwrap().contains("知识点名称"),
        "{body}"
    );
    let (_, tree) = g.call(&tg, Method::GET, &tree_path, None).await;
    assert_eq!(tree, json!([]), "a refused import makes nothing");

    let (status, report) = import("数与代数,分数\n数与代数,分数,分数的加减法\n").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 3, "{report}");
    let (_, tree) = g.call(&tg, Method::GET, &tree_path, None).await;
    let point = node(&tree, "分数的加减法")["id"].clone();

    // One lesson published for the school only, one left a draft.
    let author = g.person("wang", &g.main, teacher()).await;
    let lesson = |title: &str| {
        json!({"title": title, "subject_id": math, "grade_id": grade,
               "knowledge_point_ids": [point], "visibility": "school"})
    };
    let published = g.draft(&author, lesson("分数的加减法（一）")).await;
    g.draft(&author, lesson("分数的加减法（草稿）")).await;
    let school = g.person("sr", &g.main, reviewer("school")).await;
    let center = g.person("cr", &g.main, reviewer("resource_center")).await;
    g.publish(&author, [&tg, &school, &center], &published)
        .await;

    let count = |who: String| {
        let (g, path) = (&g, tree_path.clone());
        async move {
            let (status, tree) = g.call(&who, Method::GET, &path, None).await;
            assert_eq!(status, 200, "{tree}");
            (
                node(&tree, "分数的加减法")["lesson_count"]
                    .as_i64()
                    .unwrap(),
                node(&tree, "分数")["lesson_count"].as_i64().unwrap(),
            )
        }
    };
    let inside = g
        .person("alice", &g.main, json!([{"role": "viewer"}]))
        .await;
    let outside = g
        .person("carol", &g.partner, json!([{"role": "viewer"}]))
        .await;
    assert_eq!(
        count(inside).await,
        (1, 0),
        "the published lesson, on its own point only"
    );
    assert_eq!(
        count(outside).await,
        (0, 0),
        "a school-only lesson is not counted for a partner school"
    );

    // Deletes that cannot be done say why.
    let delete = |id: &Value| {
        let (g, tg) = (&g, tg.clone());
        let path = format!("/api/library/knowledge-points/{}", id.as_str().unwrap());
        async move { g.call(&tg, Method::DELETE, &path, None).await }
    };
    let (status, body) = delete(&node(&tree, "分数")["id"]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("knowledge_point_has_children")),
        "{body}"
    );
    let (status, body) = delete(&point).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("knowledge_point_has_lessons")),
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("微课"),
        "{body}"
    );
}
