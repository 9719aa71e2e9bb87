//! Secrets every node shares (the playback-token key, the setup code).

use sqlx::PgPool;

use crate::catalog::CatalogError;

/// A secret shared by every node, made by the first to ask.
pub async fn shared_secret(db: &PgPool, name: &str) -> Result<Vec<u8>, CatalogError> {
    let fresh: [u8; 32] = rand::random();
    sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(name)
        .bind(&fresh[..])
        .execute(db)
        .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(db)
            .await?,
    )
}
