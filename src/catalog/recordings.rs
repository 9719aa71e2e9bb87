//! Recordings: the catalogue side. The files are written by `crate::recording`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::CatalogError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "recording_status", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RecordingStatus {
    Recording,
    Complete,
    Interrupted,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Recording {
    pub id: Uuid,
    pub classroom_id: Uuid,
    pub live_session_id: Option<Uuid>,
    pub status: RecordingStatus,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: i64,
    pub size_bytes: i64,
    /// `[{"name", "width", "height", "bandwidth", "codecs"}, …]`
    #[schema(value_type = Vec<Object>)]
    pub renditions: serde_json::Value,
    pub rolling: bool,
    pub title: String,
    /// The classroom's teacher when the lesson was recorded.
    pub teacher_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct RecordingGap {
    pub offset_ms: i64,
    pub duration_ms: Option<i64>,
    pub reason: String,
}

/// Progress the recorder reports as segments land.
#[derive(Debug, Clone)]
pub struct RecordingProgress {
    pub duration_ms: i64,
    pub size_bytes: i64,
    pub renditions: serde_json::Value,
}

pub async fn start(
    db: &PgPool,
    id: Uuid,
    classroom_id: Uuid,
    live_session_id: Uuid,
    started_at: DateTime<Utc>,
    rolling: bool,
    title: &str,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO recordings (id, classroom_id, live_session_id, started_at, rolling, title,
                                 teacher_id)
         VALUES ($1, $2, $3, $4, $5, $6, (SELECT teacher_id FROM classrooms WHERE id = $2))",
    )
    .bind(id)
    .bind(classroom_id)
    .bind(live_session_id)
    .bind(started_at)
    .bind(rolling)
    .bind(title)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn progress(
    db: &PgPool,
    id: Uuid,
    progress: &RecordingProgress,
) -> Result<(), CatalogError> {
    sqlx::query(
        "UPDATE recordings SET duration_ms = $2, size_bytes = $3, renditions = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(progress.duration_ms)
    .bind(progress.size_bytes)
    .bind(&progress.renditions)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn finish(
    db: &PgPool,
    id: Uuid,
    status: RecordingStatus,
    ended_at: DateTime<Utc>,
    progress: &RecordingProgress,
) -> Result<(), CatalogError> {
    sqlx::query(
        "UPDATE recordings SET status = $2, ended_at = $3, duration_ms = $4, size_bytes = $5,
             renditions = $6
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(ended_at)
    .bind(progress.duration_ms)
    .bind(progress.size_bytes)
    .bind(&progress.renditions)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn gap_started(db: &PgPool, id: Uuid, offset_ms: i64) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO recording_gaps (recording_id, offset_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(offset_ms)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn gap_ended(db: &PgPool, id: Uuid, duration_ms: i64) -> Result<(), CatalogError> {
    sqlx::query(
        "UPDATE recording_gaps SET duration_ms = $2
         WHERE recording_id = $1 AND duration_ms IS NULL",
    )
    .bind(id)
    .bind(duration_ms)
    .execute(db)
    .await?;
    Ok(())
}

/// A gap that turned out to be the end of the lesson is not a gap.
pub async fn gap_removed(db: &PgPool, id: Uuid, offset_ms: i64) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM recording_gaps WHERE recording_id = $1 AND offset_ms = $2")
        .bind(id)
        .bind(offset_ms)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<Recording, CatalogError> {
    Ok(sqlx::query_as("SELECT * FROM recordings WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await?)
}

pub async fn gaps(db: &PgPool, id: Uuid) -> Result<Vec<RecordingGap>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT offset_ms, duration_ms, reason FROM recording_gaps WHERE recording_id = $1 ORDER BY offset_ms",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// Recordings left in 'recording' by a process that died.
pub async fn unfinished(db: &PgPool) -> Result<Vec<Recording>, CatalogError> {
    Ok(
        sqlx::query_as("SELECT * FROM recordings WHERE status = 'recording'")
            .fetch_all(db)
            .await?,
    )
}

pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    let deleted = sqlx::query("DELETE FROM recordings WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

/// A recording with what access decisions about it need, in one row.
#[derive(sqlx::FromRow)]
struct WithFacts {
    #[sqlx(flatten)]
    recording: Recording,
    school_id: Uuid,
    shared_users: Vec<Uuid>,
    shared_schools: Vec<Uuid>,
}

impl WithFacts {
    fn facts(&self) -> crate::auth::policy::RecordingFacts {
        crate::auth::policy::RecordingFacts {
            school_id: self.school_id,
            teacher_id: self.recording.teacher_id,
            shared_with_users: self.shared_users.clone(),
            shared_with_schools: self.shared_schools.clone(),
        }
    }
}

const WITH_FACTS: &str = "SELECT r.*, c.school_id,
        COALESCE(array_agg(s.user_id) FILTER (WHERE s.user_id IS NOT NULL), '{}') AS shared_users,
        COALESCE(array_agg(s.school_id) FILTER (WHERE s.school_id IS NOT NULL), '{}') AS shared_schools
     FROM recordings r
     JOIN classrooms c ON c.id = r.classroom_id
     LEFT JOIN recording_shares s ON s.recording_id = r.id";

/// What access decisions about a recording need.
pub async fn facts(
    db: &PgPool,
    id: Uuid,
) -> Result<crate::auth::policy::RecordingFacts, CatalogError> {
    let row: WithFacts = sqlx::query_as(&format!(
        "{WITH_FACTS} WHERE r.id = $1 GROUP BY r.id, c.school_id"
    ))
    .bind(id)
    .fetch_one(db)
    .await?;
    Ok(row.facts())
}

/// The newest recordings `visible` lets through, at most `limit`. They are
/// filtered as they stream from the database, so the limit counts what the
/// caller may see, not what exists.
pub async fn list_visible(
    db: &PgPool,
    classroom_id: Option<Uuid>,
    limit: i64,
    visible: impl Fn(&crate::auth::policy::RecordingFacts) -> bool,
) -> Result<Vec<Recording>, CatalogError> {
    use futures::TryStreamExt;
    let sql = format!(
        "{WITH_FACTS} WHERE ($1::uuid IS NULL OR r.classroom_id = $1)
         GROUP BY r.id, c.school_id ORDER BY r.started_at DESC"
    );
    let mut rows = sqlx::query_as::<_, WithFacts>(&sql)
        .bind(classroom_id)
        .fetch(db);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        if visible(&row.facts()) {
            out.push(row.recording);
            if out.len() as i64 >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Shares a recording with one person or everyone at a school.
pub async fn share(
    db: &PgPool,
    id: Uuid,
    user_id: Option<Uuid>,
    school_id: Option<Uuid>,
    shared_by: Option<Uuid>,
) -> Result<(), CatalogError> {
    let mut v = super::Validation::default();
    v.check(
        user_id.is_some() != school_id.is_some(),
        "user_id",
        "share_one_target",
    );
    v.finish()?;
    sqlx::query(
        "INSERT INTO recording_shares (recording_id, user_id, school_id, shared_by)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(school_id)
    .bind(shared_by)
    .execute(db)
    .await?;
    Ok(())
}
