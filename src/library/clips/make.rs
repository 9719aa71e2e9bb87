//! Making a micro-lesson from a recording: the span checked against the
//! recording's own segments, the cut (on the blocking pool, into a staging
//! file), the draft lesson, the clip stored under the lesson's media key,
//! and its VOD ladder queued like an upload's.
//!
//! The cut comes before the lesson row, so a span that cannot be cut
//! leaves nothing behind; the clip is stored after it, under the lesson's
//! prefix, so deleting the lesson deletes the clip. The recording's files
//! are read from this node's media directory: recordings are not in the
//! shared store yet, and the node that serves a recording is the one that
//! can cut it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use super::cut::{self, Cut, CutError};
use super::{SpanRefused, select};
use crate::catalog::CatalogError;
use crate::catalog::library::lessons::{self, NewLesson};
use crate::catalog::library::media::{self, Clip};
use crate::catalog::library::removal;
use crate::library::review::LessonState;
use crate::library::uploads::probe::{self, Rejection};
use crate::storage::{MediaStore, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    /// No files of the recording on this node.
    #[error("the recording's files are not here")]
    FilesMissing,
    #[error("the span cannot be cut: {0:?}")]
    Refused(SpanRefused),
    #[error(transparent)]
    Cut(#[from] CutError),
    /// The cut does not read back as media (it would be a bug).
    #[error("the cut does not play: {0}")]
    Unplayable(Rejection),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("staging the cut: {0}")]
    Io(#[from] std::io::Error),
}

/// Where the cut is read from and made.
pub struct Places {
    /// This recording's directory (`recording::recording_dir`).
    pub recording_dir: PathBuf,
    /// Scratch space on this node (`media_dir/staging`).
    pub staging: PathBuf,
}

/// The span and the draft lesson to make of it.
pub struct Request {
    pub recording: Uuid,
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub lesson: NewLesson,
    pub school: Uuid,
    pub author: Option<Uuid>,
}

/// What was made.
#[derive(Debug)]
pub struct Made {
    pub lesson: Uuid,
    pub job: Uuid,
    pub cut: Cut,
    /// Seconds of video in the clip, as FFmpeg reads it back.
    pub duration: f64,
    pub took: Duration,
}

pub async fn make(
    db: &PgPool,
    store: &MediaStore,
    places: Places,
    request: Request,
) -> Result<Made, ClipError> {
    let began = Instant::now();
    lessons::check_new(&request.lesson)?;
    let (start, end) = (request.start_seconds, request.end_seconds);
    let (file, cut, duration) = tokio::task::spawn_blocking(move || {
        let (rendition, segments) = crate::recording::top_rendition(&places.recording_dir)
            .ok_or(ClipError::FilesMissing)?;
        let selection = select(&segments, start, end).map_err(ClipError::Refused)?;
        std::fs::create_dir_all(&places.staging)?;
        let file = tempfile::Builder::new()
            .prefix("clip-")
            .suffix(".ts")
            .tempfile_in(&places.staging)?;
        let cut = cut::cut(&rendition, &selection, file.path())?;
        let probed = probe::probe(file.path()).map_err(ClipError::Unplayable)?;
        Ok::<_, ClipError>((file, cut, probed.duration_seconds))
    })
    .await
    .map_err(|e| ClipError::Io(std::io::Error::other(format!("cut task: {e}"))))??;
    let lesson = lessons::create(db, &request.lesson, request.school, request.author).await?;
    let media_key = media::new_media_key(lesson);
    let input = format!("{media_key}/clip.ts");
    let stored = async {
        store.put_file(&input, file.path()).await?;
        let clip = Clip {
            input: &input,
            media_key: media_key.clone(),
            duration,
            recording: request.recording,
            start_seconds: start,
            end_seconds: end,
        };
        Ok::<_, ClipError>(media::attach_clip(db, lesson, clip, request.author).await?)
    }
    .await;
    match stored {
        Ok(attached) => Ok(Made {
            lesson,
            job: attached.job_id,
            cut,
            duration,
            took: began.elapsed(),
        }),
        Err(e) => {
            // No half-made lesson: the draft and whatever was stored go.
            if let Err(undo) = removal::delete(db, lesson, LessonState::Draft).await {
                tracing::warn!(%lesson, "draft of a failed clip not deleted: {undo}");
            }
            let _ = store.delete_prefix(&format!("{media_key}/")).await;
            Err(e)
        }
    }
}
