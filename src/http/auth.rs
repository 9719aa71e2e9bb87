//! Who is calling: the `Caller` extractor (session cookie or API token),
//! sign-in and sign-out, API tokens and the audit log. Every API handler
//! that touches classroom data takes a `Caller` and asks `auth::policy`.
//!
//! Cookie sessions must send the session's CSRF token in `X-CSRF-Token` on
//! every write; bearer tokens need not (no browser attaches them unasked).

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Json, Path, Query};
use crate::auth::{Principal, Role, password, policy};
use crate::catalog::users::{
    self, ApiToken, AuditEntry, NewAuditEntry, NewSession, NewUser, RoleGrant, User,
};

pub const SESSION_COOKIE: &str = "classcast_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// API tokens start with this, so a leaked one is recognisable in logs and scanners.
const TOKEN_PREFIX: &str = "cc_";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/session",
            get(current_session).post(sign_in).delete(sign_out),
        )
        .route("/api/users", get(list_users).post(create_user))
        .route(
            "/api/users/{id}",
            axum::routing::patch(update_user).delete(delete_user),
        )
        .route("/api/tokens", get(list_tokens).post(create_token))
        .route("/api/tokens/{id}", delete(revoke_token))
        .route("/api/audit", get(read_audit))
        .route("/api/setup", post(setup_first_admin))
}

fn sha256(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn random_secret(bytes: usize) -> String {
    let data: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(data)
}

/// Constant-time comparison for secrets the client echoes back.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client's address: the peer, or behind a trusted reverse proxy the
/// nearest address in `X-Forwarded-For` that is not a trusted proxy.
/// (Entries further left are whatever the client claimed.)
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .unwrap_or(peer),
    )
}

pub fn client_address(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    client_ip(peer, &parts.headers, &state.config.http.trusted_proxies)
}

/// The client's address as an extractor (see `client_ip`).
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts, state)))
    }
}

/// The signed-in caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub address: Option<IpAddr>,
    /// When signed in by cookie: the SHA-256 of the cookie and the
    /// session's CSRF token.
    session: Option<(Vec<u8>, String)>,
}

impl Caller {
    /// With auth disabled every request acts as an unnamed system admin.
    fn open(address: Option<IpAddr>) -> Self {
        Self {
            principal: Principal {
                user_id: Uuid::nil(),
                username: "anonymous".into(),
                school_id: None,
                roles: vec![(Role::SystemAdmin, None)],
            },
            address,
            session: None,
        }
    }

    pub fn require(&self, allowed: bool) -> Result<(), ApiError> {
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Writes an audit entry; a failure is logged, never fails the action.
    pub async fn audit(
        &self,
        state: &AppState,
        action: &str,
        target: Option<(&str, String)>,
        detail: serde_json::Value,
    ) {
        let actor = (!self.principal.user_id.is_nil())
            .then_some((&self.principal.user_id, self.principal.username.as_str()));
        let entry = NewAuditEntry {
            actor,
            address: self.address,
            action,
            target,
            detail,
        };
        if let Err(e) = users::audit(&state.db, entry).await {
            tracing::error!(action, "cannot write audit entry: {e}");
        }
    }
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let address = client_address(parts, state);
    if !state.config.auth.enabled {
        return Ok(Some(Caller::open(address)));
    }
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        // A presented but invalid token is an error, not anonymity.
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let user = users::token_user(&state.db, &sha256(token.trim()))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let principal = users::principal(&state.db, user)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        return Ok(Some(Caller {
            principal,
            address,
            session: None,
        }));
    }
    let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = sha256(secret);
    let Some((user, csrf)) = users::session(&state.db, &hash).await? else {
        return Ok(None);
    };
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !same_secret(sent, csrf.as_bytes()) {
            return Err(ApiError::CsrfFailed);
        }
    }
    let Some(principal) = users::principal(&state.db, user).await? else {
        return Ok(None);
    };
    Ok(Some(Caller {
        principal,
        address,
        session: Some((hash, csrf)),
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(parts, state)
            .await?
            .ok_or(ApiError::Unauthorized)
    }
}

impl OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        authenticate(parts, state).await
    }
}

