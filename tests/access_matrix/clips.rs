//! Cutting a micro-lesson from a recording (`POST /api/recordings/{id}/clips`)
//! in the matrix: it takes both seeing the recording and writing library
//! lessons at its school. Of those who see it, its school's admin and
//! reviewers may not write lessons; resource staff write lessons but do not
//! see it (until it is shared with them). The allowed person's span is
//! empty, so what they get is the span's 422, after the permission.

use reqwest::Method;
use serde_json::json;

use super::requests::{OnceChecks, request};
use super::rules::{PEOPLE, RECORDING};

pub const TEMPLATE: &str = "/api/recordings/{id}/clips";

/// Those who may cut the main school's recording before it is shared.
const CUT: &[&str] = &["system_admin", "teacher_main"];

pub async fn check(once: &OnceChecks<'_>, recording_path: &str) {
    assert!(CUT.iter().all(|p| RECORDING.contains(p)));
    // The recording is live: wait until a segment of it is kept, so that
    // the span's start (0 s) lies inside it whatever its length.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let recording: serde_json::Value = request(
            once.server,
            Method::GET,
            recording_path,
            once.tokens["system_admin"].as_deref(),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        if recording["duration_ms"].as_i64().is_some_and(|ms| ms > 0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing recorded: {recording}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let backwards = json!({"start_seconds": 0, "end_seconds": 0, "title": "课堂片段",
        "subject_id": uuid::Uuid::new_v4(), "grade_id": uuid::Uuid::new_v4()});
    let refused: Vec<&str> = PEOPLE
        .iter()
        .copied()
        .filter(|p| !CUT.contains(p))
        .collect();
    let answer = once
        .check(
            Method::POST,
            TEMPLATE,
            &format!("{recording_path}/clips"),
            Some(&backwards),
            &refused,
            "teacher_main",
            422,
        )
        .await;
    assert!(
        answer["error"]["fields"]["end_seconds"].is_string(),
        "{answer}"
    );
}
