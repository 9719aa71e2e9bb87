//! Classrooms: a recording room with its cameras, its ladder and its
//! recording policy.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CatalogError, Validation};

/// Heights a ladder may list; anything else is a typo, not a wish.
const LADDER_MIN_HEIGHT: i32 = 144;
const LADDER_MAX_HEIGHT: i32 = 2160;
const LADDER_MAX_RUNGS: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Classroom {
    pub id: Uuid,
    pub school_id: Uuid,
    pub name: String,
    pub recording_enabled: bool,
    /// Keep only this many seconds of recording (rolling); null keeps everything.
    pub recording_window_seconds: Option<i32>,
    /// Heights of the transcoded renditions, highest first.
    pub ladder_heights: Vec<i32>,
    /// Seconds of "signal lost" before the lesson ends; null = server default.
    pub grace_seconds: Option<i32>,
    /// Who teaches here: the lessons' recordings are theirs to review.
    pub teacher_id: Option<Uuid>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClassroom {
    pub name: String,
    /// Defaults to the first campus.
    pub school_id: Option<Uuid>,
    #[serde(default = "yes")]
    pub recording_enabled: bool,
    pub recording_window_seconds: Option<i32>,
    #[serde(default = "default_ladder")]
    pub ladder_heights: Vec<i32>,
    pub grace_seconds: Option<i32>,
}

/// Fields left out stay as they are; `null` clears the optional ones.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassroomUpdate {
    pub name: Option<String>,
    pub recording_enabled: Option<bool>,
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<i32>)]
    pub recording_window_seconds: Option<Option<i32>>,
    pub ladder_heights: Option<Vec<i32>>,
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<i32>)]
    pub grace_seconds: Option<Option<i32>>,
    #[serde(default, deserialize_with = "super::present_or_null")]
    #[schema(value_type = Option<Uuid>)]
    pub teacher_id: Option<Option<Uuid>>,
}

fn yes() -> bool {
    true
}

pub fn default_ladder() -> Vec<i32> {
    vec![720, 360]
}

fn validate(
    validation: &mut Validation,
    name: Option<&str>,
    window: Option<i32>,
    ladder: Option<&[i32]>,
    grace: Option<i32>,
) {
    if let Some(name) = name {
        validation.name(name, super::MAX_NAME_CHARS, "name");
    }
    validation.check(
        window.is_none_or(|w| w > 0),
        "recording_window_seconds",
        "must_be_positive",
    );
    if let Some(ladder) = ladder {
        let heights_ok = ladder
            .iter()
            .all(|h| (LADDER_MIN_HEIGHT..=LADDER_MAX_HEIGHT).contains(h) && h % 2 == 0);
        let mut distinct = ladder.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        validation.check(
            heights_ok && distinct.len() == ladder.len() && ladder.len() <= LADDER_MAX_RUNGS,
            "ladder_heights",
            "invalid_ladder",
        );
    }
    validation.check(
        grace.is_none_or(|g| (0..=3600).contains(&g)),
        "grace_seconds",
        "invalid_grace",
    );
}

/// Highest first, the order players list them in.
fn sorted_ladder(mut ladder: Vec<i32>) -> Vec<i32> {
    ladder.sort_unstable_by(|a, b| b.cmp(a));
    ladder
}

