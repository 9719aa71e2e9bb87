//! The API's body limit, answered so that clients can read the answer.
//!
//! Answering 413 as soon as a body is known to be too large, and closing,
//! races the client still writing it: the client sees a broken pipe (or a
//! reset that discards our answer) instead of `payload_too_large`. Like
//! nginx's lingering close, we read the rest of an oversized body and
//! throw it away — but only so much and only for so long, so a client
//! cannot keep a connection busy by sending forever.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::AppState;
use super::error::ApiError;

/// How much of an oversized body we read and discard before answering.
const DRAIN_FACTOR: usize = 16;
/// How long we wait for it.
const DRAIN_TIME: Duration = Duration::from_secs(10);

pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let max = state.config.http.max_body_bytes;
    let (parts, body) = request.into_parts();
    match read_at_most(body, max).await {
        Read::Whole(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Read::TooLarge => ApiError::PayloadTooLarge.into_response(),
        // The client went away or sent a broken body: nobody reads an answer,
        // but give the one a proxy would log.
        Read::Broken => {
            ApiError::BadRequest("the request body could not be read".into()).into_response()
        }
        Read::Slow => ApiError::BadRequest(format!(
            "the request body did not arrive within {} s",
            DRAIN_TIME.as_secs()
        ))
        .into_response(),
    }
}

enum Read {
    Whole(Bytes),
    TooLarge,
    Broken,
    Slow,
}

async fn read_at_most(mut body: Body, max: usize) -> Read {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    let drain_until = tokio::time::Instant::now() + DRAIN_TIME;
    loop {
        let frame = match tokio::time::timeout_at(drain_until, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(_))) => return Read::Broken,
            Ok(None) => break,
            Err(_) if seen > max => return Read::TooLarge,
            Err(_) => return Read::Slow,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        seen = seen.saturating_add(data.len());
        if seen <= max {
            kept.extend_from_slice(&data);
        } else {
            kept = Vec::new();
            if seen > max.saturating_mul(DRAIN_FACTOR) {
                return Read::TooLarge;
            }
        }
    }
    if seen > max {
        Read::TooLarge
    } else {
        Read::Whole(Bytes::from(kept))
    }
}
