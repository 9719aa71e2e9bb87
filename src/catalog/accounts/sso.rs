//! Single-sign-on identities and the sign-ins in flight.

use sqlx::PgPool;
use uuid::Uuid;

use super::revocations::{self, Subject};
use super::users::{normalise_username, set_roles, valid_username};
use crate::auth::sso::SsoIdentity;
use crate::catalog::{CatalogError, Validation};

/// The user behind a single-sign-on identity, created on first sign-in.
/// School and roles follow the identity platform each time. None when the
/// account is disabled here.
pub async fn sso_user(
    db: &PgPool,
    who: &SsoIdentity,
    school_id: Option<Uuid>,
) -> Result<Option<Uuid>, CatalogError> {
    let existing: Option<(Uuid, bool, Option<Uuid>)> = sqlx::query_as(
        "SELECT id, disabled, school_id FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2",
    )
    .bind(&who.issuer)
    .bind(&who.subject)
    .fetch_optional(db)
    .await?;
    // The platform's display name is shown in lists: kept printable and short.
    let display_name: String = who
        .display_name
        .chars()
        .filter(|c| !c.is_control())
        .take(crate::catalog::MAX_NAME_CHARS)
        .collect();
    let username = normalise_username(&who.username);
    let id = match existing {
        Some((_, true, _)) => return Ok(None),
        Some((id, false, school_before)) => {
            let mut tx = db.begin().await?;
            sqlx::query("UPDATE users SET school_id = $2, display_name = $3 WHERE id = $1")
                .bind(id)
                .bind(school_id)
                .bind(&display_name)
                .execute(&mut *tx)
                .await?;
            if school_before != school_id {
                // Moved school: what the old one showed them ends now.
                revocations::revoke(&mut tx, Subject::User(id)).await?;
            }
            tx.commit().await?;
            id
        }
        None => {
            let id = Uuid::new_v4();
            let mut v = Validation::default();
            v.check(valid_username(&username), "username", "invalid_username");
            v.finish()?;
            sqlx::query(
                "INSERT INTO users (id, school_id, username, display_name, oidc_issuer, oidc_subject)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(school_id)
            .bind(&username)
            .bind(&display_name)
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