pub async fn list(db: &PgPool) -> Result<Vec<Classroom>, CatalogError> {
    Ok(
        sqlx::query_as("SELECT * FROM classrooms ORDER BY created_at")
            .fetch_all(db)
            .await?,
    )
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<Classroom, CatalogError> {
    Ok(sqlx::query_as("SELECT * FROM classrooms WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await?)
}

pub async fn create(db: &PgPool, new: NewClassroom) -> Result<Classroom, CatalogError> {
    let mut validation = Validation::default();
    validate(
        &mut validation,
        Some(&new.name),
        new.recording_window_seconds,
        Some(&new.ladder_heights),
        new.grace_seconds,
    );
    validation.finish()?;
    let school_id = match new.school_id {
        Some(id) => id,
        None => super::schools::default_school(db).await?,
    };
    let result = sqlx::query_as(
        "INSERT INTO classrooms (id, school_id, name, recording_enabled, recording_window_seconds, ladder_heights, grace_seconds)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
    )
    .bind(Uuid::new_v4())
    .bind(school_id)
    .bind(new.name.trim())
    .bind(new.recording_enabled)
    .bind(new.recording_window_seconds)
    .bind(sorted_ladder(new.ladder_heights))
    .bind(new.grace_seconds)
    .fetch_one(db)
    .await;
    match result {
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            let mut validation = Validation::default();
            validation.check(false, "school_id", "unknown_school");
            validation
                .finish()
                .map(|_| unreachable!("finish fails with an error"))
        }
        other => Ok(other?),
    }
}

pub async fn update(
    db: &PgPool,
    id: Uuid,
    update: ClassroomUpdate,
) -> Result<Classroom, CatalogError> {
    let mut validation = Validation::default();
    validate(
        &mut validation,
        update.name.as_deref(),
        update.recording_window_seconds.flatten(),
        update.ladder_heights.as_deref(),
        update.grace_seconds.flatten(),
    );
    let current = get(db, id).await?;
    if let Some(Some(teacher)) = update.teacher_id {
        // The teacher sees every recording made here: only a teacher of
        // this classroom's own school.
        let teaches_here: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users u JOIN user_roles r ON r.user_id = u.id
                            WHERE u.id = $1 AND u.school_id = $2 AND r.role = 'teacher')",
        )
        .bind(teacher)
        .bind(current.school_id)
        .fetch_one(db)
        .await?;
        validation.check(teaches_here, "teacher_id", "not_a_teacher_here");
    }
    validation.finish()?;
    Ok(sqlx::query_as(
        "UPDATE classrooms SET name = $2, recording_enabled = $3, recording_window_seconds = $4,
             ladder_heights = $5, grace_seconds = $6, teacher_id = $7, updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(
        update
            .name
            .as_deref()
            .map(str::trim)
            .unwrap_or(&current.name),
    )
    .bind(
        update
            .recording_enabled
            .unwrap_or(current.recording_enabled),
    )
    .bind(
        update
            .recording_window_seconds
            .unwrap_or(current.recording_window_seconds),
    )
    .bind(sorted_ladder(
        update.ladder_heights.unwrap_or(current.ladder_heights),
    ))
    .bind(update.grace_seconds.unwrap_or(current.grace_seconds))
    .bind(update.teacher_id.unwrap_or(current.teacher_id))
    .fetch_one(db)
    .await?)
}

pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    let deleted = sqlx::query("DELETE FROM classrooms WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

/// What access decisions about a classroom need at `now`.
pub async fn facts(
    db: &PgPool,
    id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<crate::auth::policy::ClassroomFacts, CatalogError> {
    let school_id: Uuid = sqlx::query_scalar("SELECT school_id FROM classrooms WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await?;
    let audiences = audiences(db, id).await?;
    // While an interactive session links it to other schools' classrooms,
    // those schools are invited too (and only then).
    let guests = super::interactive::guest_schools(db, id, now)
        .await?
        .into_iter()
        .filter(|s| *s != school_id && !audiences.contains(s))
        .collect();
    Ok(crate::auth::policy::ClassroomFacts {
        school_id,
        audiences,
        guests,
    })
}

/// The partner schools invited to a classroom's lessons, as its school set them.
pub async fn audiences(db: &PgPool, id: Uuid) -> Result<Vec<Uuid>, CatalogError> {
    Ok(sqlx::query_scalar(
        "SELECT school_id FROM classroom_audiences WHERE classroom_id = $1 ORDER BY school_id",
    )
    .bind(id)
    .fetch_all(db)
    .await?)
}

/// The classroom's open lesson as the catalogue has it, whichever node
/// runs it (a node asked for a playback token may not be the one the
/// camera publishes to).
pub async fn open_lesson(db: &PgPool, id: Uuid) -> Result<Option<Uuid>, CatalogError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM live_sessions WHERE classroom_id = $1 AND ended_at IS NULL",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Every classroom's audiences, for filtering lists in one query.
pub async fn all_audiences(
    db: &PgPool,
) -> Result<std::collections::HashMap<Uuid, Vec<Uuid>>, CatalogError> {
    let rows: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT classroom_id, school_id FROM classroom_audiences")
            .fetch_all(db)
            .await?;
    let mut map: std::collections::HashMap<Uuid, Vec<Uuid>> = Default::default();
    for (classroom, school) in rows {
        map.entry(classroom).or_default().push(school);
    }
    Ok(map)
}

/// Replaces the partner schools invited to a classroom's lessons.
pub async fn set_audiences(db: &PgPool, id: Uuid, schools: &[Uuid]) -> Result<(), CatalogError> {
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM schools WHERE id = ANY($1)")
        .bind(schools)
        .fetch_one(db)
        .await?;
    let distinct: std::collections::BTreeSet<&Uuid> = schools.iter().collect();
    let mut v = Validation::default();
    v.check(known == distinct.len() as i64, "schools", "unknown_school");
    v.finish()?;
    let mut tx = db.begin().await?;
    // A school taken off the list loses the lesson now, not when its
    // viewers' tokens expire.
    let removed: i64 = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM classroom_audiences WHERE classroom_id = $1 RETURNING school_id)
         SELECT count(*) FROM gone WHERE school_id <> ALL($2)",
    )
    .bind(id)
    .bind(schools)
    .fetch_one(&mut *tx)
    .await?;
    if removed > 0 {
        crate::catalog::accounts::revocations::revoke(
            &mut tx,
            crate::catalog::accounts::revocations::Subject::Classroom(id),
        )
        .await?;
    }
    sqlx::query(
        "INSERT INTO classroom_audiences (classroom_id, school_id)
         SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(schools)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders_must_be_sane() {
        let check = |ladder: &[i32]| {
            let mut v = Validation::default();
            validate(&mut v, None, None, Some(ladder), None);
            v.finish().is_ok()
        };
        assert!(check(&[720, 360]));
        assert!(check(&[]));
        assert!(!check(&[720, 720]));
        assert!(!check(&[721]));
        assert!(!check(&[100_000]));
        assert!(!check(&[1080, 720, 480, 360, 240]));
    }
}
