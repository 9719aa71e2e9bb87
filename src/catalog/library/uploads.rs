//! Upload rows and their parts (migration 0024). Every change that moves an
//! upload's offset is conditional on the offset the caller saw, so two
//! nodes taking chunks of one upload at once cannot both win.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::CatalogError;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Upload {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub length: i64,
    /// Bytes stored so far (tus `Upload-Offset`).
    pub received: i64,
    /// `Upload-Metadata` as sent: filename, filetype, ...
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// `receiving` or `complete`.
    pub state: String,
    #[serde(skip)]
    pub media_key: Option<String>,
    /// What FFmpeg found, once complete.
    #[schema(value_type = Option<Object>)]
    pub probe: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Upload {
    pub fn is_complete(&self) -> bool {
        self.state == "complete"
    }
}

pub struct NewUpload<'a> {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub length: u64,
    pub metadata: &'a serde_json::Value,
    pub expires_at: DateTime<Utc>,
}

/// How many unfinished, unexpired uploads a person has at `now`.
async fn unfinished(
    tx: &mut sqlx::PgConnection,
    owner: Uuid,
    now: DateTime<Utc>,
) -> Result<i64, CatalogError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM uploads WHERE owner_id = $1 AND state = 'receiving' AND expires_at > $2",
    )
    .bind(owner)
    .bind(now)
    .fetch_one(tx)
    .await?)
}

/// Creates the row if `allowed(unfinished count)` says so; counting and
/// inserting under one per-person lock, so two creations at once cannot
/// both slip under the limit. The refusal is returned as `allowed` gave it.
pub async fn create<E>(
    db: &PgPool,
    new: NewUpload<'_>,
    now: DateTime<Utc>,
    allowed: impl FnOnce(i64) -> Result<(), E>,
) -> Result<Result<Upload, E>, CatalogError> {
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('uploads:' || $1::text, 0))")
        .bind(new.owner_id)
        .execute(&mut *tx)
        .await?;
    if let Err(refused) = allowed(unfinished(&mut tx, new.owner_id, now).await?) {
        return Ok(Err(refused));
    }
    let upload = sqlx::query_as(
        "INSERT INTO uploads (id, owner_id, length, metadata, expires_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING *",
    )
    .bind(new.id)
    .bind(new.owner_id)
    .bind(new.length as i64)
    .bind(new.metadata)
    .bind(new.expires_at)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(upload))
}

/// The upload, unless it is unfinished and expired at `now` (then it is
/// as good as gone; the sweep deletes it).
pub async fn get(db: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<Upload, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT * FROM uploads WHERE id = $1 AND (state = 'complete' OR expires_at > $2)",
    )
    .bind(id)
    .bind(now)
    .fetch_one(db)
    .await?)
}

/// A stored chunk.
pub struct Part<'a> {
    pub start: u64,
    pub length: u64,
    pub key: &'a str,
}

/// Records a chunk if the upload still stands at its start; false when
/// another request got there first.
pub async fn add_part(
    db: &PgPool,
    id: Uuid,
    part: &Part<'_>,
    expires_at: DateTime<Utc>,
) -> Result<bool, CatalogError> {
    let mut tx = db.begin().await?;
    let moved = sqlx::query(
        "UPDATE uploads SET received = received + $3, expires_at = $4
         WHERE id = $1 AND received = $2 AND state = 'receiving'",
    )
    .bind(id)
    .bind(part.start as i64)
    .bind(part.length as i64)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO upload_parts (upload_id, start, length, object_key) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(part.start as i64)
    .bind(part.length as i64)
    .bind(part.key)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// The stored chunks' object keys, in order.
pub async fn part_keys(db: &PgPool, id: Uuid) -> Result<Vec<String>, CatalogError> {
    Ok(sqlx::query_scalar(
        "SELECT object_key FROM upload_parts WHERE upload_id = $1 ORDER BY start",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// Marks the upload complete with its last chunk, its assembled object and
/// the probe's findings, if it still stands at `from`; false otherwise.
pub async fn complete(
    db: &PgPool,
    id: Uuid,
    from: u64,
    media_key: &str,
    probe: &serde_json::Value,
) -> Result<bool, CatalogError> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE uploads SET received = length, state = 'complete', media_key = $3, probe = $4,
                completed_at = now()
         WHERE id = $1 AND received = $2 AND state = 'receiving'",
    )
    .bind(id)
    .bind(from as i64)
    .bind(media_key)
    .bind(probe)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done == 0 {
        return Ok(false);
    }
    // The parts are joined into media_key; their objects are deleted next.
    sqlx::query("DELETE FROM upload_parts WHERE upload_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Unfinished uploads that expired before `now`.
pub async fn expired(db: &PgPool, now: DateTime<Utc>) -> Result<Vec<Uuid>, CatalogError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM uploads WHERE state = 'receiving' AND expires_at <= $1 ORDER BY expires_at LIMIT 100",
    )
    .bind(now)
    .fetch_all(db)
    .await?)
}
