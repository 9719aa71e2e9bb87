//! Resumable uploads of lesson videos: the I/O around the pure tus rules
//! (`tus`) and the FFmpeg probe (`probe`). Rows in `catalog::library::uploads`,
//! bytes in the media store, so any node can take any chunk:
//!
//! - every chunk is its own object, `uploads/{id}/parts/{start}-{random}`,
//!   and counts only once its row commits at the offset it started from;
//! - the last chunk joins the parts into `uploads/{id}/media-{random}`, the
//!   probe reads it, and only an accepted file is marked complete; a
//!   rejected one is deleted with its row and every object under its prefix.
//!
//! Memory stays flat: chunks go from the socket to storage as they come.

pub mod probe;
pub mod tus;

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use sha1::{Digest, Sha1};
use sqlx::PgPool;
use uuid::Uuid;

use crate::catalog::CatalogError;
use crate::catalog::library::uploads::{self as rows, Part, Upload};
use crate::storage::{MediaStore, StorageError};
use tus::{AfterChunk, TusError};

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Tus(#[from] TusError),
    /// The file is complete but no playable media; it is gone.
    #[error("rejected: {0}")]
    Rejected(#[from] probe::Rejection),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The client stopped sending mid-chunk; what arrived is kept.
    #[error("the client went away: {0}")]
    ClientGone(String),
}

pub fn prefix(id: Uuid) -> String {
    format!("uploads/{id}/")
}

fn random_suffix() -> String {
    Uuid::new_v4().simple().to_string()
}

/// What one chunk request brings: its body and what its headers promised.
pub struct Chunk {
    pub body: Body,
    /// Bytes it may hold at most (`tus::check_patch`).
    pub room: u64,
    pub checksum: Option<[u8; 20]>,
}

/// Where an upload stands after a chunk.
pub struct Appended {
    pub offset: u64,
    pub expires_at: DateTime<Utc>,
}

/// Stores one chunk of `upload` (which stands at `upload.received`), and
/// when it is the last, assembles and probes the whole file.
///
/// Runs as a task of its own: a request dropped by the server (its client
/// gone) must not stop a write or a join half-way; the task sees the body
/// end and finishes what it started.
pub async fn append(
    db: &PgPool,
    store: &MediaStore,
    upload: &Upload,
    chunk: Chunk,
    expiry: Duration,
) -> Result<Appended, UploadError> {
    let (db, store, upload) = (db.clone(), store.clone(), upload.clone());
    tokio::spawn(async move { append_here(&db, &store, &upload, chunk, expiry).await })
        .await
        .map_err(|e| StorageError::Source(format!("upload task: {e}")))?
}

async fn append_here(
    db: &PgPool,
    store: &MediaStore,
    upload: &Upload,
    chunk: Chunk,
    expiry: Duration,
) -> Result<Appended, UploadError> {
    let start = upload.received as u64;
    let length = upload.length as u64;
    let key = format!("{}parts/{start:020}-{}", prefix(upload.id), random_suffix());
    let mut room = tus::Room::new(chunk.room);
    let mut hasher = chunk.checksum.map(|_| Sha1::new());
    let bytes = chunk.body.into_data_stream().map(|next| {
        let data: Bytes = next.map_err(|e| ChunkFailure::Client(e.to_string()))?;
        room.take(data.len()).map_err(ChunkFailure::Tus)?;
        if let Some(h) = hasher.as_mut() {
            h.update(&data);
        }
        Ok(data)
    });
    let has_checksum = chunk.checksum.is_some();
    let (written, failure) = store
        .put_stream(&key, bytes, |failure, received| {
            // Bytes past the declared length are never kept.
            matches!(failure, ChunkFailure::Client(_))
                && tus::keeps_partial_chunk(has_checksum, received)
        })
        .await?;
    let now = Utc::now();
    let expires_at = tus::expires_at(now, expiry);
    if let Some(ChunkFailure::Tus(e)) = &failure {
        return Err(e.clone().into());
    }
    if let (Some(expected), Some(h)) = (chunk.checksum, hasher)
        && failure.is_none()
        && h.finalize()[..] != expected[..]
    {
        store.delete(&key).await?;
        return Err(TusError::ChecksumMismatch.into());
    }
    let offset = start + written;
    if written > 0 && tus::after_chunk(offset, length) == AfterChunk::Continue {
        let part = Part {
            start,
            length: written,
            key: &key,
        };
        if !rows::add_part(db, upload.id, &part, expires_at).await? {
            store.delete(&key).await?;
            return Err(TusError::OffsetMismatch.into());
        }
    }
    if let Some(ChunkFailure::Client(e)) = failure {
        return Err(UploadError::ClientGone(e));
    }
    if tus::after_chunk(offset, length) == AfterChunk::Complete {
        let mut parts = rows::part_keys(db, upload.id).await?;
        if written > 0 {
            parts.push(key);
        }
        finish(db, store, upload, start, &parts).await?;
    }
    Ok(Appended { offset, expires_at })
}

enum ChunkFailure {
    Client(String),
    Tus(TusError),
}

/// Joins the parts, probes the file, and keeps it only if it is media.
async fn finish(
    db: &PgPool,
    store: &MediaStore,
    upload: &Upload,
    from: u64,
    parts: &[String],
) -> Result<(), UploadError> {
    let media_key = format!("{}media-{}", prefix(upload.id), random_suffix());
    let probed = async {
        store.concatenate(parts, &media_key).await?;
        let local = store.get_to_local(&media_key).await?;
        let path = local.path.clone();
        let result = tokio::task::spawn_blocking(move || probe::probe(&path))
            .await
            .map_err(|e| StorageError::Source(format!("probe task: {e}")))?;
        drop(local);
        Ok::<_, StorageError>(result)
    }
    .await;
    let found = match probed {
        Ok(Ok(found)) => found,
        Ok(Err(rejection)) => {
            discard(db, store, upload.id).await?;
            return Err(rejection.into());
        }
        Err(e) => {
            // The parts may be half joined: keep them, drop the half.
            let _ = store.delete(&media_key).await;
            return Err(e.into());
        }
    };
    let probe_json = serde_json::to_value(&found).unwrap_or_default();
    if !rows::complete(db, upload.id, from, &media_key, &probe_json).await? {
        store.delete(&media_key).await?;
        return Err(TusError::OffsetMismatch.into());
    }
    // The joined parts, and whatever earlier attempts left (a node killed
    // while joining, a chunk whose row never committed).
    if let Err(e) = store.retain_only(&prefix(upload.id), &media_key).await {
        tracing::warn!(upload = %upload.id, "leftovers not deleted: {e}");
    }
    tracing::info!(upload = %upload.id, bytes = upload.length, "upload complete and probed");
    Ok(())
}

/// Deletes an upload: its objects first, then its row (a crash between
/// leaves a row whose objects are gone, which the next delete clears).
pub async fn discard(db: &PgPool, store: &MediaStore, id: Uuid) -> Result<(), UploadError> {
    store.delete_prefix(&prefix(id)).await?;
    rows::delete(db, id).await?;
    Ok(())
}

/// Deletes unfinished uploads that expired before `now`; returns how many.
pub async fn sweep(
    db: &PgPool,
    store: &MediaStore,
    now: DateTime<Utc>,
) -> Result<usize, UploadError> {
    let expired = rows::expired(db, now).await?;
    for id in &expired {
        discard(db, store, *id).await?;
    }
    Ok(expired.len())
}

/// The sweep, every `every`, for as long as the server runs.
pub async fn sweep_expired(db: PgPool, store: MediaStore, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep(&db, &store, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired uploads deleted"),
            Err(e) => tracing::warn!("expired uploads not swept: {e}"),
        }
    }
}
