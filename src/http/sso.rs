//! Single sign-on over OpenID Connect (统一身份认证): the authorization-code
//! flow with PKCE and a nonce. `/api/sso/login` sends the browser to the
//! identity platform; `/api/sso/callback` takes it back, verifies the ID
//! token, maps its claims (`auth::sso`) and opens a session like a password
//! sign-in. The sign-in in flight is kept in PostgreSQL, so any node can
//! take the return.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, Json, Query};
use crate::auth::sso;
use crate::catalog::accounts::sso as accounts;
use crate::catalog::schools;

const STATE_COOKIE: &str = "classcast_sso_state";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sso", get(sso_info))
        .route("/api/sso/login", get(sso_login))
        .route("/api/sso/callback", get(sso_callback))
}

#[derive(Serialize, ToSchema)]
pub struct SsoInfo {
    pub enabled: bool,
    /// The sign-in button's label.
    pub display_name: String,
}

/// Whether the sign-in page offers single sign-on (public).
#[utoipa::path(get, path = "/api/sso", tag = "accounts", responses((status = 200, body = SsoInfo)))]
pub async fn sso_info(State(state): State<AppState>) -> Json<SsoInfo> {
    let sso = &state.config.sso;
    Json(SsoInfo {
        enabled: sso.enabled && state.config.auth.enabled,
        display_name: sso.display_name.clone(),
    })
}

fn http_client() -> Result<openidconnect::reqwest::Client, ApiError> {
    openidconnect::reqwest::ClientBuilder::new()
        // Following redirects would let the platform's answers point us anywhere.
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| ApiError::Internal(format!("sso http client: {e}")))
}

/// Discovers the platform and builds the client. Discovery on every
/// sign-in keeps keys current and costs one request.
async fn client(
    state: &AppState,
    http: &openidconnect::reqwest::Client,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    ApiError,
> {
    let config = &state.config.sso;
    if !config.enabled || !state.config.auth.enabled {
        return Err(ApiError::NotFound);
    }
    let issuer = IssuerUrl::new(config.issuer.clone())
        .map_err(|e| ApiError::Internal(format!("sso issuer: {e}")))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        // The platform is down or answers nonsense: not our fault, a 502.
        .map_err(|e| ApiError::Upstream(format!("sso discovery: {e}")))?;
    let redirect = RedirectUrl::new(config.redirect_url.clone())
        .map_err(|e| ApiError::Internal(format!("sso redirect_url: {e}")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginQuery {
    /// Where in the UI to return (a `#/…` route of this site).
    pub next: Option<String>,
}

/// Sends the browser to the identity platform.
#[utoipa::path(get, path = "/api/sso/login", tag = "accounts",
    params(("next" = Option<String>, Query)), responses((status = 303),
        (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
        (status = 502, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub async fn sso_login(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let http = http_client()?;
    let client = client(&state, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    // Only routes of this UI: never an open redirect to another site.
    let next = query
        .next
        .filter(|n| n.starts_with("#/") && crate::catalog::valid_text(n, 2000))
        .map_or_else(|| "/#/".to_string(), |n| format!("/{n}"));
    accounts::start_sso_login(
        &state.db,
        csrf.secret(),
        nonce.secret(),
        verifier.secret(),
        &next,
    )
    .await?;
    // The state is also bound to this browser: a callback link made by
    // someone else's sign-in (login CSRF) finds no matching cookie.
    let mut response = Redirect::to(url.as_str()).into_response();
    let cookie = format!(
        "{STATE_COOKIE}={}; Path=/api/sso; HttpOnly; SameSite=Lax; Max-Age=600",
        csrf.secret()
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie
            .parse()
            .map_err(|e| ApiError::Internal(format!("sso cookie: {e}")))?,
    );
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// Where the identity platform returns the browser. Any failure lands on
/// the sign-in page with a code the UI explains; the detail is logged.
#[utoipa::path(get, path = "/api/sso/callback", tag = "accounts",
    responses((status = 303), (status = 400, body = super::error::ErrorBody)))]
pub async fn sso_callback(
    State(state): State<AppState>,
    super::extract::ClientAddress(address): super::extract::ClientAddress,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match finish(&state, query, address, &headers).await {
        Ok((cookie, next)) => {
            let mut response = Redirect::to(&next).into_response();
            let headers = response.headers_mut();
            headers.insert(header::SET_COOKIE, cookie);
            headers.append(
                header::SET_COOKIE,
                axum::http::HeaderValue::from_static(
                    "classcast_sso_state=; Path=/api/sso; HttpOnly; SameSite=Lax; Max-Age=0",
                ),
            );
            response
        }
        Err(code) => {
            super::extract::audit_anonymous(
                &state,
                address,
                "sign_in_failed",
                serde_json::json!({"method": "sso", "reason": code}),
            )
            .await;
            (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, format!("/#/login?sso_error={code}"))],
            )
                .into_response()
        }
    }
}

async fn finish(
    state: &AppState,
    query: CallbackQuery,
    address: Option<std::net::IpAddr>,
    headers: &HeaderMap,
) -> Result<(axum::http::HeaderValue, String), &'static str> {
    if let Some(error) = &query.error {
        tracing::warn!("identity platform refused the sign-in: {error}");
        return Err("refused");
    }
    let (Some(code), Some(state_param)) = (query.code, query.state) else {
        return Err("bad_callback");
    };
    let from_this_browser = super::extract::cookie(headers, STATE_COOKIE)
        .is_some_and(|c| super::extract::same_secret(c.as_bytes(), state_param.as_bytes()));
    if !from_this_browser {
        return Err("wrong_browser");
    }
    let Some((nonce, verifier, next)) = accounts::take_sso_login(&state.db, &state_param)
        .await
        .map_err(|_| "internal")?
    else {
        return Err("expired");
    };
    let http = http_client().map_err(|_| "internal")?;
    let client = client(state, &http).await.map_err(|e| {
        tracing::error!("sso: {e}");
        "unavailable"
    })?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| {
            tracing::error!("sso token endpoint: {e}");
            "unavailable"
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http)
        .await
        .map_err(|e| {
            tracing::warn!("sso code exchange failed: {e}");
            "refused"
        })?;
    let id_token = exchange.id_token().ok_or("no_id_token")?;
    id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce))
        .map_err(|e| {
            tracing::warn!("sso ID token rejected: {e}");
            "bad_token"
        })?;
    // Verified above: its payload can be read for the school and role
    // claims, which the library's typed claims do not carry.
    let payload = id_token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .ok_or("bad_token")?;
    let who = sso::identity(&payload, &state.config.sso).map_err(|e| {
        tracing::warn!("sso identity: {e}");
        "bad_claims"
    })?;
    let school = match &who.school_code {
        Some(code) => Some(
            schools::by_external_id(&state.db, code)
                .await
                .map_err(|_| "internal")?
                .ok_or_else(|| {
                    tracing::warn!(school = %code, "sso: no school with this external_id");
                    "unknown_school"
                })?,
        ),
        None => None,
    };
    let user = accounts::sso_user(&state.db, &who, school)
        .await
        .map_err(|e| {
            tracing::warn!("sso user {}: {e}", who.username);
            "account_conflict"
        })?
        .ok_or("disabled")?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let (cookie, _) = super::sessions::open_session(state, user, address, user_agent, "sso")
        .await
        .map_err(|_| "internal")?;
    Ok((cookie, next))
}
