//! Who is calling: the `Caller` extractor (session cookie or API token),
//! the client's address, and the small secret helpers sign-in shares.
//! Every API handler that touches classroom data takes a `Caller` and asks
//! `auth::policy`.
//!
//! Cookie sessions must send the session's CSRF token in `X-CSRF-Token` on
//! every write; bearer tokens need not (no browser attaches them unasked).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use crate::auth::{Principal, Role};
use crate::catalog::accounts::{audit, sessions, tokens, users};

pub const SESSION_COOKIE: &str = "classcast_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn sha256(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

pub fn random_secret(bytes: usize) -> String {
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
    pub(super) session: Option<(Vec<u8>, String)>,
}

impl Caller {
    /// With auth disabled every request acts as an unnamed system admin.
    fn open(address: Option<IpAddr>) -> Self {
        Self {
            principal: Principal {
                user_id: Uuid::nil(),
                username: "anonymous".into(),
                school_id: None,
                roles: vec![crate::auth::RoleGrant {
                    role: Role::SystemAdmin,
                    review_level: None,
                    subject_id: None,
                }],
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
        let entry = audit::NewAuditEntry {
            actor,
            address: self.address,
            action,
            target,
            detail,
        };
        if let Err(e) = audit::audit(&state.db, entry).await {
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
        let user = tokens::token_user(&state.db, &sha256(token.trim()))
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
    let Some((user, csrf)) = sessions::session(&state.db, &hash).await? else {
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
    let entry = audit::NewAuditEntry {
        actor: None,
        address,
        action,
        target: None,
        detail,
    };
    if let Err(e) = audit::audit(&state.db, entry).await {
        tracing::error!(action, "cannot write audit entry: {e}");
    }
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
