//! A micro-lesson goes draft → 教研组 → 学校 → 资源中心 → published, each
//! level decided only by its own reviewers (of the lesson's school, and
//! for 教研组 of its subject); a rejection at the school level returns it
//! to the author with the comment kept, and the revised lesson climbs
//! again. Every step stays in the lesson's history.

mod common;

use common::library::{Group, reviewer, teacher, teaching_group};
use reqwest::Method;
use serde_json::{Value, json};

fn decisions(lesson: &Value) -> Vec<(String, String)> {
    lesson["review_steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["decision"].as_str().unwrap().to_string(),
                s["level"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

async fn queue(group: &Group, bearer: &str) -> (Value, Vec<String>) {
    let (status, q) = group
        .call(bearer, Method::GET, "/api/library/queue", None)
        .await;
    assert_eq!(status, 200, "{q}");
    let ids = q["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    (q["counts"].clone(), ids)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lesson_rejected_by_its_school_is_revised_and_published() {
    let g = Group::start().await;
    let math = g.term("subjects", "math").await;
    let chinese = g.term("subjects", "chinese").await;
    let grade = g.term("grades", "g5").await;
    let author = g.person("wang_laoshi", &g.main, teacher()).await;
    let math_group = g
        .person("math_group", &g.main, teaching_group(&[&math]))
        .await;
    let chinese_group = g
        .person("chinese_group", &g.main, teaching_group(&[&chinese]))
        .await;
    let math_group_elsewhere = g
        .person("math_group_east", &g.sister, teaching_group(&[&math]))
        .await;
    let school = g.person("school_rev", &g.main, reviewer("school")).await;
    let school_elsewhere = g
        .person("school_rev_east", &g.sister, reviewer("school"))
        .await;
    let center = g
        .person("center_rev", &g.sister, reviewer("resource_center"))
        .await;

    let id = g
        .draft(
            &author,
            json!({"title": "认识分数的加减法", "subject_id": math, "grade_id": grade,
                   "description": "同分母分数的加减法", "visibility": "group"}),
        )
        .await;
    // Nobody decides on a draft.
    let (status, _) = g.act(&math_group, &id, "approve", json!({})).await;
    assert_eq!(status, 403);

    let (status, lesson) = g.act(&author, &id, "submit", json!({})).await;
    assert_eq!(status, 200, "{lesson}");
    assert_eq!(
        (&lesson["state"], &lesson["review_level"]),
        (&json!("submitted"), &json!("teaching_group"))
    );
    let (status, body) = g
        .call(
            &author,
            Method::PATCH,
            &format!("/api/library/lessons/{id}"),
            Some(json!({"title": "改个名"})),
        )
        .await;
    assert_eq!(status, 409, "frozen while in review: {body}");
    assert_eq!(body["error"]["code"], "lesson_not_editable");

    // The queue of the math group of this school holds it; others' do not.
    let (counts, waiting) = queue(&g, &math_group).await;
    assert_eq!(waiting, vec![id.clone()]);
    assert_eq!(counts["teaching_group"], 1);
    assert_eq!(counts["total"], 1);
    for other in [&chinese_group, &math_group_elsewhere, &school, &author] {
        assert!(queue(&g, other).await.1.is_empty());
    }
    // Another subject's group, another school's math group, the next
    // level and the author may not decide here.
    for (who, name) in [
        (&chinese_group, "语文教研组"),
        (&math_group_elsewhere, "东校区数学教研组"),
        (&school, "学校审核"),
        (&center, "资源中心"),
        (&author, "作者"),
    ] {
        let (status, body) = g.act(who, &id, "approve", json!({})).await;
        assert_eq!(status, 403, "{name} approved: {body}");
    }
    let (status, lesson) = g
        .act(&math_group, &id, "approve", json!({"comment": "讲解清楚"}))
        .await;
    assert_eq!(status, 200, "{lesson}");
    assert_eq!(lesson["review_level"], "school");

    // The school level: only this school's reviewers; a rejection says why.
    let (status, _) = g
        .act(&school_elsewhere, &id, "reject", json!({"comment": "不行"}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = g.act(&math_group, &id, "approve", json!({})).await;
    assert_eq!(status, 403, "the group decided already");
    let (status, body) = g
        .act(&school, &id, "reject", json!({"comment": "  "}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["fields"]["comment"].is_string(), "{body}");
    let (status, lesson) = g
        .act(
            &school,
            &id,
            "reject",
            json!({"comment": "画面太暗，请重新录制第二段"}),
        )
        .await;
    assert_eq!(status, 200, "{lesson}");
    assert_eq!(lesson["state"], "rejected");
    assert!(queue(&g, &school).await.1.is_empty());

    // The author reads why, revises and resubmits; it starts again at 教研组.
    let (status, mine) = g
        .call(
            &author,
            Method::GET,
            &format!("/api/library/lessons/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let last = mine["review_steps"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["decision"], "reject");
    assert_eq!(last["level"], "school");
    assert_eq!(last["comment"], "画面太暗，请重新录制第二段");
    assert_eq!(last["actor_name"], "school_rev");
    assert_eq!(mine["can_edit"], true);
    let (status, body) = g
        .call(
            &author,
            Method::PATCH,
            &format!("/api/library/lessons/{id}"),
            Some(json!({"description": "同分母分数的加减法（重新录制）"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, lesson) = g.act(&author, &id, "submit", json!({})).await;
    assert_eq!(status, 200, "{lesson}");
    assert_eq!(lesson["review_level"], "teaching_group");

    for (who, next) in [
        (&math_group, json!("school")),
        (&school, json!("resource_center")),
    ] {
        let (status, lesson) = g.act(who, &id, "approve", json!({})).await;
        assert_eq!(status, 200, "{lesson}");
        assert_eq!(lesson["review_level"], next);
    }
    let (counts, waiting) = queue(&g, &center).await;
    assert_eq!(
        (counts["resource_center"].clone(), waiting),
        (json!(1), vec![id.clone()])
    );
    let (status, lesson) = g.act(&center, &id, "approve", json!({})).await;
    assert_eq!(status, 200, "{lesson}");
    assert_eq!(lesson["state"], "published");
    assert!(lesson["published_at"].is_string());

    // 精品课: by the resource center, never by the author; gone on unpublish.
    let (status, _) = g
        .act(&author, &id, "featured", json!({"featured": true}))
        .await;
    assert_eq!(status, 403);
    let (status, lesson) = g
        .act(&center, &id, "featured", json!({"featured": true}))
        .await;
    assert_eq!(
        (status, &lesson["featured"]),
        (200, &json!(true)),
        "{lesson}"
    );
    let (status, lesson) = g
        .act(&center, &id, "unpublish", json!({"comment": "教材改版"}))
        .await;
    assert_eq!(status, 200, "{lesson}");
    assert_eq!(
        (&lesson["state"], &lesson["featured"]),
        (&json!("unpublished"), &json!(false))
    );
    let (status, body) = g
        .act(&center, &id, "featured", json!({"featured": true}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("lesson_wrong_state"))
    );

    assert_eq!(
        decisions(&lesson),
        [
            ("submit", "-"),
            ("approve", "teaching_group"),
            ("reject", "school"),
            ("submit", "-"),
            ("approve", "teaching_group"),
            ("approve", "school"),
            ("approve", "resource_center"),
            ("feature", "-"),
            ("unpublish", "-"),
        ]
        .map(|(d, l)| (d.to_string(), l.to_string()))
    );
}
