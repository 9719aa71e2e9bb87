//! A lesson's attachment rows (migration 0028). A row is written only once
//! its object is complete in the media store, and an attachment is
//! whatever has a row: an object without one is garbage, never shown.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::CatalogError;
use crate::library::attachments::kind::Kind;

/// An attachment as the lesson page lists it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Attachment {
    pub id: Uuid,
    pub lesson_id: Uuid,
    /// `task_sheet` (学习任务单), `slides`, `exercises` (检测习题) or `other`.
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    /// As the uploader's computer named it.
    pub file_name: String,
    /// What the bytes are, from their magic numbers.
    pub content_type: String,
    pub byte_size: i64,
    #[serde(skip)]
    pub storage_key: String,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, lesson_id, kind, file_name, content_type, byte_size,
    storage_key, uploaded_by, created_at FROM lesson_attachments";

/// Records an attachment whose object is in the store under its key.
pub async fn insert(db: &PgPool, attachment: &Attachment) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO lesson_attachments (id, lesson_id, kind, file_name, content_type,
             byte_size, storage_key, uploaded_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(attachment.id)
    .bind(attachment.lesson_id)
    .bind(attachment.kind.as_str())
    .bind(&attachment.file_name)
    .bind(&attachment.content_type)
    .bind(attachment.byte_size)
    .bind(&attachment.storage_key)
    .bind(attachment.uploaded_by)
    .bind(attachment.created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A lesson's attachments, oldest first.
pub async fn list(db: &PgPool, lesson: Uuid) -> Result<Vec<Attachment>, CatalogError> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE lesson_id = $1 ORDER BY created_at, id"
    ))
    .bind(lesson)
    .fetch_all(db)
    .await?)
}

/// One attachment of `lesson`: one of another lesson's is not found.
pub async fn get(db: &PgPool, lesson: Uuid, id: Uuid) -> Result<Attachment, CatalogError> {
    Ok(
        sqlx::query_as(&format!("{SELECT} WHERE lesson_id = $1 AND id = $2"))
            .bind(lesson)
            .bind(id)
            .fetch_one(db)
            .await?,
    )
}

/// Removes the row and says which object it referred to.
pub async fn delete(db: &PgPool, lesson: Uuid, id: Uuid) -> Result<Attachment, CatalogError> {
    Ok(sqlx::query_as(
        "DELETE FROM lesson_attachments WHERE lesson_id = $1 AND id = $2
         RETURNING id, lesson_id, kind, file_name, content_type, byte_size,
             storage_key, uploaded_by, created_at",
    )
    .bind(lesson)
    .bind(id)
    .fetch_one(db)
    .await?)
}
