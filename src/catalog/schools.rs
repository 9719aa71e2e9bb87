//! Schools: the group, its campuses, and partner schools.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CatalogError, Validation};

/// Identity platforms' school codes are short.
pub const MAX_EXTERNAL_ID_CHARS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "school_kind", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum SchoolKind {
    Group,
    Campus,
    Partner,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct School {
    pub id: Uuid,
    pub name: String,
    pub kind: SchoolKind,
    pub parent_id: Option<Uuid>,
    /// The identity platform's code for this school (single sign-on).
    pub external_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchool {
    pub name: String,
    #[serde(default = "default_kind")]
    pub kind: SchoolKind,
    pub parent_id: Option<Uuid>,
    /// The identity platform's code for this school, if single sign-on is used.
    pub external_id: Option<String>,
}

fn default_kind() -> SchoolKind {
    SchoolKind::Campus
}

pub async fn list(db: &PgPool) -> Result<Vec<School>, CatalogError> {
    Ok(sqlx::query_as("SELECT * FROM schools ORDER BY kind, name")
        .fetch_all(db)
        .await?)
}

pub async fn create(db: &PgPool, new: NewSchool) -> Result<School, CatalogError> {
    let mut validation = Validation::default();
    validation.name(&new.name, super::MAX_NAME_CHARS, "name");
    validation.text(
        new.external_id.as_deref(),
        MAX_EXTERNAL_ID_CHARS,
        "external_id",
    );
    validation.finish()?;
    Ok(sqlx::query_as(
        "INSERT INTO schools (id, name, kind, parent_id, external_id) VALUES ($1, $2, $3, $4, $5)
         RETURNING *",
    )
    .bind(Uuid::new_v4())
    .bind(new.name.trim())
    .bind(new.kind)
    .bind(new.parent_id)
    .bind(
        new.external_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
    )
    .fetch_one(db)
    .await?)
}

/// The school new classrooms go to when none is named: the first campus,
/// created on first use so a fresh install works without set-up.
pub async fn default_school(db: &PgPool) -> Result<Uuid, CatalogError> {
    if let Some(id) = sqlx::query_scalar(
        "SELECT id FROM schools WHERE kind <> 'partner' ORDER BY created_at LIMIT 1",
    )
    .fetch_optional(db)
    .await?
    {
        return Ok(id);
    }
    let school = create(
        db,
        NewSchool {
            name: "本校 / Main school".into(),
            kind: SchoolKind::Campus,
            parent_id: None,
            external_id: None,
        },
    )
    .await?;
    Ok(school.id)
}

/// The school an identity platform calls `code`.
pub async fn by_external_id(db: &PgPool, code: &str) -> Result<Option<Uuid>, CatalogError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM schools WHERE external_id = $1")
            .bind(code)
            .fetch_optional(db)
            .await?,
    )
}