/// An audit entry with nobody signed in (failed sign-ins); a failure to
/// write it is logged, never fails the request.
pub async fn audit_anonymous(
    state: &AppState,
    address: Option<IpAddr>,
    action: &str,
    detail: serde_json::Value,
) {
    let entry = NewAuditEntry {
        actor: None,
        address,
        action,
        target: None,
        detail,
    };
    if let Err(e) = users::audit(&state.db, entry).await {
        tracing::error!(action, "cannot write audit entry: {e}");
    }
}

/// Argon2id takes ~20 ms of CPU: never on the async threads.
async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

// --- sign-in ---------------------------------------------------------------

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
        let (count, oldest) = users::failures_since(&state.db, key, Utc::now() - window).await?;
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
            users::record_failure(&state.db, &failed).await?;
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
    users::clear_failures(&state.db, &user_key).await?;
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
    users::create_session(
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
        users::delete_session(&state.db, hash).await?;
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

// --- first admin -----------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct Setup {
    /// The one-time code `classcast serve` prints while no user exists.
    pub code: String,
    pub username: String,
    pub password: String,
}

/// Creates the first system admin with the one-time setup code. Refused as
/// soon as any user exists, so no default password ever does.
#[utoipa::path(post, path = "/api/setup", tag = "accounts", request_body = Setup,
    responses((status = 201, body = User), (status = 403)))]
