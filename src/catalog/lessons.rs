//! Lessons: one `live_sessions` row per time a classroom went live (the API
//! lists them as `/api/sessions`). "Session" elsewhere means a sign-in.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::CatalogError;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct LiveSession {
    pub id: Uuid,
    pub classroom_id: Uuid,
    pub source_id: Option<Uuid>,
    pub node: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
}

/// Sessions a dead process left open on this node: close them at startup.
pub async fn close_orphans(db: &PgPool, node: &str) -> Result<u64, CatalogError> {
    let closed = sqlx::query(
        "UPDATE live_sessions SET ended_at = now(), end_reason = 'server_restarted'
         WHERE ended_at IS NULL AND node = $1",
    )
    .bind(node)
    .execute(db)
    .await?;
    Ok(closed.rows_affected())
}

#[derive(sqlx::FromRow)]
struct WithFacts {
    #[sqlx(flatten)]
    session: LiveSession,
    school_id: Uuid,
    audiences: Vec<Uuid>,
}

/// The newest sessions whose classroom `visible` lets through, at most
/// `limit`, filtered as they stream so the limit counts visible ones.
pub async fn list_visible(
    db: &PgPool,
    classroom_id: Option<Uuid>,
    only_open: bool,
    limit: i64,
    visible: impl Fn(&crate::auth::policy::ClassroomFacts) -> bool,
) -> Result<Vec<LiveSession>, CatalogError> {
    use futures::TryStreamExt;
    let mut rows = sqlx::query_as::<_, WithFacts>(
        "SELECT ls.*, c.school_id,
                COALESCE(array_agg(a.school_id) FILTER (WHERE a.school_id IS NOT NULL), '{}')
                    AS audiences
         FROM live_sessions ls
         JOIN classrooms c ON c.id = ls.classroom_id
         LEFT JOIN classroom_audiences a ON a.classroom_id = ls.classroom_id
         WHERE ($1::uuid IS NULL OR ls.classroom_id = $1) AND (NOT $2 OR ls.ended_at IS NULL)
         GROUP BY ls.id, c.school_id ORDER BY ls.started_at DESC",
    )
    .bind(classroom_id)
    .bind(only_open)
    .fetch(db);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let facts = crate::auth::policy::ClassroomFacts {
            school_id: row.school_id,
            audiences: row.audiences,
            guests: Vec::new(),
        };
        if visible(&facts) {
            out.push(row.session);
            if out.len() as i64 >= limit {
                break;
            }
        }
    }
    Ok(out)
}
