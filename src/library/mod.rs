//! The micro-lesson library (微课资源库): what happens to a lesson from its
//! upload on. `uploads` takes files in (tus 1.0) and probes them; `jobs` is
//! the shared PostgreSQL job queue and the worker that runs it;
//! `vod_ladder` turns a media file into an HLS VOD ladder; `files` is the
//! one place job inputs are read from and outputs written to; `review` is
//! the three-level review workflow (pure) and `search` the Chinese
//! segmenter; `attachments` takes in a lesson's task sheets, slides and
//! exercises, typed by their bytes; `video_chapters` checks a video's
//! chapters and writes them as WebVTT. Domain code only: HTTP lives in
//! `http`, rows in `catalog`, who may do what in `auth::policy`, bytes in
//! `storage`.

pub mod attachments;
pub mod clips;
pub mod files;
pub mod jobs;
pub mod removal;
pub mod review;
pub mod search;
pub mod uploads;
pub mod video_chapters;
pub mod views;
pub mod vod_ladder;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who sees a published lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Every signed-in user of the group's own schools (not partner schools).
    Group,
    /// The group and its partner schools: every signed-in user.
    Partners,
    /// The lesson's own school only.
    School,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Group => "group",
            Visibility::Partners => "partners",
            Visibility::School => "school",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "group" => Visibility::Group,
            "partners" => Visibility::Partners,
            "school" => Visibility::School,
            _ => return None,
        })
    }
}

/// Every kind of job this build can run. Here, above both, so the runner
/// knows no job and the jobs know only the runner.
pub fn job_kinds(
    config: &crate::config::Config,
    store: &crate::storage::MediaStore,
) -> Vec<std::sync::Arc<dyn jobs::runner::Work>> {
    let files = files::JobFiles::new(store.clone(), config.media.dir.join("staging"));
    vec![std::sync::Arc::new(vod_ladder::VodLadder::new(
        config, files,
    ))]
}

/// `hh:mm:ss.ttt`, as WebVTT writes a time: for the seek-preview sprite's
/// track and the video chapters' track alike.
pub(crate) fn webvtt_time(at: std::time::Duration) -> String {
    let ms = at.as_millis();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}
