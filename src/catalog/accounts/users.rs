//! Users and their roles: creating, listing, changing, disabling, and the
//! stored credentials sign-in checks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Principal, Role, RoleGrant};
use crate::catalog::accounts::revocations::{self, Subject};
use crate::catalog::{CatalogError, Validation};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub school_id: Option<Uuid>,
    pub username: String,
    pub display_name: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub roles: Vec<RoleGrant>,
    /// Signs in with a password (false: single sign-on only).
    pub has_password: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    pub school_id: Option<Uuid>,
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    pub password: Option<String>,
    pub roles: Vec<RoleGrant>,
}

/// The one form a username is stored, looked up and rate-limited in:
/// compatibility-normalised (NFKC: full-width `ｚｈａｎｇ` is `zhang`), then
/// case-folded by Unicode's default full folding, then NFKC again (folding
/// can undo normalisation). Sign-in, the lock keys and the unique index all
/// see this form, so no spelling reaches an account while missing its lock.
/// `İ` folds to `i` + a combining dot, which no valid username contains:
/// it names no account, never someone else's.
pub fn normalise_username(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let compatible: String = name.trim().nfkc().collect();
    caseless::default_case_fold_str(&compatible)
        .nfkc()
        .collect()
}

/// Usernames: letters (any script), digits and `._-@`, as school ID systems use.
pub fn valid_username(name: &str) -> bool {
    let count = name.chars().count();
    (1..=64).contains(&count)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

pub fn validate_roles(roles: &[RoleGrant], v: &mut Validation) {
    v.check(!roles.is_empty(), "roles", "roles_required");
    v.check(
        roles
            .iter()
            .all(|g| (g.role == Role::Reviewer) == g.review_level.is_some()),
        "roles",
        "review_level_mismatch",
    );
    // A subject names the teaching-research group (教研组) a reviewer sits in.
    v.check(
        roles.iter().all(|g| {
            g.subject_id.is_none()
                || g.review_level == Some(crate::auth::ReviewLevel::TeachingGroup)
        }),
        "roles",
        "subject_only_for_teaching_group",
    );
}

pub fn validate_password(password: &str, v: &mut Validation) {
    v.check(
        password.chars().count() >= crate::auth::password::MIN_LENGTH,
        "password",
        "password_too_short",
    );
    v.check(
        password.len() <= crate::auth::password::MAX_LENGTH,
        "password",
        "too_long",
    );
}

/// One order for comparing sets of grants.
fn grant_order(g: &RoleGrant) -> (u8, Option<u8>, Option<Uuid>) {
    (g.role as u8, g.review_level.map(|l| l as u8), g.subject_id)
}

/// The roles of some grants, without their review levels.
pub fn role_kinds(grants: &[RoleGrant]) -> Vec<Role> {
    grants.iter().map(|g| g.role).collect()
}

impl User {
    pub fn role_kinds(&self) -> Vec<Role> {
        role_kinds(&self.roles)
    }
}

pub fn validate_new(user: &NewUser) -> Result<(), CatalogError> {
    let mut v = Validation::default();
    v.check(
        valid_username(&user.username),
        "username",
        "invalid_username",
    );
    v.text(
        Some(&user.display_name),
        crate::catalog::MAX_NAME_CHARS,
        "display_name",
    );
    if let Some(password) = &user.password {
        validate_password(password, &mut v);
    }
    validate_roles(&user.roles, &mut v);
    v.check(
        user.school_id.is_some() || user.roles.iter().all(|g| g.role == Role::SystemAdmin),
        "school_id",
        "school_required",
    );
    v.finish()
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    school_id: Option<Uuid>,
    username: String,
    display_name: String,
    disabled: bool,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    has_password: bool,
}

const USER_COLUMNS: &str = "id, school_id, username, display_name, disabled, created_at, \
     last_login_at, password_hash IS NOT NULL AS has_password";

async fn roles_of(db: &PgPool, user: Uuid) -> Result<Vec<RoleGrant>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT role, review_level, subject_id FROM user_roles WHERE user_id = $1
         ORDER BY role, review_level, subject_id",
    )
    .bind(user)
    .fetch_all(db)
    .await?)
}

