//! The audit log: who did what to which, from where. Read back with the
//! target's current name (or the name it had, from the entry's detail, once
//! it is gone), so the log reads without looking up ids.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::CatalogError;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    /// Client address, as text.
    pub address: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    /// The target's name now, or as recorded when it was deleted.
    pub target_name: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Which entries to read: every filter optional, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries whose actor belongs to this school (a school's admin).
    pub school: Option<Uuid>,
    /// Part of the actor's name, or of the username tried in a failed sign-in.
    pub who: Option<String>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

pub struct NewAuditEntry<'a> {
    pub actor: Option<(&'a Uuid, &'a str)>,
    pub address: Option<std::net::IpAddr>,
    pub action: &'a str,
    pub target: Option<(&'a str, String)>,
    pub detail: serde_json::Value,
}

pub async fn audit(db: &PgPool, entry: NewAuditEntry<'_>) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_name, address, action, target_kind, target_id, detail)
         VALUES ($1, $2, $3::inet, $4, $5, $6, $7)",
    )
    .bind(entry.actor.map(|a| *a.0))
    .bind(entry.actor.map(|a| a.1))
    .bind(entry.address.map(|a| a.to_string()))
    .bind(entry.action)
    .bind(entry.target.as_ref().map(|t| t.0))
    .bind(entry.target.as_ref().map(|t| t.1.clone()))
    .bind(entry.detail)
    .execute(db)
    .await?;
    Ok(())
}

/// The newest entries `filter` selects.
pub async fn audit_log(db: &PgPool, filter: &AuditFilter) -> Result<Vec<AuditEntry>, CatalogError> {
    let who = filter
        .who
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| {
            let escaped = w
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
    Ok(sqlx::query_as(
        "SELECT a.id, a.at, a.actor_id, a.actor_name, host(a.address) AS address, a.action,
                a.target_kind, a.target_id, a.detail,
                COALESCE(CASE a.target_kind
                    WHEN 'user' THEN (SELECT COALESCE(NULLIF(u.display_name, ''), u.username)
                                      FROM users u WHERE u.id::text = a.target_id)
                    WHEN 'school' THEN (SELECT name FROM schools WHERE id::text = a.target_id)
                    WHEN 'classroom' THEN (SELECT name FROM classrooms WHERE id::text = a.target_id)
                    WHEN 'source' THEN (SELECT COALESCE(NULLIF(s.name, ''), upper(s.kind::text)) || ' · ' || c.name
                                        FROM sources s JOIN classrooms c ON c.id = s.classroom_id
                                        WHERE s.id::text = a.target_id)
                    WHEN 'recording' THEN (SELECT title FROM recordings WHERE id::text = a.target_id)
                    WHEN 'token' THEN (SELECT name FROM api_tokens WHERE id::text = a.target_id)
                 END, a.detail->>'name', a.detail->>'username') AS target_name
         FROM audit_log a
         WHERE ($1::uuid IS NULL OR a.actor_id IN (SELECT id FROM users WHERE school_id = $1))
           AND ($2::text IS NULL OR a.actor_name ILIKE $2 OR a.detail->>'username' ILIKE $2)
           AND ($3::text IS NULL OR a.action = $3)
           AND ($4::timestamptz IS NULL OR a.at >= $4)
           AND ($5::timestamptz IS NULL OR a.at < $5)
         ORDER BY a.at DESC, a.id DESC LIMIT $6 OFFSET $7",
    )
    .bind(filter.school)
    .bind(who)
    .bind(filter.action.as_deref().filter(|a| !a.is_empty()))
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.limit)
    .bind(filter.offset)
    .fetch_all(db)
    .await?)
}
