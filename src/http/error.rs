//! The one API error type and its one mapping to HTTP. Every error body is
//! `{"error": {"code", "message", "fields"}}`, with messages in the caller's
//! language (zh-CN unless `Accept-Language` prefers English) taken from the
//! same catalogue as the UI (`web/i18n`).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::catalog::CatalogError;

static ZH: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../web/i18n/zh-CN.json")).unwrap_or_default()
});
static EN: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../web/i18n/en.json")).unwrap_or_default()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_accept_language(header: Option<&str>) -> Self {
        // The first listed language wins; schools' browsers are mostly zh-CN.
        match header.and_then(|h| h.split(',').next()).map(str::trim) {
            Some(first) if first.to_ascii_lowercase().starts_with("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    pub fn message(self, key: &str) -> String {
        let catalogue = match self {
            Lang::Zh => &*ZH,
            Lang::En => &*EN,
        };
        catalogue
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }
}

tokio::task_local! {
    /// The language of the request being handled, set by a middleware.
    pub static REQUEST_LANG: Lang;
}

/// The one error body, as the OpenAPI document describes it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs (`invalid_input`, `playback_token_expired`, …).
    pub code: String,
    /// For people, in the caller's language.
    pub message: String,
    /// Field name → what is wrong with it: for `invalid_input`, and for
    /// conflicts in one field (`name_taken`, `username_taken`, …).
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(BTreeMap<&'static str, &'static str>),
    /// Bad rows of an uploaded file: 422 with one entry in `fields` per
    /// row, keyed `{field}:{line}` (`csv:3`), so each line's reason can be
    /// shown against it.
    #[error("invalid rows in {field}")]
    InvalidRows {
        field: &'static str,
        rows: BTreeMap<usize, &'static str>,
    },
    #[error("invalid JSON: {0}")]
    BadJson(String),
    /// A malformed id in the path or a bad query parameter.
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A conflict in one field (a name already used): 409 with `fields`
    /// naming it, so a form can show the reason next to it.
    #[error("{field} taken: {code}")]
    Taken {
        field: &'static str,
        code: &'static str,
    },
    /// No valid session or token: sign in.
    #[error("unauthorized")]
    Unauthorized,
    /// Signed in, but not allowed this.
    #[error("forbidden")]
    Forbidden,
    /// Not allowed, for a reason the caller is told by its own code (a
    /// mistyped setup code is not "no permission").
    #[error("refused: {0}")]
    Refused(&'static str),
    /// A cookie-authenticated write without the session's CSRF token.
    #[error("CSRF token missing or wrong")]
    CsrfFailed,
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many failed sign-ins; try again after this many seconds.
    #[error("too many attempts")]
    TooManyAttempts(u64),
    /// Every password-hashing slot stayed taken; try again after this many seconds.
    #[error("server busy")]
    Busy(u64),
    /// The database cannot be reached right now.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("request body too large")]
    PayloadTooLarge,
    /// A service we depend on (the identity platform) failed.
    #[error("upstream failed: {0}")]
    Upstream(String),
    /// A playback token that opens nothing here, and why.
    #[error("playback token refused: {0}")]
    PlaybackRefused(#[from] crate::auth::playback::PlaybackError),
    /// WHEP: the classroom has no lesson live; ask again after this many seconds.
    #[error("not live")]
    NotLive(u64),
    /// WHEP: WebRTC is not running on this node.
    #[error("WebRTC is off")]
    WebRtcOff,
    /// WHEP: the body is not an SDP offer str0m can read.
    #[error("invalid offer: {0}")]
    BadOffer(String),
    /// WHIP: the ingest gate did not let this publisher in.
    #[error("publish refused: {0}")]
    PublishRefused(crate::ingest::gate::Refusal),
    /// WHEP: a well-formed offer that cannot play this lesson.
    #[error("offer cannot play: {0}")]
    Unplayable(String),
    /// A tus request the protocol's rules refuse.
    #[error("upload refused: {0}")]
    Tus(crate::library::uploads::tus::TusError),
    /// An uploaded file that is no playable media (it has been deleted).
    #[error("not media: {0}")]
    NotMedia(crate::library::uploads::probe::Rejection),
    /// A lesson attachment whose bytes are none of the accepted types.
    #[error("attachment type refused")]
    AttachmentRefused,
    /// A `Range` that lies outside the file of this many bytes: 416 with
    /// `Content-Range: bytes */{len}`, as RFC 9110 asks.
    #[error("range not satisfiable")]
    RangeNotSatisfiable(u64),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::library::uploads::UploadError> for ApiError {
    fn from(error: crate::library::uploads::UploadError) -> Self {
        use crate::library::uploads::UploadError;
        match error {
            UploadError::Tus(e) => ApiError::Tus(e),
            UploadError::Rejected(r) => ApiError::NotMedia(r),
            UploadError::Catalog(e) => e.into(),
            UploadError::Storage(e) => ApiError::Internal(e.to_string()),
            UploadError::ClientGone(e) => ApiError::BadRequest(e),
        }
    }
}

impl From<crate::library::attachments::AttachmentError> for ApiError {
    fn from(error: crate::library::attachments::AttachmentError) -> Self {
        use crate::library::attachments::AttachmentError;
        match error {
            AttachmentError::TooLarge => ApiError::PayloadTooLarge,
            AttachmentError::Refused => ApiError::AttachmentRefused,
            AttachmentError::Catalog(e) => e.into(),
            AttachmentError::Storage(e) => ApiError::Internal(e.to_string()),
            AttachmentError::ClientGone(e) => ApiError::BadRequest(e),
        }
    }
}

/// A media object that is not there is the resource that is not there;
/// anything else the store says is ours to look into.
impl From<crate::storage::StorageError> for ApiError {
    fn from(error: crate::storage::StorageError) -> Self {
        match error {
            crate::storage::StorageError::NotFound(_) => ApiError::NotFound,
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::NotFound => ApiError::NotFound,
            CatalogError::Invalid(fields) => ApiError::Invalid(fields),
            CatalogError::InvalidRows { field, rows } => ApiError::InvalidRows { field, rows },
            CatalogError::Conflict(code) => ApiError::Conflict(code),
            CatalogError::Taken { field, code } => ApiError::Taken { field, code },
            CatalogError::Unavailable(e) => ApiError::Unavailable(e.to_string()),
            CatalogError::Database(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::library::review::ReviewError> for ApiError {
    fn from(error: crate::library::review::ReviewError) -> Self {
        use crate::library::review::ReviewError;
        match error {
            ReviewError::WrongState(_) => ApiError::Conflict("lesson_wrong_state"),
            ReviewError::CommentRequired => {
                ApiError::Invalid(BTreeMap::from([("comment", "comment_required")]))
            }
            ReviewError::CommentTooLong => {
                ApiError::Invalid(BTreeMap::from([("comment", "too_long")]))
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            other => ApiError::BadJson(other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let lang = REQUEST_LANG.try_with(|l| *l).unwrap_or(Lang::Zh);
        let (status, code, detail, fields) = match &self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", None, BTreeMap::new()),
            ApiError::Invalid(fields) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                None,
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), lang.message(&format!("field.{v}"))))
                    .collect(),
            ),
            ApiError::InvalidRows { field, rows } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                None,
                rows.iter()
                    .map(|(line, v)| {
                        (
                            format!("{field}:{line}"),
                            lang.message(&format!("field.{v}")),
                        )
                    })
                    .collect(),
            ),
            ApiError::BadJson(detail) => (
                StatusCode::BAD_REQUEST,
                "invalid_json",
                Some(detail.clone()),
                BTreeMap::new(),
            ),
            ApiError::BadRequest(detail) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                Some(detail.clone()),
                BTreeMap::new(),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                None,
                BTreeMap::new(),
            ),
            ApiError::Conflict(code) => (StatusCode::CONFLICT, *code, None, BTreeMap::new()),
            ApiError::Taken { field, code } => (
                StatusCode::CONFLICT,
                *code,
                None,
                BTreeMap::from([(field.to_string(), lang.message(&format!("field.{code}")))]),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                None,
                BTreeMap::new(),
            ),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden", None, BTreeMap::new()),
            ApiError::Refused(code) => (StatusCode::FORBIDDEN, *code, None, BTreeMap::new()),
            ApiError::CsrfFailed => (StatusCode::FORBIDDEN, "csrf_failed", None, BTreeMap::new()),
            ApiError::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                None,
                BTreeMap::new(),
            ),
            ApiError::TooManyAttempts(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                Some(match lang {
                    Lang::Zh => format!("请 {} 分钟后再试", seconds.div_ceil(60)),
                    Lang::En => format!("try again in {} min", seconds.div_ceil(60)),
                }),
                BTreeMap::new(),
            ),
            ApiError::Busy(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                None,
                BTreeMap::new(),
            ),
            ApiError::Unavailable(detail) => {
                tracing::warn!("database unavailable: {detail}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    None,
                    BTreeMap::new(),
                )
            }
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                None,
                BTreeMap::new(),
            ),
            ApiError::Upstream(detail) => {
                tracing::warn!("upstream failed: {detail}");
                (
                    StatusCode::BAD_GATEWAY,
                    "upstream_failed",
                    None,
                    BTreeMap::new(),
                )
            }
            ApiError::PlaybackRefused(reason) => {
                (StatusCode::FORBIDDEN, reason.code(), None, BTreeMap::new())
            }
            ApiError::NotLive(_) => (StatusCode::CONFLICT, "not_live", None, BTreeMap::new()),
            ApiError::PublishRefused(refusal) => {
                use crate::ingest::gate::Refusal;
                let (status, code) = match refusal {
                    Refusal::UnknownKey => (StatusCode::UNAUTHORIZED, "unknown_stream_key"),
                    Refusal::Disabled => (StatusCode::FORBIDDEN, "source_disabled"),
                    Refusal::WrongProtocol(_) => (StatusCode::FORBIDDEN, "wrong_source_kind"),
                    Refusal::Busy => (StatusCode::CONFLICT, "classroom_busy"),
                    Refusal::Pipeline(detail) => {
                        tracing::error!("WHIP ingest did not start: {detail}");
                        (StatusCode::INTERNAL_SERVER_ERROR, "internal")
                    }
                    Refusal::Unavailable => {
                        (StatusCode::SERVICE_UNAVAILABLE, "classroom_unavailable")
                    }
                };
                (status, code, None, BTreeMap::new())
            }
            ApiError::WebRtcOff => (
                StatusCode::SERVICE_UNAVAILABLE,
                "webrtc_off",
                None,
                BTreeMap::new(),
            ),
            ApiError::BadOffer(detail) => (
                StatusCode::BAD_REQUEST,
                "invalid_offer",
                Some(detail.clone()),
                BTreeMap::new(),
            ),
            ApiError::Unplayable(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "offer_unplayable",
                Some(detail.clone()),
                BTreeMap::new(),
            ),
            ApiError::Tus(refusal) => {
                use crate::library::uploads::tus::TusError;
                let (status, code) = match refusal {
                    TusError::Version => (StatusCode::PRECONDITION_FAILED, "tus_version"),
                    TusError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                    TusError::TooMany => (StatusCode::TOO_MANY_REQUESTS, "too_many_uploads"),
                    TusError::OffsetMismatch => (StatusCode::CONFLICT, "upload_offset_mismatch"),
                    TusError::ContentType => {
                        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                    }
                    // tus's own status for a chunk that fails its checksum.
                    TusError::ChecksumMismatch => (
                        StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
                        "checksum_mismatch",
                    ),
                    TusError::PastLength => (StatusCode::BAD_REQUEST, "upload_past_length"),
                    TusError::Length
                    | TusError::Metadata
                    | TusError::Offset
                    | TusError::Checksum => (StatusCode::BAD_REQUEST, "invalid_request"),
                };
                let detail = (code == "invalid_request").then(|| refusal.to_string());
                (status, code, detail, BTreeMap::new())
            }
            ApiError::NotMedia(rejection) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                rejection.code(),
                None,
                BTreeMap::new(),
            ),
            ApiError::AttachmentRefused => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "attachment_type_refused",
                None,
                BTreeMap::new(),
            ),
            ApiError::RangeNotSatisfiable(_) => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                None,
                BTreeMap::new(),
            ),
            ApiError::Internal(detail) => {
                // Logged in full here, answered briefly: details of the
                // database are not for the browser.
                tracing::error!("internal error: {detail}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    None,
                    BTreeMap::new(),
                )
            }
        };
        let mut message = lang.message(&format!("error.{code}"));
        if let Some(detail) = detail {
            message = format!("{message}: {detail}");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
                fields,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if matches!(
            self,
            ApiError::Tus(crate::library::uploads::tus::TusError::Version)
        ) {
            response.headers_mut().insert(
                "tus-version",
                axum::http::HeaderValue::from_static(crate::library::uploads::tus::VERSION),
            );
        }
        if let ApiError::RangeNotSatisfiable(len) = self
            && let Ok(value) = axum::http::HeaderValue::from_str(&format!("bytes */{len}"))
        {
            response
                .headers_mut()
                .insert(axum::http::header::CONTENT_RANGE, value);
        }
        let retry_after = match self {
            ApiError::TooManyAttempts(seconds)
            | ApiError::Busy(seconds)
            | ApiError::NotLive(seconds) => Some(seconds),
            // A database restart takes seconds.
            ApiError::Unavailable(_) => Some(2),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// `Json` that answers malformed bodies with our error shape.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

/// `Path` and `Query` that answer malformed ids and parameters the same way.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_the_default_and_english_is_chosen_when_first() {
        assert_eq!(Lang::from_accept_language(None), Lang::Zh);
        assert_eq!(
            Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Lang::Zh
        );
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::Zh.message("error.not_found"), "未找到");
        assert_eq!(Lang::En.message("error.not_found"), "Not found");
    }

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let mut zh: Vec<_> = ZH.keys().collect();
        let mut en: Vec<_> = EN.keys().collect();
        zh.sort();
        en.sort();
        assert_eq!(zh, en);
        assert!(!zh.is_empty());
    }
}
