//! Who sees which micro-lesson: a published lesson by its visibility (its
//! own school; the group's schools; partner schools too), a draft only by
//! its author, a lesson in review by the reviewers it waits for. The list
//! and the lesson page must agree.

mod common;

use common::library::{Group, ids, reviewer, teacher, teaching_group};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_school_only_lesson_stays_at_its_school_and_drafts_with_their_author() {
    let g = Group::start().await;
    let math = g.term("subjects", "math").await;
    let grade = g.term("grades", "g3").await;
    let author = g.person("li_laoshi", &g.main, teacher()).await;
    let colleague = g.person("zhao_laoshi", &g.main, teacher()).await;
    let group = g
        .person("math_group", &g.main, teaching_group(&[&math]))
        .await;
    let school = g.person("school_rev", &g.main, reviewer("school")).await;
    let center = g
        .person("center_rev", &g.sister, reviewer("resource_center"))
        .await;
    let viewer = json!([{"role": "viewer"}]);
    let ours = g.person("viewer_main", &g.main, viewer.clone()).await;
    let sister = g.person("viewer_east", &g.sister, viewer.clone()).await;
    let partner = g.person("viewer_partner", &g.partner, viewer).await;

    let lesson = |title: &str, visibility: &str| json!({"title": title, "subject_id": math, "grade_id": grade, "visibility": visibility});
    let mut published = Vec::new();
    for (title, visibility) in [
        ("本校：两位数乘法", "school"),
        ("集团：长方形的周长", "group"),
        ("共享：认识分数", "partners"),
    ] {
        let id = g.draft(&author, lesson(title, visibility)).await;
        g.publish(&author, [&group, &school, &center], &id).await;
        published.push(id);
    }
    let [school_only, group_wide, shared] = [0, 1, 2].map(|i| published[i].clone());
    let draft = g
        .draft(&author, lesson("草稿：分数的大小", "partners"))
        .await;
    let waiting = g
        .draft(&author, lesson("送审：分数的比较", "partners"))
        .await;
    let (status, _) = g.act(&author, &waiting, "submit", json!({})).await;
    assert_eq!(status, 200);

    let library = |bearer: String| {
        let g = &g;
        async move {
            let (status, page) = g
                .call(
                    &bearer,
                    Method::GET,
                    "/api/library/lessons?sort=newest",
                    None,
                )
                .await;
            assert_eq!(status, 200, "{page}");
            let mut got = ids(&page);
            got.sort();
            got
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let everything = sorted(vec![
        school_only.clone(),
        group_wide.clone(),
        shared.clone(),
    ]);
    assert_eq!(library(ours.clone()).await, everything, "its own school");
    assert_eq!(library(colleague.clone()).await, everything);
    assert_eq!(
        library(sister.clone()).await,
        sorted(vec![group_wide.clone(), shared.clone()]),
        "a sister campus: not the school-only one"
    );
    assert_eq!(
        library(partner.clone()).await,
        vec![shared.clone()],
        "a partner school: only what is shared with partners"
    );
    // Neither the draft nor the lesson in review is in the library.
    assert_eq!(library(author.clone()).await, everything);
    assert_eq!(library(g.root.clone()).await, everything);

    let page = |bearer: &str, id: &str| {
        let (g, bearer, id) = (&g, bearer.to_string(), id.to_string());
        async move {
            g.call(
                &bearer,
                Method::GET,
                &format!("/api/library/lessons/{id}"),
                None,
            )
            .await
            .0
        }
    };
    assert_eq!(page(&partner, &school_only).await, 403);
    assert_eq!(page(&partner, &group_wide).await, 403);
    assert_eq!(page(&partner, &shared).await, 200);
    assert_eq!(page(&sister, &school_only).await, 403);
    assert_eq!(page(&sister, &group_wide).await, 200);
    assert_eq!(page(&ours, &school_only).await, 200);

    // A draft: its author only (and the library's staff).
    assert_eq!(page(&author, &draft).await, 200);
    for other in [&colleague, &ours, &partner, &group, &center] {
        assert_eq!(page(other, &draft).await, 403);
    }
    assert_eq!(page(&g.root, &draft).await, 200);
    // In review: the author, and the reviewers it waits for now.
    assert_eq!(page(&group, &waiting).await, 200);
    assert_eq!(page(&school, &waiting).await, 403, "not its level yet");
    assert_eq!(page(&ours, &waiting).await, 403);

    // "My lessons": every stage, the author's own only.
    let (_, mine) = g
        .call(&author, Method::GET, "/api/library/lessons?mine=true", None)
        .await;
    let mut all = published.clone();
    all.extend([draft.clone(), waiting.clone()]);
    assert_eq!(sorted(ids(&mine)), sorted(all));
    let (_, theirs) = g
        .call(
            &colleague,
            Method::GET,
            "/api/library/lessons?mine=true",
            None,
        )
        .await;
    assert!(ids(&theirs).is_empty());
}
