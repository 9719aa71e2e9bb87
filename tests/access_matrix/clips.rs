//! Cutting a micro-lesson from a recording (`POST /api/recordings/{id}/clips`)
//! in the matrix: it takes both seeing the recording and writing library
//! lessons at its school. Of those who see it, its school's admin and
//! reviewers may not write lessons; resource staff write lessons but do not
//! see it (until it is shared with them). The allowed person's span is
//! backwards, so what they get is the span's 422, after the permission.

use reqwest::Method;
use serde_json::json;

use super::requests::OnceChecks;
use super::rules::{PEOPLE, RECORDING};

pub const TEMPLATE: &str = "/api/recordings/{id}/clips";

/// Those who may cut the main school's recording before it is shared.
const CUT: &[&str] = &["system_admin", "teacher_main"];

pub async fn check(once: &OnceChecks<'_>, recording_path: &str) {
    assert!(CUT.iter().all(|p| RECORDING.contains(p)));
    let backwards = json!({"start_seconds": 5, "end_seconds": 2, "title": "课堂片段",
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
