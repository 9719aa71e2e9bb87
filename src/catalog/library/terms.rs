//! The library's terms: subjects (学科), grades (年级) and textbook editions
//! (教材版本). Seeded by the migration; resource-center staff add and
//! rename them. They are not deleted here: lessons and knowledge points
//! hang off them.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::catalog::{CatalogError, Validation};

/// Which of the three lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    Subject,
    Grade,
    Edition,
}

impl TermKind {
    fn table(self) -> &'static str {
        match self {
            TermKind::Subject => "subjects",
            TermKind::Grade => "grades",
            TermKind::Edition => "editions",
        }
    }

    fn stage_column(self) -> &'static str {
        match self {
            TermKind::Grade => "stage",
            _ => "NULL::text AS stage",
        }
    }
}

pub const MAX_TERM_NAME_CHARS: usize = 50;
pub const STAGES: &[&str] = &["primary", "junior", "senior"];

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Term {
    pub id: Uuid,
    /// Stable, for programs and imports (`math`, `g7`, `pep`).
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub position: i16,
    /// Grades only: `primary` (小学), `junior` (初中), `senior` (高中).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTerm {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub position: i16,
    /// Required for grades, refused for the others.
    pub stage: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TermUpdate {
    pub name: Option<String>,
    pub name_en: Option<String>,
    pub position: Option<i16>,
    pub stage: Option<String>,
}

fn valid_code(code: &str) -> bool {
    let mut chars = code.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && code.len() <= 40
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_stage(kind: TermKind, stage: Option<&str>, creating: bool, v: &mut Validation) {
    match (kind, stage) {
        (TermKind::Grade, Some(s)) => v.check(STAGES.contains(&s), "stage", "invalid_value"),
        (TermKind::Grade, None) => v.check(!creating, "stage", "required"),
        (_, Some(_)) => v.check(false, "stage", "invalid_value"),
        (_, None) => {}
    }
}

pub async fn list(db: &PgPool, kind: TermKind) -> Result<Vec<Term>, CatalogError> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, code, name, name_en, position, {} FROM {} ORDER BY position, name",
        kind.stage_column(),
        kind.table()
    ))
    .fetch_all(db)
    .await?)
}

pub async fn get(db: &PgPool, kind: TermKind, id: Uuid) -> Result<Term, CatalogError> {
    Ok(sqlx::query_as(&format!(
        "SELECT id, code, name, name_en, position, {} FROM {} WHERE id = $1",
        kind.stage_column(),
        kind.table()
    ))
    .bind(id)
    .fetch_one(db)
    .await?)
}

pub async fn create(db: &PgPool, kind: TermKind, new: &NewTerm) -> Result<Term, CatalogError> {
    let mut v = Validation::default();
    v.check(valid_code(&new.code), "code", "invalid_code");
    v.name(&new.name, MAX_TERM_NAME_CHARS, "name");
    v.text(
        Some(&new.name_en),
        crate::catalog::MAX_NAME_CHARS,
        "name_en",
    );
    check_stage(kind, new.stage.as_deref(), true, &mut v);
    v.finish()?;
    let id = Uuid::new_v4();
    let stage = if kind == TermKind::Grade {
        ", stage) VALUES ($1, $2, $3, $4, $5, $6)"
    } else {
        ") VALUES ($1, $2, $3, $4, $5)"
    };
    let sql = format!(
        "INSERT INTO {} (id, code, name, name_en, position{stage}",
        kind.table()
    );
    let mut query = sqlx::query(&sql)
        .bind(id)
        .bind(&new.code)
        .bind(new.name.trim())
        .bind(new.name_en.trim())
        .bind(new.position);
    if kind == TermKind::Grade {
        query = query.bind(&new.stage);
    }
    query.execute(db).await?;
    get(db, kind, id).await
}

pub async fn update(
    db: &PgPool,
    kind: TermKind,
    id: Uuid,
    update: &TermUpdate,
) -> Result<Term, CatalogError> {
    let mut v = Validation::default();
    if let Some(name) = &update.name {
        v.name(name, MAX_TERM_NAME_CHARS, "name");
    }
    v.text(
        update.name_en.as_deref(),
        crate::catalog::MAX_NAME_CHARS,
        "name_en",
    );
    check_stage(kind, update.stage.as_deref(), false, &mut v);
    v.finish()?;
    let stage = if kind == TermKind::Grade {
        ", stage = COALESCE($5, stage)"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE {} SET name = COALESCE($2, name), name_en = COALESCE($3, name_en),
         position = COALESCE($4, position){stage} WHERE id = $1",
        kind.table()
    );
    let mut query = sqlx::query(&sql)
        .bind(id)
        .bind(update.name.as_deref().map(str::trim))
        .bind(update.name_en.as_deref().map(str::trim))
        .bind(update.position);
    if kind == TermKind::Grade {
        query = query.bind(&update.stage);
    }
    let done = query.execute(db).await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    get(db, kind, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_lowercase_identifiers() {
        assert!(valid_code("math") && valid_code("g10") && valid_code("pe_health"));
        assert!(!valid_code("") && !valid_code("Math") && !valid_code("1st"));
        assert!(!valid_code("数学") && !valid_code(&"a".repeat(41)));
    }
}
