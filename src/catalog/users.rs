//! Users, their roles, browser sessions, API tokens, failed sign-ins and the
//! audit log. Secrets never reach this module: sessions and tokens are
//! looked up by the SHA-256 of what the client holds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CatalogError, Validation};
use crate::auth::{Principal, ReviewLevel, Role};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct RoleGrant {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_level: Option<ReviewLevel>,
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

// --- sessions -------------------------------------------------------------

pub struct NewSession<'a> {
    pub token_hash: &'a [u8],
    pub user_id: Uuid,
    pub csrf_token: &'a str,
    pub expires_at: DateTime<Utc>,
    pub address: Option<std::net::IpAddr>,
    pub user_agent: Option<&'a str>,
}

pub async fn create_session(db: &PgPool, session: NewSession<'_>) -> Result<(), CatalogError> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO user_sessions (token_hash, user_id, csrf_token, expires_at, address, user_agent)
         VALUES ($1, $2, $3, $4, $5::inet, $6)",
    )
    .bind(session.token_hash)
    .bind(session.user_id)
    .bind(session.csrf_token)
    .bind(session.expires_at)
    .bind(session.address.map(|a| a.to_string()))
    .bind(session.user_agent)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1")
        .bind(session.user_id)
        .execute(&mut *tx)
        .await?;
    // Expired sessions are swept here rather than by a timer.
    sqlx::query("DELETE FROM user_sessions WHERE expires_at < now()")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The user and CSRF token of a live session.
pub async fn session(
    db: &PgPool,
    token_hash: &[u8],
) -> Result<Option<(Uuid, String)>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT s.user_id, s.csrf_token FROM user_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT u.disabled",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?)
}

pub async fn delete_session(db: &PgPool, token_hash: &[u8]) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM user_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

// --- API tokens -----------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    /// The first characters of the secret, to recognise it by.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn create_token(
    db: &PgPool,
    user_id: Uuid,
    name: &str,
    prefix: &str,
    token_hash: &[u8],
    expires_at: Option<DateTime<Utc>>,
) -> Result<ApiToken, CatalogError> {
    let mut v = Validation::default();
    v.check(
        super::valid_name(name) && name.chars().count() <= 100,
        "name",
        "invalid_name",
    );
    v.finish()?;
    Ok(sqlx::query_as(
        "INSERT INTO api_tokens (id, user_id, name, prefix, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at",
    )
    .bind(Uuid::new_v4())
    .bind(user_id)
    .bind(name.trim())
    .bind(prefix)
    .bind(token_hash)
    .bind(expires_at)
    .fetch_one(db)
    .await?)
}

pub async fn tokens(db: &PgPool, user_id: Uuid) -> Result<Vec<ApiToken>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?)
}

pub async fn token(db: &PgPool, id: Uuid) -> Result<ApiToken, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at
         FROM api_tokens WHERE id = $1",
    )
    .bind(id)
    .fetch_one(db)
    .await?)
}