async fn with_roles(db: &PgPool, row: UserRow) -> Result<User, CatalogError> {
    let roles = roles_of(db, row.id).await?;
    Ok(User {
        id: row.id,
        school_id: row.school_id,
        username: row.username,
        display_name: row.display_name,
        disabled: row.disabled,
        created_at: row.created_at,
        last_login_at: row.last_login_at,
        roles,
        has_password: row.has_password,
    })
}

/// Creates a user; `password_hash` is already argon2id (hashing is slow and
/// belongs off the async threads).
pub async fn create(
    db: &PgPool,
    user: &NewUser,
    password_hash: Option<String>,
) -> Result<User, CatalogError> {
    validate_new(user)?;
    let mut tx = db.begin().await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO users (id, school_id, username, display_name, password_hash)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(user.school_id)
    .bind(normalise_username(&user.username))
    .bind(user.display_name.trim())
    .bind(password_hash)
    .execute(&mut *tx)
    .await
    .map_err(username_refusal)?;
    insert_roles(&mut tx, id, &user.roles).await?;
    tx.commit().await?;
    get(db, id).await
}

/// A username someone already has, as a conflict in that field.
fn username_refusal(error: sqlx::Error) -> CatalogError {
    match &error {
        sqlx::Error::Database(db) if db.constraint() == Some("users_username_exact") => {
            CatalogError::Taken {
                field: "username",
                code: "username_taken",
            }
        }
        _ => error.into(),
    }
}

/// The account with this username (in any case or width: it is normalised).
pub async fn id_by_username(db: &PgPool, username: &str) -> Result<Option<Uuid>, CatalogError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(normalise_username(username))
            .fetch_optional(db)
            .await?,
    )
}

pub async fn get(db: &PgPool, id: Uuid) -> Result<User, CatalogError> {
    let row: UserRow = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_one(db)
        .await?;
    with_roles(db, row).await
}

/// Users of one school, or of every school (None).
pub async fn list(db: &PgPool, school: Option<Uuid>) -> Result<Vec<User>, CatalogError> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE ($1::uuid IS NULL OR school_id = $1)
         ORDER BY username"
    ))
    .bind(school)
    .fetch_all(db)
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in rows {
        users.push(with_roles(db, row).await?);
    }
    Ok(users)
}

pub async fn count(db: &PgPool) -> Result<i64, CatalogError> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(db)
        .await?)
}

