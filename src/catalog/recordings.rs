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
    #[schema(value_type = Object)]
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
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingProgress {
    pub duration_ms: i64,
    pub size_bytes: i64,
    pub renditions: serde_json::Value,
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

/// Recordings a process of this node left in 'recording' when it died.
/// Another node's are its own business: they may be live right now.
pub async fn unfinished(db: &PgPool, node: &str) -> Result<Vec<Recording>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT r.* FROM recordings r LEFT JOIN live_sessions s ON s.id = r.live_session_id
         WHERE r.status = 'recording' AND (s.node = $1 OR s.node IS NULL)",
    )
    .bind(node)
    .fetch_all(db)
    .await?)
}

/// Which of these recordings the catalogue knows.
pub async fn known(db: &PgPool, ids: &[Uuid]) -> Result<Vec<Uuid>, CatalogError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM recordings WHERE id = ANY($1)")
            .bind(ids)
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
