//! Chapters within a lesson's video (视频分段): its editors set them with
//! the lesson's PATCH, and they come back in the lesson's JSON and as a
//! WebVTT chapters track, cue by cue. A bad list is refused with 422 naming
//! each bad chapter, and changes nothing, not even the fields sent with
//! it. The track reaches exactly the lesson's audience, and only its
//! editors change the chapters.

mod common;

use common::accounts::psql;
use common::library::{Group, reviewer, teacher, teaching_group};
use reqwest::Method;
use serde_json::{Value, json};

async fn track(g: &Group, bearer: &str, id: &str) -> (u16, String, String) {
    let response = g
        .server
        .client
        .get(
            g.server
                .url(&format!("/api/library/lessons/{id}/chapters.vtt")),
        )
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

fn titles(view: &Value) -> Vec<(f64, String)> {
    view["video_chapters"]
        .as_array()
        .unwrap_or_else(|| panic!("no video_chapters: {view}"))
        .iter()
        .map(|c| {
            (
                c["start_seconds"].as_f64().unwrap(),
                c["title"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn lesson_video_chapters_are_checked_and_served_as_webvtt() {
    let g = Group::start().await;
    let math = g.term("subjects", "math").await;
    let grade = g.term("grades", "g3").await;
    let author = g.person("li_laoshi", &g.main, teacher()).await;
    let colleague = g.person("zhao_laoshi", &g.main, teacher()).await;
    let sister_viewer = g
        .person("viewer_sister", &g.sister, json!([{"role": "viewer"}]))
        .await;
    let partner_viewer = g
        .person("viewer_partner", &g.partner, json!([{"role": "viewer"}]))
        .await;
    let id = g
        .draft(
            &author,
            json!({"title": "认识分数", "subject_id": math, "grade_id": grade,
                   "chapter": "第三单元", "visibility": "school"}),
        )
        .await;
    let path = format!("/api/library/lessons/{id}");
    // As the media job records it once the video is processed: 10 minutes.
    psql(
        &g.server,
        &format!("UPDATE micro_lessons SET duration_seconds = 600.25 WHERE id = '{id}'"),
    );

    // Set, trimmed, and read back in the lesson's JSON; the textbook
    // chapter (教材章节) is a field of its own and stays.
    let chapters = json!({"video_chapters": [
        {"start_seconds": 0, "title": " 导入 "},
        {"start_seconds": 90.5, "title": "新授：分数的意义 <例1>"},
        {"start_seconds": 3599.999, "title": "小结 & 练习"},
    ]});
    let (status, body) = g
        .call(&author, Method::PATCH, &path, Some(chapters.clone()))
        .await;
    assert_eq!(status, 422, "the last starts after the video: {body}");
    assert_eq!(body["error"]["code"], "invalid_input");
    assert_eq!(
        body["error"]["fields"],
        json!({"video_chapters:3": "开始时间超出了视频时长"})
    );
    let mut chapters = chapters;
    chapters["video_chapters"][2]["start_seconds"] = json!(420.0);
    let (status, view) = g
        .call(&author, Method::PATCH, &path, Some(chapters.clone()))
        .await;
    assert_eq!(status, 200, "{view}");
    let want = vec![
        (0.0, "导入".to_string()),
        (90.5, "新授：分数的意义 <例1>".to_string()),
        (420.0, "小结 & 练习".to_string()),
    ];
    assert_eq!(titles(&view), want);
    let (_, view) = g.call(&author, Method::GET, &path, None).await;
    assert_eq!(titles(&view), want);
    assert_eq!(view["chapter"], "第三单元");

    // The track: a cue per chapter, each until the next, the last until
    // the video's end, titles escaped as cue text.
    let (status, content_type, text) = track(&g, &author, &id).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/vtt"), "{content_type}");
    assert_eq!(
        text,
        "WEBVTT\n\
         \n1\n00:00:00.000 --> 00:01:30.500\n导入\n\
         \n2\n00:01:30.500 --> 00:07:00.000\n新授：分数的意义 &lt;例1&gt;\n\
         \n3\n00:07:00.000 --> 00:10:00.250\n小结 &amp; 练习\n"
    );

    // Bad chapters are each named, and nothing of the request is kept:
    // neither the chapters nor the title sent with them.
    let (status, body) = g
        .call(
            &author,
            Method::PATCH,
            &path,
            Some(json!({"title": "改了的标题", "video_chapters": [
                {"start_seconds": 10, "title": "一"},
                {"start_seconds": 10, "title": "同一时刻"},
                {"start_seconds": -5, "title": "负数"},
                {"start_seconds": 30, "title": "   "},
                {"start_seconds": 40, "title": "长".repeat(101)},
                {"start_seconds": 50, "title": "好的"},
            ]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let fields = body["error"]["fields"].as_object().unwrap();
    let mut named: Vec<&str> = fields.keys().map(String::as_str).collect();
    named.sort();
    assert_eq!(
        named,
        [
            "video_chapters:2",
            "video_chapters:3",
            "video_chapters:4",
            "video_chapters:5"
        ],
        "{body}"
    );
    assert_eq!(fields["video_chapters:2"], "开始时间须晚于上一段");
    assert_eq!(fields["video_chapters:4"], "请填写分段标题");
    let many: Vec<Value> = (0..51)
        .map(|i| json!({"start_seconds": i, "title": format!("第{i}段")}))
        .collect();
    let (status, body) = g
        .call(
            &author,
            Method::PATCH,
            &path,
            Some(json!({"video_chapters": many})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["fields"]["video_chapters"],
        "视频分段最多 50 个"
    );
    let (status, body) = g
        .call(
            &author,
            Method::PATCH,
            &path,
            Some(json!({"video_chapters": [{"start_seconds": 1, "title": "x", "end": 2}]})),
        )
        .await;
    assert_eq!(status, 400, "unknown keys are refused: {body}");
    let (_, view) = g.call(&author, Method::GET, &path, None).await;
    assert_eq!(titles(&view), want);
    assert_eq!(view["title"], "认识分数");

    // A draft is its author's: a colleague neither reads nor changes it.
    let (status, _) = g
        .call(
            &colleague,
            Method::PATCH,
            &path,
            Some(json!({"video_chapters": []})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(track(&g, &colleague, &id).await.0, 403);

    // Published for its own school: the colleague reads the track; a
    // viewer at the sister campus or the partner school may not see the
    // lesson, nor its chapters; and the author changes nothing any more.
    let group = g
        .person("math_group", &g.main, teaching_group(&[&math]))
        .await;
    let school = g.person("school_rev", &g.main, reviewer("school")).await;
    let center = g
        .person("center_rev", &g.sister, reviewer("resource_center"))
        .await;
    g.publish(&author, [&group, &school, &center], &id).await;
    let (status, _, seen) = track(&g, &colleague, &id).await;
    assert_eq!((status, seen), (200, text.clone()));
    for stranger in [&sister_viewer, &partner_viewer] {
        let (lesson_status, _) = g.call(stranger, Method::GET, &path, None).await;
        assert_eq!(lesson_status, 403);
        let (status, _, body) = track(&g, stranger, &id).await;
        assert_eq!(status, 403, "{body}");
        assert!(!body.contains("导入"), "{body}");
    }
    let (status, body) = g
        .call(
            &author,
            Method::PATCH,
            &path,
            Some(json!({"video_chapters": []})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("lesson_not_editable"))
    );

    // Taken out of the library, it is its author's to change again; an
    // empty list clears the chapters.
    let (status, body) = g
        .act(&g.root, &id, "unpublish", json!({"comment": "补充分段"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = g
        .call(
            &author,
            Method::PATCH,
            &path,
            Some(json!({"video_chapters": []})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(titles(&body), []);
    assert_eq!(track(&g, &author, &id).await.2, "WEBVTT\n");
    let (status, _, _) = track(&g, &author, "00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, 404);
}
