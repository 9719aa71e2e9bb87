//! A lesson's video (migration 0026): attaching a finished upload queues a
//! `vod_ladder` job in the same transaction, and the lesson's media state is
//! read from that job, never copied: queued or running is `processing` (with
//! the job's percent and step), succeeded is `ready`, failed keeps the job's
//! reason. The ladder lives in the media store under `media_key`, a fresh key
//! per attachment, so a replaced ladder is never mixed with its successor,
//! and it is served only while its job has succeeded.

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::uploads::Upload;
use crate::catalog::CatalogError;
use crate::library::jobs::queue::{self, NewJob};
use crate::library::vod_ladder;

/// Attempts a lesson's transcode gets before it is shown as failed.
const MAX_ATTEMPTS: i32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaState {
    /// Waiting for a worker or being transcoded.
    Processing,
    /// The HLS ladder plays.
    Ready,
    /// Every attempt failed; `error` says why.
    Failed,
}

/// Where a lesson's video stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonMedia {
    pub state: MediaState,
    /// Of the transcode, while processing.
    pub progress_percent: f32,
    /// What the transcode is doing (`probing`, `transcoding`, …).
    pub step: Option<String>,
    /// Why the last attempt failed (kept while it is retried).
    pub error: Option<String>,
    /// Length of the uploaded video.
    pub duration_seconds: Option<f64>,
    /// The master playlist, once ready.
    pub playlist: Option<String>,
    /// A picture from the video, once ready (videos only).
    pub poster: Option<String>,
    /// WebVTT thumbnails track (`#xywh=` cues into a sprite) for seeking.
    pub thumbnails: Option<String>,
}

/// The media columns of a lesson row (`LESSON_SELECT`).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct MediaColumns {
    media_job_id: Option<Uuid>,
    media_job_state: Option<String>,
    media_progress: Option<f32>,
    media_step: Option<String>,
    media_error: Option<String>,
    duration_seconds: Option<f64>,
    has_video: bool,
}

impl MediaColumns {
    pub(super) fn into_media(self, lesson: Uuid) -> Option<LessonMedia> {
        // A job deleted by hand leaves no state to show.
        self.media_job_id?;
        let base = format!("/api/library/lessons/{lesson}/hls");
        let state = match self.media_job_state.as_deref()? {
            "succeeded" => MediaState::Ready,
            "failed" => MediaState::Failed,
            _ => MediaState::Processing,
        };
        let ready = |url: &str| (state == MediaState::Ready).then(|| url.to_string());
        Some(LessonMedia {
            state,
            progress_percent: self.media_progress.unwrap_or(0.0),
            step: self.media_step,
            error: self.media_error,
            duration_seconds: self.duration_seconds,
            playlist: ready(&format!("{base}/master.m3u8")),
            poster: ready(&format!("{base}/{}", vod_ladder::preview::POSTER))
                .filter(|_| self.has_video),
            thumbnails: ready(&format!("{base}/{}", vod_ladder::preview::THUMBNAILS))
                .filter(|_| self.has_video),
        })
    }
}

/// What attaching did.
pub struct Attached {
    pub job_id: Uuid,
    /// The previous ladder, to delete from the store now it is unreferenced.
    pub replaced_key: Option<String>,
}

/// A fresh store prefix for a lesson's video: its ladder goes under
/// `{key}/hls`, and a clip cut for it (`attach_clip`) beside it.
pub fn new_media_key(lesson: Uuid) -> String {
    format!("lessons/{lesson}/{}", Uuid::new_v4().simple())
}

/// Makes `upload` (complete) the lesson's video and queues its transcode.
/// 409 `media_processing` while an earlier transcode is still queued or
/// running (it would write into a ladder nobody refers to any more).
pub async fn attach(
    db: &PgPool,
    lesson: Uuid,
    upload: &Upload,
    by: Option<Uuid>,
) -> Result<Attached, CatalogError> {
    let input = upload
        .media_key
        .as_deref()
        .ok_or(CatalogError::Conflict("upload_not_complete"))?;
    let duration = upload
        .probe
        .as_ref()
        .and_then(|p| p["duration_seconds"].as_f64());
    let video = Video {
        input,
        media_key: new_media_key(lesson),
        duration,
        upload: Some(upload.id),
        source: None,
    };
    attach_video(db, lesson, video, by).await
}