/// Replaces a user's roles. A change ends the user's playback tokens (a
/// demoted teacher keeps no access the old roles gave); the group keeps at
/// least one active system admin; anyone below system admin has a school.
pub async fn set_roles(db: &PgPool, id: Uuid, roles: &[RoleGrant]) -> Result<(), CatalogError> {
    let mut v = Validation::default();
    validate_roles(roles, &mut v);
    v.finish()?;
    let mut tx = db.begin().await?;
    let school: Option<Option<Uuid>> =
        sqlx::query_scalar("SELECT school_id FROM users WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let school = school.ok_or(CatalogError::NotFound)?;
    let mut v = Validation::default();
    // A school admin without a school would administer nothing, or, as
    // once happened, list every school's users.
    v.check(
        school.is_some() || !roles.iter().any(|g| g.role == Role::SchoolAdmin),
        "roles",
        "school_required",
    );
    v.finish()?;
    let before: Vec<RoleGrant> = sqlx::query_as(
        "SELECT role, review_level, subject_id FROM user_roles WHERE user_id = $1
         ORDER BY role, review_level, subject_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    if !roles.iter().any(|g| g.role == Role::SystemAdmin) {
        keep_a_system_admin(&mut tx, id).await?;
    }
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    insert_roles(&mut tx, id, roles).await?;
    let mut after = roles.to_vec();
    after.sort_by_key(grant_order);
    after.dedup();
    let mut before_sorted = before;
    before_sorted.sort_by_key(grant_order);
    if before_sorted != after {
        revocations::revoke(&mut tx, Subject::User(id)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Refuses (409 `last_system_admin`) when `leaving` is the only active
/// system admin: without one nobody can administer the group, and the
/// setup code no longer works once any user exists. One advisory lock
/// serialises every such change, so two admins demoting each other at
/// once cannot both pass.
async fn keep_a_system_admin(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    leaving: Uuid,
) -> Result<(), CatalogError> {
    const LOCK: i64 = 0x636c_6173_7361_646d; // "classadm"
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK)
        .execute(&mut **tx)
        .await?;
    let (is_admin, others): (bool, i64) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM user_roles r JOIN users u ON u.id = r.user_id
                        WHERE r.user_id = $1 AND r.role = 'system_admin' AND NOT u.disabled),
                (SELECT count(DISTINCT u.id) FROM users u JOIN user_roles r ON r.user_id = u.id
                 WHERE u.id <> $1 AND r.role = 'system_admin' AND NOT u.disabled)",
    )
    .bind(leaving)
    .fetch_one(&mut **tx)
    .await?;
    if is_admin && others == 0 {
        return Err(CatalogError::Conflict("last_system_admin"));
    }
    Ok(())
}

async fn insert_roles(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: Uuid,
    roles: &[RoleGrant],
) -> Result<(), CatalogError> {
    for grant in roles {
        sqlx::query(
            "INSERT INTO user_roles (user_id, role, review_level, subject_id)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(grant.role)
        .bind(grant.review_level)
        .bind(grant.subject_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Disabling a user also ends their sessions and revokes their API and
/// playback tokens.
pub async fn set_disabled(db: &PgPool, id: Uuid, disabled: bool) -> Result<(), CatalogError> {
    let mut tx = db.begin().await?;
    if disabled {
        keep_a_system_admin(&mut tx, id).await?;
    }
    let done = sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
        .bind(id)
        .bind(disabled)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    if disabled {
        sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        revocations::revoke(&mut tx, Subject::User(id)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes a user; their playback tokens stop working on every node.
pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    let mut tx = db.begin().await?;
    keep_a_system_admin(&mut tx, id).await?;
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(crate::catalog::refused_delete)?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    revocations::revoke(&mut tx, Subject::User(id)).await?;
    tx.commit().await?;
    Ok(())
}

/// What sign-in needs: the stored hash, if the account can sign in at all.
pub struct Credentials {
    pub id: Uuid,
    pub password_hash: Option<String>,
    pub disabled: bool,
}

/// `username` in its normalised form (`normalise_username`).
pub async fn credentials(db: &PgPool, username: &str) -> Result<Option<Credentials>, CatalogError> {
    let row: Option<(Uuid, Option<String>, bool)> =
        sqlx::query_as("SELECT id, password_hash, disabled FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(id, password_hash, disabled)| Credentials {
        id,
        password_hash,
        disabled,
    }))
}

pub async fn set_password(db: &PgPool, id: Uuid, hash: &str) -> Result<(), CatalogError> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    // A new password ends every session opened with the old one, every API
    // token and every playback token: whoever knew the old one keeps nothing.
    sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    revocations::revoke(&mut tx, Subject::User(id)).await?;
    tx.commit().await?;
    Ok(())
}

/// Brings stored usernames to their normalised form (rows written before
/// normalisation, or by an older node). Run at start; cheap when nothing
/// is left to do. A row whose normalised form is taken stays as it was,
/// with a warning: an admin must rename one of the two.
pub async fn normalise_stored_usernames(db: &PgPool) -> Result<u64, CatalogError> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, username FROM users")
        .fetch_all(db)
        .await?;
    let mut changed = 0;
    for (id, username) in rows {
        let normal = normalise_username(&username);
        if normal == username {
            continue;
        }
        match sqlx::query("UPDATE users SET username = $2 WHERE id = $1")
            .bind(id)
            .bind(&normal)
            .execute(db)
            .await
        {
            Ok(_) => changed += 1,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                tracing::warn!(user = %id, %username, "cannot normalise username: {normal} is taken");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(changed)
}

/// The principal for an enabled user.
pub async fn principal(db: &PgPool, id: Uuid) -> Result<Option<Principal>, CatalogError> {
    let row: Option<(String, Option<Uuid>)> =
        sqlx::query_as("SELECT username, school_id FROM users WHERE id = $1 AND NOT disabled")
            .bind(id)
            .fetch_optional(db)
            .await?;
    let Some((username, school_id)) = row else {
        return Ok(None);
    };
    let roles = roles_of(db, id).await?;
    Ok(Some(Principal {
        user_id: id,
        username,
        school_id,
        roles,
    }))
}
