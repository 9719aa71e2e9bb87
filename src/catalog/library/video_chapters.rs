//! A lesson's video chapters as rows (migration 0029). A save replaces the
//! whole list inside the lesson's update, under its row lock, so the list
//! read back is always one that was sent. What is acceptable is decided by
//! `library::video_chapters::check`, against the duration read here.

use std::collections::BTreeMap;

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::catalog::CatalogError;
use crate::library::video_chapters::{self, ChaptersRefused, VideoChapter};

impl From<ChaptersRefused> for CatalogError {
    fn from(refused: ChaptersRefused) -> Self {
        match refused {
            ChaptersRefused::TooMany => CatalogError::Invalid(BTreeMap::from([(
                "video_chapters",
                "too_many_video_chapters",
            )])),
            ChaptersRefused::Rows(rows) => CatalogError::InvalidRows {
                field: "video_chapters",
                rows,
            },
        }
    }
}

/// A lesson's chapters, first to last, and its video's duration (None:
/// no video yet).
pub async fn list(
    db: &PgPool,
    lesson: Uuid,
) -> Result<(Vec<VideoChapter>, Option<f64>), CatalogError> {
    let duration: Option<f64> =
        sqlx::query_scalar("SELECT duration_seconds FROM micro_lessons WHERE id = $1")
            .bind(lesson)
            .fetch_one(db)
            .await?;
    let rows: Vec<(i32, String)> = sqlx::query_as(
        "SELECT start_ms, title FROM lesson_video_chapters WHERE lesson_id = $1
         ORDER BY start_ms",
    )
    .bind(lesson)
    .fetch_all(db)
    .await?;
    let chapters = rows
        .into_iter()
        .map(|(ms, title)| VideoChapter::from_ms(ms.into(), title))
        .collect();
    Ok((chapters, duration))
}

/// Replaces a lesson's chapters, checked against its duration as it is
/// now (the caller's transaction has updated, so locked, the lesson row).
pub(super) async fn replace(
    tx: &mut Transaction<'_, Postgres>,
    lesson: Uuid,
    chapters: &[VideoChapter],
) -> Result<(), CatalogError> {
    let duration: Option<f64> =
        sqlx::query_scalar("SELECT duration_seconds FROM micro_lessons WHERE id = $1 FOR UPDATE")
            .bind(lesson)
            .fetch_one(&mut **tx)
            .await?;
    let kept = video_chapters::check(chapters, duration)?;
    sqlx::query("DELETE FROM lesson_video_chapters WHERE lesson_id = $1")
        .bind(lesson)
        .execute(&mut **tx)
        .await?;
    // Milliseconds fit an i32 for 596 hours: a start beyond that (possible
    // only with no video to bound it) is refused, not wrapped.
    let starts: Vec<i32> = kept
        .iter()
        .map(|c| i32::try_from(c.start_ms()))
        .collect::<Result<_, _>>()
        .map_err(|_| {
            CatalogError::Invalid(BTreeMap::from([("video_chapters", "invalid_value")]))
        })?;
    let titles: Vec<&str> = kept.iter().map(|c| c.title.as_str()).collect();
    sqlx::query(
        "INSERT INTO lesson_video_chapters (lesson_id, start_ms, title)
         SELECT $1, * FROM unnest($2::integer[], $3::text[])",
    )
    .bind(lesson)
    .bind(&starts)
    .bind(&titles)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
