//! Schools: the group, its campuses, and partner schools. Names are unique
//! under one parent; a school is deleted only while nothing hangs off it
//! (classrooms, people, campuses); each has the time zone its times are
//! shown in.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CatalogError, Validation};

/// Identity platforms' school codes are short.
pub const MAX_EXTERNAL_ID_CHARS: usize = 100;

/// Beijing time: where classcast's schools are, unless one says otherwise.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

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
    /// IANA zone every time about this school is shown in (default Asia/Shanghai).
    pub time_zone: String,
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
    /// IANA time zone; Asia/Shanghai when left out.
    pub time_zone: Option<String>,
}

/// Fields left out stay as they are; `null` clears the optional ones.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchoolUpdate {
    pub name: Option<String>,
    pub kind: Option<SchoolKind>,
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    pub time_zone: Option<String>,
}

fn default_kind() -> SchoolKind {
    SchoolKind::Campus
}

/// Blank codes are no code: the form's empty field.
fn clean_external_id(id: Option<&str>) -> Option<String> {
    id.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// PostgreSQL knows the IANA zones; asking it avoids a second copy of the tz database.
async fn known_time_zone(db: &PgPool, zone: &str) -> Result<bool, CatalogError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
            .bind(zone)
            .fetch_one(db)
            .await?,
    )
}

/// Unique and foreign-key violations as the field or reason they concern.
fn refusal(error: sqlx::Error) -> CatalogError {
    if let sqlx::Error::Database(db) = &error {
        match db.constraint() {
            Some("schools_name_per_parent") => {
                return CatalogError::Taken {
                    field: "name",
                    code: "name_taken",
                };
            }
            Some("schools_external_id_key") => {
                return CatalogError::Taken {
                    field: "external_id",
                    code: "external_id_taken",
                };
            }
            Some("schools_parent_id_fkey") => {
                let mut v = Validation::default();
                v.check(false, "parent_id", "unknown_parent");
                return v.finish().expect_err("a failed check is an error");
            }
            _ => {}
        }
    }
    error.into()
}

async fn validate(
    db: &PgPool,
    name: &str,
    external_id: Option<&str>,
    time_zone: &str,
) -> Result<(), CatalogError> {
    let mut validation = Validation::default();
    validation.name(name, super::MAX_NAME_CHARS, "name");
    validation.text(external_id, MAX_EXTERNAL_ID_CHARS, "external_id");
    // A NUL cannot even be sent to PostgreSQL: only plain text is looked up.
    validation.text(Some(time_zone), super::MAX_SHORT_TEXT_CHARS, "time_zone");
    if super::valid_text(time_zone, super::MAX_SHORT_TEXT_CHARS) {
        validation.check(
            known_time_zone(db, time_zone).await?,
            "time_zone",
            "invalid_time_zone",
        );
    }
    validation.finish()
}

pub async fn list(db: &PgPool) -> Result<Vec<School>, CatalogError> {
    Ok(sqlx::query_as("SELECT * FROM schools ORDER BY kind, name")
        .fetch_all(db)
        .await?)
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<School, CatalogError> {
    Ok(sqlx::query_as("SELECT * FROM schools WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await?)
}

pub async fn create(db: &PgPool, new: NewSchool) -> Result<School, CatalogError> {
    let external_id = clean_external_id(new.external_id.as_deref());
    let time_zone = new.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE);
    validate(db, &new.name, external_id.as_deref(), time_zone).await?;
    sqlx::query_as(
        "INSERT INTO schools (id, name, kind, parent_id, external_id, time_zone)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
    )
    .bind(Uuid::new_v4())
    .bind(new.name.trim())
    .bind(new.kind)
    .bind(new.parent_id)
    .bind(external_id)
    .bind(time_zone)
    .fetch_one(db)
    .await
    .map_err(refusal)
}

pub async fn update(db: &PgPool, id: Uuid, update: SchoolUpdate) -> Result<School, CatalogError> {
    let current = get(db, id).await?;
    let name = update.name.unwrap_or(current.name);
    let external_id = match update.external_id {
        Some(given) => clean_external_id(given.as_deref()),
        None => current.external_id,
    };
    let time_zone = update.time_zone.unwrap_or(current.time_zone);
    let parent_id = update.parent_id.unwrap_or(current.parent_id);
    validate(db, &name, external_id.as_deref(), &time_zone).await?;
    let mut v = Validation::default();
    v.check(parent_id != Some(id), "parent_id", "unknown_parent");
    v.finish()?;
    sqlx::query_as(
        "UPDATE schools SET name = $2, kind = $3, parent_id = $4, external_id = $5, time_zone = $6
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(name.trim())
    .bind(update.kind.unwrap_or(current.kind))
    .bind(parent_id)
    .bind(external_id)
    .bind(time_zone)
    .fetch_one(db)
    .await
    .map_err(refusal)
}

/// Deletes a school nothing depends on. Classrooms, people and campuses
/// keep it (their foreign keys restrict), answered as `school_in_use`;
/// invitations to its lessons and shares with it go with it.
pub async fn delete(db: &PgPool, id: Uuid) -> Result<School, CatalogError> {
    let school = get(db, id).await?;
    match sqlx::query("DELETE FROM schools WHERE id = $1")
        .bind(id)
        .execute(db)
        .await
    {
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            Err(CatalogError::Conflict("school_in_use"))
        }
        Err(e) => Err(e.into()),
        Ok(_) => Ok(school),
    }
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
            time_zone: None,
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
