//! A lesson's video chapters track (`/chapters.vtt`) in the matrix: it
//! follows the lesson's own rules. While the lesson is a draft its own
//! people read it; once published for its school, exactly that school.
//! The chapters themselves are set with the lesson's PATCH, whose rules
//! `library.rs` checks.

use reqwest::Method;
use serde_json::json;

use super::requests::{OnceChecks, request};
use super::rules::PEOPLE;

pub const TEMPLATE: &str = "/api/library/lessons/{id}/chapters.vtt";

/// The track of the lesson at `lesson_path` (`/api/library/lessons/{id}`).
pub fn track(lesson_path: &str) -> String {
    format!("{lesson_path}/chapters.vtt")
}

/// While the lesson is a draft: its author gives it two chapters, and the
/// track is refused to everyone outside `owners`.
pub async fn check_draft(once: &OnceChecks<'_>, lesson_path: &str, owners: &[&str]) {
    let chapters = json!({"video_chapters": [
        {"start_seconds": 0, "title": "导入"},
        {"start_seconds": 75.5, "title": "新授"},
    ]});
    let response = request(
        once.server,
        Method::PATCH,
        lesson_path,
        once.tokens["teacher_main"].as_deref(),
        Some(&chapters),
    )
    .await;
    assert_eq!(response.status(), 200, "setting chapters");
    let refused: Vec<&str> = PEOPLE
        .iter()
        .copied()
        .filter(|p| !owners.contains(p))
        .collect();
    once.check(
        Method::GET,
        TEMPLATE,
        &track(lesson_path),
        None,
        &refused,
        "teacher_main",
        200,
    )
    .await;
    let text = request(
        once.server,
        Method::GET,
        &track(lesson_path),
        once.tokens["teacher_main"].as_deref(),
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        text.starts_with("WEBVTT\n") && text.contains("新授"),
        "{text}"
    );
}

/// Once published: `person` reads the track exactly when they may see the
/// lesson (`lesson_status` is what the lesson itself answered them).
pub async fn check_audience(
    once: &OnceChecks<'_>,
    lesson_path: &str,
    person: &str,
    lesson_status: u16,
) {
    let status = once
        .status(person, Method::GET, &track(lesson_path), None)
        .await;
    assert_eq!(
        status, lesson_status,
        "chapters of the published lesson as {person}"
    );
}
