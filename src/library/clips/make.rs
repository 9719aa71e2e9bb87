//! Making a micro-lesson from a recording: the span checked against the
//! recording's own segments, the draft lesson, the cut (on the blocking
//! pool, into a staging file), the clip stored under the lesson's media
//! key, and its VOD ladder queued like an upload's.
//!
//! The span is checked first and the lesson's fields next (the draft is
//! made), so a refusal costs no cutting; the clip is stored under the
//! lesson's prefix, so deleting the lesson deletes the clip. The recording's files
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

/// Cuts at once on this node: each holds a blocking thread and x264's,
/// and a school's server has two cores for its lessons too. One more
/// waits for its turn rather than failing.
const CUTS_AT_ONCE: usize = 1;
static CUTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CUTS_AT_ONCE);

#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    /// No files of the recording on this node.
    #[error("the recording's files are not here")]
    FilesMissing,
    /// A rolling recording still being made: its oldest segments go as it
    /// grows, so a span picked on its timeline would move under the cut.
    #[error("a rolling recording is still being made")]
    StillRolling,
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
    #[error("the cut's task: {0}")]
    Task(#[from] tokio::task::JoinError),
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
    /// The recording is still being made.
    pub in_progress: bool,
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

/// Checks the span, makes the draft (so every check of the lesson's
/// fields is done before the slow part), cuts, stores the clip and queues
/// its ladder. Anything failing after the draft exists deletes the draft
/// and what was stored: no half-made lesson is left.
pub async fn make(
    db: &PgPool,
    store: &MediaStore,
    places: Places,
    request: Request,
) -> Result<Made, ClipError> {
    let began = Instant::now();
    lessons::check_new(&request.lesson)?;
    let (start, end, in_progress) = (
        request.start_seconds,
        request.end_seconds,
        request.in_progress,
    );
    let dir = places.recording_dir.clone();
    let (rendition, selection) = tokio::task::spawn_blocking(move || {
        if in_progress && crate::recording::is_rolling(&dir) {
            return Err(ClipError::StillRolling);
        }
        let (rendition, segments) =
            crate::recording::top_rendition(&dir).ok_or(ClipError::FilesMissing)?;
        let selection = select(&segments, start, end).map_err(ClipError::Refused)?;
        Ok((rendition, selection))
    })
    .await??;
    let lesson = lessons::create(db, &request.lesson, request.school, request.author).await?;
    let media_key = media::new_media_key(lesson);
    let made = async {
        let _turn = CUTS
            .acquire()
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let staging = places.staging;
        let (file, cut, duration) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&staging)?;
            let file = tempfile::Builder::new()
                .prefix("clip-")
                .suffix(".ts")
                .tempfile_in(&staging)?;
            let cut = cut::cut(&rendition, &selection, file.path())?;
            let probed = probe::probe(file.path()).map_err(ClipError::Unplayable)?;
            Ok::<_, ClipError>((file, cut, probed.duration_seconds))
        })
        .await??;
        let input = format!("{media_key}/clip.ts");
        store.put_file(&input, file.path()).await?;
        let clip = Clip {
            input: &input,
            media_key: media_key.clone(),
            duration,
            recording: request.recording,
            start_seconds: start,
            end_seconds: end,
        };
        let attached = media::attach_clip(db, lesson, clip, request.author).await?;
        Ok::<_, ClipError>((attached.job_id, cut, duration))
    }
    .await;
    match made {
        Ok((job, cut, duration)) => Ok(Made {
            lesson,
            job,
            cut,
            duration,
            took: began.elapsed(),
        }),
        Err(e) => {
            if let Err(undo) = removal::delete(db, lesson, LessonState::Draft).await {
                tracing::warn!(%lesson, "draft of a failed clip not deleted: {undo}");
            }
            if let Err(undo) = store.delete_prefix(&format!("{media_key}/")).await {
                tracing::warn!(%lesson, "objects of a failed clip not deleted: {undo}");
            }
            Err(e)
        }
    }
}
