//! Browser sessions, looked up by the SHA-256 of the cookie the browser
//! holds: the secret itself never reaches the database.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::CatalogError;

pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: Uuid,
    pub csrf_token: &'a str,
    pub expires_at: DateTime<Utc>,
    pub address: Option<std::net::IpAddr>,
    pub user_agent: Option<&'a str>,
}

pub async fn create_session(db: &PgPool, session: NewSession<'_>) -> Result<(), CatalogError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO user_sessions (token_hash, user_id, csrf_token, expires_at, address, user_agent)
         VALUES ($1, $2, $3, $4, $5::inet, $6)",
    )
    .bind(session.token_hash)
    .bind(session.user_id)
    .bind(session.csrf_token)
    .bind(session.expires_at)
    .bind(session.address.map(|a| a.to_string()))
    .bind(session.user_agent)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1")
        .bind(session.user_id)
        .execute(&mut *tx)
        .await?;
    // Expired sessions are swept here rather than by a timer.
    sqlx::query("DELETE FROM user_sessions WHERE expires_at < now()")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The user and CSRF token of a live session.
pub async fn session(
    db: &PgPool,
    token_hash: &[u8],
) -> Result<Option<(Uuid, String)>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT s.user_id, s.csrf_token FROM user_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?)
}

pub async fn delete_session(db: &PgPool, token_hash: &[u8]) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM user_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}
