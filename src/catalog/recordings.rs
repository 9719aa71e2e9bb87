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

/// What the recordings page asks for: every filter optional, newest first,
/// `offset` and `limit` counted in recordings the caller may see.
#[derive(Debug, Clone, Default)]
pub struct RecordingFilter {
    pub classroom_id: Option<Uuid>,
    pub school_id: Option<Uuid>,
    pub teacher_id: Option<Uuid>,
    /// Part of the teacher's name or username.
    pub teacher: Option<String>,
    /// Part of the title.
    pub q: Option<String>,
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

/// A recording as lists show it: with its classroom, school and teacher
/// by name, and whether the caller may rename, share or delete it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingListItem {
    #[serde(flatten)]
    pub recording: Recording,
    pub classroom_name: String,
    pub school_id: Uuid,
    pub teacher_name: Option<String>,
    pub can_manage: bool,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    with_facts: WithFacts,
    classroom_name: String,
    teacher_name: Option<String>,
}

impl ListRow {
    fn item(self, can_manage: bool) -> RecordingListItem {
        RecordingListItem {
            school_id: self.with_facts.school_id,
            recording: self.with_facts.recording,
            classroom_name: self.classroom_name,
            teacher_name: self.teacher_name,
            can_manage,
        }
    }
}

const LIST: &str = "SELECT r.*, c.school_id, c.name AS classroom_name,
        NULLIF(COALESCE(NULLIF(t.display_name, ''), t.username), '') AS teacher_name,
        COALESCE(array_agg(s.user_id) FILTER (WHERE s.user_id IS NOT NULL), '{}') AS shared_users,
        COALESCE(array_agg(s.school_id) FILTER (WHERE s.school_id IS NOT NULL), '{}') AS shared_schools
     FROM recordings r
     JOIN classrooms c ON c.id = r.classroom_id
     LEFT JOIN users t ON t.id = r.teacher_id
     LEFT JOIN recording_shares s ON s.recording_id = r.id";

/// `%` and `_` typed into a search box are characters, not patterns.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The newest recordings matching `filter` that `visible` lets through.
/// They are filtered as they stream from the database, so offset and
/// limit count what the caller may see, not what exists; `manage` says
/// per row whether the caller may change it.
pub async fn list_visible(
    db: &PgPool,
    filter: &RecordingFilter,
    visible: impl Fn(&crate::auth::policy::RecordingFacts) -> bool,
    manage: impl Fn(&crate::auth::policy::RecordingFacts) -> bool,
) -> Result<Vec<RecordingListItem>, CatalogError> {
    use futures::TryStreamExt;
    let sql = format!(
        "{LIST} WHERE ($1::uuid IS NULL OR r.classroom_id = $1)
           AND ($2::uuid IS NULL OR c.school_id = $2)
           AND ($3::uuid IS NULL OR r.teacher_id = $3)
           AND ($4::text IS NULL OR t.display_name ILIKE $4 OR t.username ILIKE $4)
           AND ($5::text IS NULL OR r.title ILIKE $5)
           AND ($6::timestamptz IS NULL OR r.started_at >= $6)
           AND ($7::timestamptz IS NULL OR r.started_at < $7)
         GROUP BY r.id, c.school_id, c.name, t.display_name, t.username
         ORDER BY r.started_at DESC, r.id"
    );
    let pattern = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(like_pattern)
    };
    let mut rows = sqlx::query_as::<_, ListRow>(&sql)
        .bind(filter.classroom_id)
        .bind(filter.school_id)
        .bind(filter.teacher_id)
        .bind(pattern(&filter.teacher))
        .bind(pattern(&filter.q))
        .bind(filter.from)
        .bind(filter.to)
        .fetch(db);
    let mut out = Vec::new();
    let mut skipped = 0;
    while let Some(row) = rows.try_next().await? {
        let facts = row.with_facts.facts();
        if !visible(&facts) {
            continue;
        }
        if skipped < filter.offset {
            skipped += 1;
            continue;
        }
        out.push(row.item(manage(&facts)));
        if out.len() as i64 >= filter.limit {
            break;
        }
    }
    Ok(out)
}

/// One recording as lists show it (names, school), whoever may see it.
pub async fn list_item(
    db: &PgPool,
    id: Uuid,
    can_manage: bool,
) -> Result<RecordingListItem, CatalogError> {
    let row: ListRow = sqlx::query_as(&format!(
        "{LIST} WHERE r.id = $1 GROUP BY r.id, c.school_id, c.name, t.display_name, t.username"
    ))
    .bind(id)
    .fetch_one(db)
    .await?;
    Ok(row.item(can_manage))
}

/// Renames a recording (its teacher's or an admin's choice of title).
pub async fn set_title(db: &PgPool, id: Uuid, title: &str) -> Result<(), CatalogError> {
    let mut v = super::Validation::default();
    v.check(super::valid_name(title), "title", "invalid_title");
    v.finish()?;
    let updated = sqlx::query("UPDATE recordings SET title = $2 WHERE id = $1")
        .bind(id)
        .bind(title.trim())
        .execute(db)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

/// The title a new recording gets: the classroom's name and when the
/// lesson began, on the clock of the classroom's school (not the server's),
/// so titles agree with the times the UI shows. For the recorder to call.
pub async fn default_title(
    db: &PgPool,
    classroom_id: Uuid,
    started_at: DateTime<Utc>,
) -> Result<String, CatalogError> {
    Ok(sqlx::query_scalar(
        "SELECT c.name || ' ' || to_char($2 AT TIME ZONE s.time_zone, 'YYYY-MM-DD HH24:MI')
         FROM classrooms c JOIN schools s ON s.id = c.school_id WHERE c.id = $1",
    )
    .bind(classroom_id)
    .bind(started_at)
    .fetch_one(db)
    .await?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(like_pattern("初二"), "%初二%");
        assert_eq!(like_pattern("100%_a"), "%100\\%\\_a%");
        assert_eq!(like_pattern("a\\b"), "%a\\\\b%");
    }
}
