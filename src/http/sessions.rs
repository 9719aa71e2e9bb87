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
use super::error::{ApiError, Json};
use super::extract::{
    Caller, ClientAddress, SESSION_COOKIE, audit_anonymous, random_secret, sha256,
};
use crate::auth::{Principal, password};
use crate::catalog::accounts::sessions::{self, NewSession};
use crate::catalog::accounts::{sign_in_failures, users};

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
    responses((status = 200, body = SessionView), (status = 401)))]
pub async fn current_session(caller: Caller) -> Result<Json<SessionView>, ApiError> {
    Ok(Json(SessionView {
        csrf_token: caller.session.map(|(_, csrf)| csrf).unwrap_or_default(),
        user: caller.principal,
    }))
}

/// Refuses when an account or an address has failed too often lately.
async fn check_rate(state: &AppState, keys: &[(String, i64)]) -> Result<(), ApiError> {
    let window = Duration::minutes(state.config.auth.failure_window_minutes.max(1));
    for (key, limit) in keys {
        let (count, oldest) =
            sign_in_failures::failures_since(&state.db, key, Utc::now() - window).await?;
        if count >= *limit {
            let retry = oldest.map_or(window, |t| t + window - Utc::now());
            return Err(ApiError::TooManyAttempts(retry.num_seconds().max(1) as u64));
        }
    }
    Ok(())
}

/// Signs in with a username and password; sets the session cookie.
#[utoipa::path(post, path = "/api/session", tag = "accounts", request_body = SignIn,
    responses((status = 200, body = SessionView), (status = 401), (status = 429)))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    let user_key = format!("user:{}", body.username.trim().to_lowercase());
    let address_key = address.map(|a| format!("addr:{a}"));
    let auth = &state.config.auth;
    let mut keys = vec![(user_key.clone(), auth.max_failures_per_account)];
    if let Some(key) = &address_key {
        keys.push((key.clone(), auth.max_failures_per_address));
    }
    check_rate(&state, &keys).await?;

    let credentials = users::credentials(&state.db, &body.username).await?;
    let stored = credentials.as_ref().and_then(|c| c.password_hash.clone());
    let attempt = body.password.clone();
    // The decoy's first use hashes too: all of it off the async threads.
    let matches = tokio::task::spawn_blocking(move || {
        password::verify(
            &attempt,
            stored.as_deref().unwrap_or_else(|| password::decoy()),
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let user = match credentials {
        Some(c) if matches && c.password_hash.is_some() && !c.disabled => c.id,
        _ => {
            let failed: Vec<String> = keys.into_iter().map(|(k, _)| k).collect();
            sign_in_failures::record_failure(&state.db, &failed).await?;
            audit_anonymous(
                &state,
                address,
                "sign_in_failed",
                serde_json::json!({"username": body.username}),
            )
            .await;
            return Err(ApiError::BadCredentials);
        }
    };
    sign_in_failures::clear_failures(&state.db, &user_key).await?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let (cookie, view) = open_session(&state, user, address, user_agent, "password").await?;
    let mut response = Json(view).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
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
#[utoipa::path(delete, path = "/api/session", tag = "accounts", responses((status = 204)))]
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