/// A clip cut from a recording, stored at `input` under `media_key`
/// (`new_media_key`).
pub struct Clip<'a> {
    pub input: &'a str,
    pub media_key: String,
    pub duration: f64,
    pub recording: Uuid,
    pub start_seconds: f64,
    pub end_seconds: f64,
}

/// Makes a clip the lesson's video and queues its transcode, as `attach`.
pub async fn attach_clip(
    db: &PgPool,
    lesson: Uuid,
    clip: Clip<'_>,
    by: Option<Uuid>,
) -> Result<Attached, CatalogError> {
    let video = Video {
        input: clip.input,
        media_key: clip.media_key,
        duration: Some(clip.duration),
        upload: None,
        source: Some((clip.recording, clip.start_seconds, clip.end_seconds)),
    };
    attach_video(db, lesson, video, by).await
}

struct Video<'a> {
    input: &'a str,
    media_key: String,
    duration: Option<f64>,
    upload: Option<Uuid>,
    /// The recording and span a clip was cut from.
    source: Option<(Uuid, f64, f64)>,
}

async fn attach_video(
    db: &PgPool,
    lesson: Uuid,
    video: Video<'_>,
    by: Option<Uuid>,
) -> Result<Attached, CatalogError> {
    let mut tx = db.begin().await?;
    let current: (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT l.media_key, j.state FROM micro_lessons l
         LEFT JOIN jobs j ON j.id = l.media_job_id
         WHERE l.id = $1 FOR UPDATE OF l",
    )
    .bind(lesson)
    .fetch_one(&mut *tx)
    .await?;
    if matches!(current.1.as_deref(), Some("queued" | "running")) {
        return Err(CatalogError::Conflict("media_processing"));
    }
    let payload = vod_ladder::Payload {
        input: video.input.to_string(),
        output_dir: format!("{}/hls", video.media_key),
    };
    let job = queue::enqueue(
        &mut *tx,
        NewJob {
            kind: vod_ladder::KIND,
            // A struct of two strings always serializes.
            payload: serde_json::to_value(&payload).unwrap_or_default(),
            max_attempts: MAX_ATTEMPTS,
            created_by: by,
        },
    )
    .await?;
    let (recording, start, end) = (
        video.source.map(|s| s.0),
        video.source.map(|s| s.1),
        video.source.map(|s| s.2),
    );
    sqlx::query(
        "UPDATE micro_lessons SET upload_id = $2, media_job_id = $3, media_key = $4,
             duration_seconds = $5, source_recording_id = $6, source_start_seconds = $7,
             source_end_seconds = $8, updated_at = now()
         WHERE id = $1",
    )
    .bind(lesson)
    .bind(video.upload)
    .bind(job.id)
    .bind(&video.media_key)
    .bind(video.duration)
    .bind(recording)
    .bind(start)
    .bind(end)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Attached {
        job_id: job.id,
        replaced_key: current.0,
    })
}

/// The store key of a lesson's playable ladder (it holds `master.m3u8`):
/// `None` while there is none, or it is not finished.
pub async fn ready_ladder(db: &PgPool, lesson: Uuid) -> Result<Option<String>, CatalogError> {
    let key: Option<String> = sqlx::query_scalar(
        "SELECT l.media_key FROM micro_lessons l JOIN jobs j ON j.id = l.media_job_id
         WHERE l.id = $1 AND j.state = 'succeeded'",
    )
    .bind(lesson)
    .fetch_optional(db)
    .await?
    .flatten();
    Ok(key.map(|k| format!("{k}/hls")))
}
