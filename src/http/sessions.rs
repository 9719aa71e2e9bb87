//! Sign-in and sign-out: password checks under the per-account and
//! per-address limits, and the browser session they open.

use std::net::IpAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, ErrorBody, Json};
use super::extract::{
    Caller, ClientAddress, SESSION_COOKIE, audit_anonymous, random_secret, sha256,
};
use crate::auth::Principal;
use crate::auth::password::{self, HashError};
use crate::catalog::Validation;
use crate::catalog::accounts::sessions::{self, NewSession};
use crate::catalog::accounts::sign_in_failures::{self, Limit, Reserved};
use crate::catalog::accounts::users;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/session",
        get(current_session).post(sign_in).delete(sign_out),
    )
}

#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub user: Principal,
    /// Send back as `X-CSRF-Token` on every write made with the cookie.
    pub csrf_token: String,
}

/// Who is signed in, and the CSRF token for writes.
#[utoipa::path(get, path = "/api/session", tag = "accounts",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn current_session(caller: Caller) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(SessionView {
        csrf_token: caller.session.map(|(_, csrf)| csrf).unwrap_or_default(),
        user: caller.principal,
    }))
}

/// The limits one password check counts against: the account (by its
/// normalised name) and the client's address.
pub fn limits(state: &AppState, username: &str, address: Option<IpAddr>) -> Vec<Limit> {
    let auth = &state.config.auth;
    let mut limits = vec![Limit {
        key: format!("user:{}", users::normalise_username(username)),
        max: auth.max_failures_per_account,
    }];
    if let Some(address) = address {
        limits.push(Limit {
            key: format!("addr:{address}"),
            max: auth.max_failures_per_address,
        });
    }
    limits
}

/// Checks a password for an account under the failure limits, atomically:
/// the attempt holds its place before the (slow, bounded) hash, so parallel
/// guesses cannot all slip under a limit. `stored` is None for an unknown
/// account (the decoy is hashed instead). Ok(true) only for a match.
pub async fn checked_password(
    state: &AppState,
    limits: &[Limit],
    password: String,
    stored: Option<String>,
) -> Result<bool, ApiError> {
    let window = Duration::minutes(state.config.auth.failure_window_minutes.max(1));
    let reservation =
        match sign_in_failures::reserve(&state.db, limits, Utc::now() - window).await? {
            Reserved::Go(reservation) => reservation,
            Reserved::Refused { oldest } => {
                let retry = oldest.map_or(window, |t| t + window - Utc::now());
                return Err(ApiError::TooManyAttempts(retry.num_seconds().max(1) as u64));
            }
        };
    let matches = match state.hashing.verify(password, stored).await {
        Ok(matches) => matches,
        Err(e) => {
            // Never judged: the attempt counts against nobody.
            sign_in_failures::release(&state.db, reservation).await?;
            return Err(hash_error(e));
        }
    };
    if matches {
        let account = limits.first().map(|l| l.key.as_str());
        sign_in_failures::succeed(&state.db, reservation, account).await?;
    }
    // A failure keeps its reserved rows: they are the failure's record.
    Ok(matches)
}

pub fn hash_error(error: HashError) -> ApiError {
    match error {
        HashError::Busy => ApiError::Busy(1),
        HashError::Failed => ApiError::Internal(error.to_string()),
    }
}

/// Signs in with a username and password; sets the session cookie.
#[utoipa::path(post, path = "/api/session", tag = "accounts", request_body = SignIn,
    responses((status = 200, body = SessionView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    let username = users::normalise_username(&body.username);
    // No account can have an invalid name or an over-long password: no
    // lookup (a NUL cannot even be sent to PostgreSQL), and no hash spent.
    let mut v = Validation::default();
    v.check(
        users::valid_username(&username),
        "username",
        "invalid_username",
    );
    v.check(
        body.password.len() <= password::MAX_LENGTH,
        "password",
        "too_long",
    );
    if let Err(e) = v.finish() {
        audit_failed(&state, address, &body.username, "invalid_input").await;
        return Err(e.into());
    }
    let limits = limits(&state, &username, address);
    let credentials = users::credentials(&state.db, &username).await?;
    let stored = credentials
        .as_ref()
        .filter(|c| !c.disabled)
        .and_then(|c| c.password_hash.clone());
    let matches = match checked_password(&state, &limits, body.password, stored).await {
        Ok(matches) => matches,
        Err(e @ ApiError::TooManyAttempts(_)) => {
            audit_failed(&state, address, &body.username, "too_many_attempts").await;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let user = match credentials {
        Some(c) if matches => c.id,
        _ => {
            audit_failed(&state, address, &body.username, "bad_credentials").await;
            return Err(ApiError::BadCredentials);
        }
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let (cookie, view) = open_session(&state, user, address, user_agent, "password").await?;
    let mut response = Json(view).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// A failed sign-in in the audit log, with the name as tried (made
/// storable: no control characters, at most 200 characters).
async fn audit_failed(state: &AppState, address: Option<IpAddr>, tried: &str, reason: &str) {
    let tried: String = tried
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .take(200)
        .collect();
    audit_anonymous(
        state,
        address,
        "sign_in_failed",
        serde_json::json!({"username": tried, "reason": reason}),
    )
    .await;
}

/// Starts a browser session for `user`: the row, the audit entry, and the
/// `Set-Cookie` value to answer with.
pub async fn open_session(
    state: &AppState,
    user: Uuid,
    address: Option<IpAddr>,
    user_agent: Option<&str>,
    method: &str,
) -> Result<(HeaderValue, SessionView), ApiError> {
    let secret = random_secret(32);
    let csrf = random_secret(24);
    let hours = state.config.auth.session_hours.max(1);
    sessions::create_session(
        &state.db,
        NewSession {
            token_hash: &sha256(&secret),
            user_id: user,
            csrf_token: &csrf,
            expires_at: Utc::now() + Duration::hours(hours as i64),
            address,
            user_agent,
        },
    )
    .await?;
    let principal = users::principal(&state.db, user)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let caller = Caller {
        principal: principal.clone(),
        address,
        session: None,
    };
    caller
        .audit(
            state,
            "sign_in",
            Some(("user", user.to_string())),
            serde_json::json!({"method": method}),
        )
        .await;
    let cookie = session_cookie(state, &secret, hours * 3600)?;
    Ok((
        cookie,
        SessionView {
            user: principal,
            csrf_token: csrf,
        },
    ))
}

/// The session cookie, set (`max_age` > 0) or cleared.
fn session_cookie(state: &AppState, value: &str, max_age: u64) -> Result<HeaderValue, ApiError> {
    let secure = if state.config.auth.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Signs out: the session ends on the server, not only in the browser.
#[utoipa::path(delete, path = "/api/session", tag = "accounts", responses((status = 204),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 503, body = ErrorBody)))]
pub async fn sign_out(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Some((hash, _)) = &caller.session {
        sessions::delete_session(&state.db, hash).await?;
    }
    caller
        .audit(&state, "sign_out", None, serde_json::json!({}))
        .await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0)?);
    Ok(response)
}