pub async fn setup_first_admin(
    State(state): State<AppState>,
    Json(body): Json<Setup>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let expected = setup_code(&state).await?.ok_or(ApiError::Forbidden)?;
    if !same_secret(body.code.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::Forbidden);
    }
    let user = create_account(
        &state,
        NewUser {
            school_id: None,
            username: body.username,
            display_name: String::new(),
            password: Some(body.password),
            roles: vec![RoleGrant {
                role: Role::SystemAdmin,
                review_level: None,
            }],
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// The setup code, while no user exists (printed by `serve` for the admin).
pub async fn setup_code(state: &AppState) -> Result<Option<String>, ApiError> {
    if users::count(&state.db).await? > 0 {
        return Ok(None);
    }
    let secret = users::shared_secret(&state.db, "setup_code").await?;
    Ok(Some(URL_SAFE_NO_PAD.encode(&secret[..12])))
}

// --- users -----------------------------------------------------------------

async fn create_account(state: &AppState, user: NewUser) -> Result<User, ApiError> {
    // Refuse bad input before spending a hash on it (create checks again).
    users::validate_new(&user)?;
    let hash = match user.password.clone() {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    Ok(users::create(&state.db, &user, hash).await?)
}

#[derive(Deserialize, ToSchema)]
pub struct UserQuery {
    pub school_id: Option<Uuid>,
}

/// Users an admin manages: all for system admins, their school's for school admins.
#[utoipa::path(get, path = "/api/users", tag = "accounts", params(("school_id" = Option<Uuid>, Query)),
    responses((status = 200, body = [User]), (status = 403)))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<UserQuery>,
) -> Result<Json<Vec<User>>, ApiError> {
    let who = &caller.principal;
    let school = if who.has(Role::SystemAdmin) {
        query.school_id
    } else if who.has(Role::SchoolAdmin) {
        who.school_id
    } else {
        return Err(ApiError::Forbidden);
    };
    Ok(Json(users::list(&state.db, school).await?))
}

#[utoipa::path(post, path = "/api/users", tag = "accounts", request_body = Object,
    responses((status = 201, body = User), (status = 403), (status = 422)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let roles = users::role_kinds(&body.roles);
    caller.require(policy::can_manage_user(
        &caller.principal,
        body.school_id,
        &roles,
    ))?;
    let user = create_account(&state, body).await?;
    caller
        .audit(
            &state,
            "user_created",
            Some(("user", user.id.to_string())),
            serde_json::json!({"username": user.username, "roles": user.roles}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Deserialize, ToSchema)]
pub struct UserUpdate {
    pub roles: Option<Vec<RoleGrant>>,
    pub disabled: Option<bool>,
    pub password: Option<String>,
    /// Required when users change their own password: a session left open
    /// on a classroom computer must not be enough to take the account.
    pub current_password: Option<String>,
}

#[utoipa::path(patch, path = "/api/users/{id}", tag = "accounts", request_body = Object,
    responses((status = 200, body = User), (status = 403), (status = 404)))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UserUpdate>,
) -> Result<Json<User>, ApiError> {
    let user = users::get(&state.db, id).await?;
    let administers =
        policy::can_manage_user(&caller.principal, user.school_id, &user.role_kinds());
    let self_service =
        id == caller.principal.user_id && body.roles.is_none() && body.disabled.is_none();
    caller.require(self_service || administers)?;
    // Everything is checked before anything is written.
    let new_hash = match &body.password {
        Some(new_password) => {
            let mut v = crate::catalog::Validation::default();
            users::validate_password(new_password, &mut v);
            v.finish()?;
            if id == caller.principal.user_id {
                // Your own password, admins included: prove you know the
                // current one. An account without one (single sign-on)
                // gets none this way; an admin can set one.
                let stored = users::credentials(&state.db, &user.username)
                    .await?
                    .and_then(|c| c.password_hash)
                    .ok_or(ApiError::Forbidden)?;
                let given = body.current_password.clone().unwrap_or_default();
                let ok = tokio::task::spawn_blocking(move || password::verify(&given, &stored))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                if !ok {
                    return Err(ApiError::BadCredentials);
                }
            }
            Some(hash_password(new_password.clone()).await?)
        }
        None => None,
    };
    if let Some(roles) = &body.roles {
        let mut v = crate::catalog::Validation::default();
        users::validate_roles(roles, &mut v);
        v.finish()?;
    }
    if let Some(roles) = &body.roles {
        let wanted = users::role_kinds(roles);
        caller.require(policy::can_manage_user(
            &caller.principal,
            user.school_id,
            &wanted,
        ))?;
        users::set_roles(&state.db, id, roles).await?;
        caller
            .audit(
                &state,
                "roles_changed",
                Some(("user", id.to_string())),
                serde_json::json!({"from": user.roles, "to": roles}),
            )
            .await;
    }
    if let Some(disabled) = body.disabled {
        users::set_disabled(&state.db, id, disabled).await?;
        caller
            .audit(
                &state,
                if disabled {
                    "user_disabled"
                } else {
                    "user_enabled"
                },
                Some(("user", id.to_string())),
                serde_json::json!({}),
            )
            .await;
    }
    if let Some(hash) = new_hash {
        users::set_password(&state.db, id, &hash).await?;
        caller
            .audit(
                &state,
                "password_changed",
                Some(("user", id.to_string())),
                serde_json::json!({}),
            )
            .await;
    }
    Ok(Json(users::get(&state.db, id).await?))
}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "accounts",
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let user = users::get(&state.db, id).await?;
    let roles = user.role_kinds();
    caller.require(policy::can_manage_user(
        &caller.principal,
        user.school_id,
        &roles,
    ))?;
    users::delete(&state.db, id).await?;
    caller
        .audit(
            &state,
            "user_deleted",
            Some(("user", id.to_string())),
            serde_json::json!({"username": user.username}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

// --- API tokens ------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    pub name: String,
    /// Days until it stops working; none: until revoked.
    pub expires_in_days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// The secret, shown this once: send it as `Authorization: Bearer …`.
    pub secret: String,
}

#[utoipa::path(get, path = "/api/tokens", tag = "accounts", responses((status = 200, body = [ApiToken])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(
        users::tokens(&state.db, caller.principal.user_id).await?,
    ))
}

