//! Failed sign-ins, counted in PostgreSQL so every node sees the same limits.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::catalog::CatalogError;

pub async fn record_failure(db: &PgPool, keys: &[String]) -> Result<(), CatalogError> {
    sqlx::query("INSERT INTO login_failures (key) SELECT unnest($1::text[])")
        .bind(keys)
        .execute(db)
        .await?;
    Ok(())
}

/// Failures for `key` since `since`, and when the oldest of them happened.
pub async fn failures_since(
    db: &PgPool,
    key: &str,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), CatalogError> {
    Ok(
        sqlx::query_as("SELECT count(*), min(at) FROM login_failures WHERE key = $1 AND at > $2")
            .bind(key)
            .bind(since)
            .fetch_one(db)
            .await?,
    )
}

pub async fn clear_failures(db: &PgPool, key: &str) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1 OR at < now() - interval '1 day'")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}
