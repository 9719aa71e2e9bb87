//! Deleting a micro-lesson takes everything of it: its author deletes a
//! draft with a processed video and an attachment, and its rows (review
//! steps, job, upload, attachment) and its files in the media store (the
//! ladder, the attachment, the uploaded video) are gone; an upload another
//! lesson was made from too stays. A lesson whose transcode a worker holds
//! is not deleted (409 `lesson_processing`), one whose transcode only
//! waits is, with its job. The author cannot delete a published lesson
//! (409), colleagues and strangers are refused as on the lesson itself,
//! and resource-center staff delete it. Each deletion is audited.

mod common;

use std::time::Duration;

use common::accounts::psql;
use common::files_under;
use common::jobs::{fast_jobs_env, objects};
use common::lesson_media::{attach, file, upload_id, wait_media};
use common::library::{Group, reviewer, teacher, teaching_group};
use common::uploads::{self, last};
use reqwest::Method;
use serde_json::{Value, json};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

fn count(g: &Group, sql: &str) -> i64 {
    psql(&g.server, sql).parse().unwrap()
}

async fn delete(g: &Group, bearer: &str, lesson: &str) -> (u16, Value) {
    g.call(
        bearer,
        Method::DELETE,
        &format!("/api/library/lessons/{lesson}"),
        None,
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_lesson_leaves_nothing_behind() {
    let g = Group::start_with(fast_jobs_env(true)).await;
    let math = g.term("subjects", "math").await;
    let grade = g.term("grades", "g4").await;
    let author = g.person("li_laoshi", &g.main, teacher()).await;
    let colleague = g.person("zhao_laoshi", &g.main, teacher()).await;
    let stranger = g.person("wang_laoshi", &g.sister, teacher()).await;
    let staff = g
        .person("ziyuan", &g.main, json!([{"role": "resource_staff"}]))
        .await;
    let lesson_body = |title: &str| json!({"title": title, "subject_id": math, "grade_id": grade, "visibility": "group"});

    // A draft with a processed video and a task sheet.
    let work = tempfile::tempdir().unwrap();
    let video = work.path().join("lesson.mp4");
    uploads::video(&video, 2.0, "640x360", false);
    let events = uploads::tus_upload(&g.server, &author, &video, &[]);
    assert!(last(&events, "success").is_some(), "{events:?}");
    let upload = upload_id(&events);
    let lesson = g.draft(&author, lesson_body("认识分数")).await;
    let (status, body) = attach(&g.server, &author, &lesson, &upload).await;
    assert_eq!(status, 202, "{body}");
    let (_, media) = wait_media(&g.server, &author, &lesson, Duration::from_secs(180)).await;
    assert_eq!(media["state"], "ready", "{media}\n{}", g.server.logs());
    let response = g
        .server
        .client
        .post(g.server.url(&format!(
            "/api/library/lessons/{lesson}/attachments?kind=task_sheet&name=sheet.pdf"
        )))
        .bearer_auth(&author)
        .body(PDF)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let sheet: Value = response.json().await.unwrap();
    let sheet = sheet["id"].as_str().unwrap().to_string();
    let store = objects(&g.server);
    let ladder = store.join(format!("lessons/{lesson}"));
    let attachments = store.join(format!("library/{lesson}"));
    let uploaded = store.join(format!("uploads/{upload}"));
    assert!(files_under(&ladder).len() >= 5, "the ladder is kept");
    assert_eq!(files_under(&attachments).len(), 1);
    assert_eq!(files_under(&uploaded).len(), 1);

    // A second lesson made from the same upload, its transcode held by a
    // worker elsewhere (its lease runs for an hour): not deleted.
    let twin = g.draft(&author, lesson_body("认识分数（二）")).await;
    let job = uuid::Uuid::new_v4();
    psql(
        &g.server,
        &format!(
            "INSERT INTO jobs (id, kind, payload, state, attempts, worker, lease_until, heartbeat_at)
             VALUES ('{job}', 'vod_ladder',
                     '{{\"input\": \"uploads/{upload}/media-x\", \"output_dir\": \"lessons/{twin}/m/hls\"}}',
                     'running', 1, 'elsewhere/1/abc', now() + interval '1 hour', now());
             UPDATE micro_lessons SET media_job_id = '{job}', upload_id = '{upload}',
                    media_key = 'lessons/{twin}/m' WHERE id = '{twin}'"
        ),
    );
    let (status, refused) = delete(&g, &author, &twin).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "lesson_processing");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("转码"),
        "{refused}"
    );
    assert_eq!(
        count(
            &g,
            &format!("SELECT count(*) FROM micro_lessons WHERE id = '{twin}'")
        ),
        1
    );
    // Waiting (not before tomorrow, so this server's worker leaves it):
    // deleted, with its job; the upload stays, the first lesson uses it.
    psql(
        &g.server,
        &format!(
            "UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL,
                    run_at = now() + interval '1 day' WHERE id = '{job}'"
        ),
    );
    let (status, body) = delete(&g, &author, &twin).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        count(&g, &format!("SELECT count(*) FROM jobs WHERE id = '{job}'")),
        0
    );
    assert_eq!(
        count(
            &g,
            &format!("SELECT count(*) FROM uploads WHERE id = '{upload}'")
        ),
        1
    );
    assert_eq!(files_under(&uploaded).len(), 1);

    // Not theirs: refused as the lesson's other routes refuse; no such
    // lesson is not found.
    for other in [&colleague, &stranger] {
        let (status, _) = delete(&g, other, &lesson).await;
        assert_eq!(status, 403);
    }
    let (status, _) = delete(&g, &author, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(status, 404);
    let anonymous = g
        .server
        .client
        .delete(g.server.url(&format!("/api/library/lessons/{lesson}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(files_under(&ladder).len() >= 5);

    // Its author deletes the draft: its rows and its files are gone.
    let (status, body) = delete(&g, &author, &lesson).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = g
        .call(
            &author,
            Method::GET,
            &format!("/api/library/lessons/{lesson}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        file(&g.server, &author, &lesson, "master.m3u8").await.0,
        404
    );
    let (status, _) = g
        .call(
            &author,
            Method::GET,
            &format!("/api/library/lessons/{lesson}/attachments/{sheet}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    for table in [
        "lesson_attachments WHERE lesson_id",
        "micro_lesson_knowledge_points WHERE lesson_id",
        "review_steps WHERE lesson_id",
        "lesson_views WHERE lesson_id",
    ] {
        assert_eq!(
            count(&g, &format!("SELECT count(*) FROM {table} = '{lesson}'")),
            0,
            "{table}"
        );
    }
    assert_eq!(count(&g, "SELECT count(*) FROM jobs"), 0, "its transcode");
    assert_eq!(count(&g, "SELECT count(*) FROM uploads"), 0, "its upload");
    assert_eq!(count(&g, "SELECT count(*) FROM upload_parts"), 0);
    for dir in [&ladder, &attachments, &uploaded] {
        assert!(files_under(dir).is_empty(), "{dir:?} is emptied");
    }

    // Published: no longer its author's to delete; the resource center's.
    let published = g.draft(&author, lesson_body("分数的加减法")).await;
    let group = g
        .person("math_group", &g.main, teaching_group(&[&math]))
        .await;
    let school = g.person("school_rev", &g.main, reviewer("school")).await;
    let center = g
        .person("center_rev", &g.sister, reviewer("resource_center"))
        .await;
    g.publish(&author, [&group, &school, &center], &published)
        .await;
    let (status, refused) = delete(&g, &author, &published).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "lesson_not_deletable");
    // Seeing it in the library, or curating the library, is not enough.
    for other in [&colleague, &stranger, &center] {
        let (status, _) = delete(&g, other, &published).await;
        assert_eq!(status, 403);
    }
    assert_eq!(
        count(
            &g,
            &format!("SELECT count(*) FROM review_steps WHERE lesson_id = '{published}'")
        ),
        4
    );
    let (status, body) = delete(&g, &staff, &published).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = g
        .call(
            &staff,
            Method::GET,
            &format!("/api/library/lessons/{published}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        count(
            &g,
            &format!("SELECT count(*) FROM review_steps WHERE lesson_id = '{published}'")
        ),
        0
    );

    // Each deletion is in the audit log, under the lesson's title.
    let audited = psql(
        &g.server,
        "SELECT actor_name || ':' || (detail->>'title') FROM audit_log \
         WHERE action = 'lesson_deleted' ORDER BY at, id",
    );
    assert_eq!(
        audited,
        "li_laoshi:认识分数（二）\nli_laoshi:认识分数\nziyuan:分数的加减法"
    );
}