#[utoipa::path(post, path = "/api/tokens", tag = "accounts", request_body = NewToken,
    responses((status = 201, body = CreatedToken)))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    if caller.principal.user_id.is_nil() {
        // With auth disabled there is nobody to own a token.
        return Err(ApiError::Forbidden);
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_secret(32));
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let expires = body
        .expires_in_days
        .map(|d| Utc::now() + Duration::days(i64::from(d.clamp(1, 3650))));
    let token = users::create_token(
        &state.db,
        caller.principal.user_id,
        &body.name,
        &prefix,
        &sha256(&secret),
        expires,
    )
    .await?;
    caller
        .audit(
            &state,
            "token_created",
            Some(("token", token.id.to_string())),
            serde_json::json!({"name": token.name, "prefix": token.prefix}),
        )
        .await;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "accounts",
    responses((status = 204), (status = 403), (status = 404)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let token = users::token(&state.db, id).await?;
    let own = token.user_id == caller.principal.user_id;
    if !own {
        let owner = users::get(&state.db, token.user_id).await?;
        let roles = owner.role_kinds();
        caller.require(policy::can_manage_user(
            &caller.principal,
            owner.school_id,
            &roles,
        ))?;
    }
    users::revoke_token(&state.db, id).await?;
    caller
        .audit(
            &state,
            "token_revoked",
            Some(("token", id.to_string())),
            serde_json::json!({"prefix": token.prefix}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

// --- audit -----------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct AuditQuery {
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/audit", tag = "accounts", params(("limit" = Option<i64>, Query)),
    responses((status = 200, body = [AuditEntry]), (status = 403)))]
pub async fn read_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    caller.require(policy::can_read_audit(&caller.principal))?;
    let limit = query.limit.unwrap_or(200).clamp(1, 1000);
    // A school's admin reads what their own school's people did.
    let school = if caller.principal.has(Role::SystemAdmin) {
        None
    } else {
        Some(caller.principal.school_id.ok_or(ApiError::Forbidden)?)
    };
    Ok(Json(users::audit_log(&state.db, school, limit).await?))
}

// --- playback URLs -----------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct PlaybackUrl {
    /// Master playlist URL carrying a playback token for this viewer.
    pub url: String,
    pub expires_at: chrono::DateTime<Utc>,
}

/// A tokened URL for `scope` (whose access the caller already passed).
pub fn playback_url(
    state: &AppState,
    caller: &Caller,
    scope: crate::auth::playback::Scope,
) -> PlaybackUrl {
    use crate::auth::playback::Scope;
    let ttl = state.config.auth.playback_ttl_seconds.max(1);
    let expires_at = Utc::now() + Duration::seconds(ttl);
    let path = match scope {
        Scope::Live(id) => format!("/live/{id}/index.m3u8"),
        Scope::Recording(id) => format!("/vod/{id}/index.m3u8"),
    };
    let url = if state.config.auth.enabled {
        let token = state
            .playback
            .sign(scope, caller.principal.user_id, expires_at.timestamp());
        format!("{path}?token={token}")
    } else {
        path
    };
    PlaybackUrl { url, expires_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let pupil: IpAddr = "192.0.2.7".parse().unwrap();
        let mut headers = HeaderMap::new();
        // A client may send any X-Forwarded-For; only the proxy's addition counts.
        headers.insert("x-forwarded-for", "203.0.113.9, 192.0.2.7".parse().unwrap());
        assert_eq!(client_ip(Some(pupil), &headers, &[proxy]), Some(pupil));
        assert_eq!(client_ip(Some(proxy), &headers, &[proxy]), Some(pupil));
        assert_eq!(client_ip(Some(proxy), &headers, &[]), Some(proxy));
        assert_eq!(
            client_ip(Some(proxy), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
        assert_eq!(client_ip(None, &headers, &[proxy]), None);
    }
}
