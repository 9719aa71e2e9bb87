//! The audit log: who did what to which, from where.

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
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
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

/// The newest entries: all of them, or (for a school's admin) those whose
/// actor belongs to `school`.
pub async fn audit_log(
    db: &PgPool,
    school: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AuditEntry>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor_id, actor_name, host(address) AS address, action, target_kind,
                target_id, detail
         FROM audit_log
         WHERE $2::uuid IS NULL OR actor_id IN (SELECT id FROM users WHERE school_id = $2)
         ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .bind(school)
    .fetch_all(db)
    .await?)
}
