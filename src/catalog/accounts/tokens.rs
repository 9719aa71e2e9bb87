//! API tokens, stored as the SHA-256 of the secret shown once at creation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::{CatalogError, Validation};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the secret, to recognise it by.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn create_token(
    db: &PgPool,
    user_id: Uuid,
    name: &str,
    prefix: &str,
    token_hash: &[u8],
    expires_at: Option<DateTime<Utc>>,
) -> Result<ApiToken, CatalogError> {
    let mut v = Validation::default();
    v.name(name, 100, "name");
    v.finish()?;
    Ok(sqlx::query_as(
        "INSERT INTO api_tokens (id, user_id, name, prefix, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at",
    )
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(name.trim())
    .bind(prefix)
    .bind(token_hash)
    .bind(expires_at)
    .fetch_one(db)
    .await?)
}

pub async fn tokens(db: &PgPool, user_id: Uuid) -> Result<Vec<ApiToken>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

pub async fn token(db: &PgPool, id: Uuid) -> Result<ApiToken, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db)
    .await?)
}

pub async fn revoke_token(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The user a valid token belongs to; marks it used.
pub async fn token_user(db: &PgPool, token_hash: &[u8]) -> Result<Option<Uuid>, CatalogError> {
    Ok(sqlx::query_scalar(
        "UPDATE api_tokens t SET last_used_at = now() FROM users u
         WHERE t.token_hash = $1 AND u.id = t.user_id AND NOT u.disabled
           AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
         RETURNING t.user_id",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?)
}
