//! Users and their roles: creating, listing, changing, disabling, and the
//! stored credentials sign-in checks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Principal, Role, RoleGrant};
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
    v.check(
        user.display_name.chars().count() <= 200,
        "display_name",
        "too_long",
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
        "SELECT role, review_level FROM user_roles WHERE user_id = $1 ORDER BY role, review_level",
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
    .bind(user.username.trim())
    .bind(user.display_name.trim())
    .bind(password_hash)
    .execute(&mut *tx)
    .await?;
    insert_roles(&mut tx, id, &user.roles).await?;
    tx.commit().await?;
    get(db, id).await
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
         ORDER BY lower(username)"
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

/// Replaces a user's roles.
pub async fn set_roles(db: &PgPool, id: Uuid, roles: &[RoleGrant]) -> Result<(), CatalogError> {
    let mut v = Validation::default();
    validate_roles(roles, &mut v);
    v.finish()?;
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    insert_roles(&mut tx, id, roles).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_roles(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    id: Uuid,
    roles: &[RoleGrant],
) -> Result<(), CatalogError> {
    for grant in roles {
        sqlx::query(
            "INSERT INTO user_roles (user_id, role, review_level) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(grant.role)
        .bind(grant.review_level)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Disabling a user also ends their sessions and revokes their tokens.
pub async fn set_disabled(db: &PgPool, id: Uuid, disabled: bool) -> Result<(), CatalogError> {
    let mut tx = db.begin().await?;
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
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    let done = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound);
    }
    Ok(())
}

/// What sign-in needs: the stored hash, if the account can sign in at all.
pub struct Credentials {
    pub id: Uuid,
    pub password_hash: Option<String>,
    pub disabled: bool,
}

pub async fn credentials(db: &PgPool, username: &str) -> Result<Option<Credentials>, CatalogError> {
    let row: Option<(Uuid, Option<String>, bool)> = sqlx::query_as(
        "SELECT id, password_hash, disabled FROM users WHERE lower(username) = lower($1)",
    )
    .bind(username.trim())
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
    // A new password ends every session opened with the old one.
    sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
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
    let roles = roles_of(db, id)
        .await?
        .into_iter()
        .map(|g| (g.role, g.review_level))
        .collect();
    Ok(Some(Principal {
        user_id: id,
        username,
        school_id,
        roles,
    }))
}
