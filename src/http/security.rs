//! Security headers on every response. The UI (a Vite-built app: hashed
//! JS and CSS under `/assets`, nothing from other origins) gets a Content
//! Security Policy that allows only its own files; everything else (API
//! JSON, media, metrics) a policy that allows nothing, since none of it is
//! meant to be rendered as a page. No page of ours may be framed by
//! another site (the admin UI would be clickjacking material).

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The UI's policy. `style-src 'unsafe-inline'`: the component library
/// (Element Plus) sets inline styles. `blob:` for media and workers:
/// hls.js feeds video through Media Source blobs and may start a worker.
/// `data:` images and fonts: icons and the empty favicon are inlined.
pub const UI_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
    connect-src 'self'; worker-src 'self' blob:; font-src 'self' data:; object-src 'none'; \
    base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
/// For responses that are not pages.
pub const NOT_A_PAGE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

fn is_page(path: &str) -> bool {
    !(path.starts_with("/api/")
        || path == "/api"
        || super::media::is_media_path(path)
        || path == "/metrics"
        || path == "/healthz")
}

pub async fn headers(request: Request, next: Next) -> Response {
    let page = is_page(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Older browsers read this; newer ones frame-ancestors.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Playback URLs carry tokens: never hand them on as a Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if page { UI_POLICY } else { NOT_A_PAGE_POLICY }),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ui_paths_are_pages() {
        for page in ["/", "/index.html", "/assets/index-3f2a.js", "/livestream"] {
            assert!(is_page(page), "{page}");
        }
        for not in [
            "/api/session",
            "/live/x/index.m3u8",
            "/vod/y",
            "/metrics",
            "/healthz",
        ] {
            assert!(!is_page(not), "{not}");
        }
    }
}