pub async fn revoke_token(db: &PgPool, id: Uuid) -> Result<(), CatalogError> {
    sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The user a valid token belongs to; marks it used.
pub async fn token_user(db: &PgPool, token_hash: &[u8]) -> Result<Option<Uuid>, CatalogError> {
    Ok(sqlx::query_scalar(
        "UPDATE api_tokens t SET last_used_at = now() FROM users u
         WHERE t.token_hash = $1 AND u.id = t.user_id AND NOT u.disabled
           AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
         RETURNING t.user_id",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await?)
}

// --- failed sign-ins --------------------------------------------------------

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

// --- audit log ----------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    /// Client address, as text.
    pub address: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

pub struct NewAuditEntry<'a> {
    pub actor: Option<(&'a Uuid, &'a str)>,
    pub address: Option<std::net::IpAddr>,
    pub action: &'a str,
    pub target: Option<(&'a str, String)>,
    pub detail: serde_json::Value,
}

pub async fn audit(db: &PgPool, entry: NewAuditEntry<'_>) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO audit_log (actor_id, actor_name, address, action, target_kind, target_id, detail)
         VALUES ($1, $2, $3::inet, $4, $5, $6, $7)",
    )
    .bind(entry.actor.map(|a| *a.0))
    .bind(entry.actor.map(|a| a.1))
    .bind(entry.address.map(|a| a.to_string()))
    .bind(entry.action)
    .bind(entry.target.as_ref().map(|t| t.0))
    .bind(entry.target.as_ref().map(|t| t.1.clone()))
    .bind(entry.detail)
    .execute(db)
    .await?;
    Ok(())
}

/// The newest entries: all of them, or (for a school's admin) those whose
/// actor belongs to `school`.
pub async fn audit_log(
    db: &PgPool,
    school: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AuditEntry>, CatalogError> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor_id, actor_name, host(address) AS address, action, target_kind,
                target_id, detail
         FROM audit_log
         WHERE $2::uuid IS NULL OR actor_id IN (SELECT id FROM users WHERE school_id = $2)
         ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .bind(school)
    .fetch_all(db)
    .await?)
}

// --- shared secrets -------------------------------------------------------------

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

// --- single sign-on ------------------------------------------------------------

/// The user behind a single-sign-on identity, created on first sign-in.
/// School and roles follow the identity platform each time. None when the
/// account is disabled here.
pub async fn sso_user(
    db: &PgPool,
    who: &crate::auth::sso::SsoIdentity,
    school_id: Option<Uuid>,
) -> Result<Option<Uuid>, CatalogError> {
    let existing: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT id, disabled FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2",
    )
    .bind(&who.issuer)
    .bind(&who.subject)
    .fetch_optional(db)
    .await?;
    let id = match existing {
        Some((_, true)) => return Ok(None),
        Some((id, false)) => {
            sqlx::query("UPDATE users SET school_id = $2, display_name = $3 WHERE id = $1")
                .bind(id)
                .bind(school_id)
                .bind(&who.display_name)
                .execute(db)
                .await?;
            id
        }
        None => {
            let id = Uuid::new_v4();
            let mut v = Validation::default();
            v.check(
                valid_username(&who.username),
                "username",
                "invalid_username",
            );
            v.finish()?;
            sqlx::query(
                "INSERT INTO users (id, school_id, username, display_name, oidc_issuer, oidc_subject)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(school_id)
            .bind(&who.username)
            .bind(&who.display_name)
            .bind(&who.issuer)
            .bind(&who.subject)
            .execute(db)
            .await?;
            id
        }
    };
    set_roles(db, id, &who.roles).await?;
    Ok(Some(id))
}

pub async fn start_sso_login(
    db: &PgPool,
    state: &str,
    nonce: &str,
    pkce_verifier: &str,
    next_url: &str,
) -> Result<(), CatalogError> {
    sqlx::query("DELETE FROM sso_logins WHERE created_at < now() - interval '10 minutes'")
        .execute(db)
        .await?;
    sqlx::query(
        "INSERT INTO sso_logins (state, nonce, pkce_verifier, next_url) VALUES ($1, $2, $3, $4)",
    )
    .bind(state)
    .bind(nonce)
    .bind(pkce_verifier)
    .bind(next_url)
    .execute(db)
    .await?;
    Ok(())
}

/// Takes (once) a sign-in in flight: (nonce, PKCE verifier, where to go after).
pub async fn take_sso_login(
    db: &PgPool,
    state: &str,
) -> Result<Option<(String, String, String)>, CatalogError> {
    Ok(sqlx::query_as(
        "DELETE FROM sso_logins WHERE state = $1 AND created_at > now() - interval '10 minutes'
         RETURNING nonce, pkce_verifier, next_url",
    )
    .bind(state)
    .fetch_optional(db)
    .await?)
}
