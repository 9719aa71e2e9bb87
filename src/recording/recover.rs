//! After a crash: close the recordings a dead process left open, from what
//! is on disk. A recording made while the database was down may have no
//! row at all; its `recording.json` says what it was, so it is catalogued
//! now rather than lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

use super::files::{self, blocking, write_durably};
use super::{RecordingMeta, recording_dir};
use crate::catalog::ledger::INSERT_RECORDING;
use crate::catalog::recordings::{self as catalog, RecordingProgress, RecordingStatus};
use crate::hls::playlist::{MediaPlaylist, PlaylistKind, Variant};

/// Closes this node's unfinished recordings; returns how many.
pub async fn recover(
    db: &PgPool,
    recordings_root: &Path,
    target: Duration,
    node: &str,
) -> anyhow::Result<usize> {
    catalogue_orphans(db, recordings_root, node).await?;
    let unfinished = catalog::unfinished(db, node).await?;
    for recording in &unfinished {
        let dir = recording_dir(recordings_root, recording.id);
        let fallback: Vec<Variant> =
            serde_json::from_value(recording.renditions.clone()).unwrap_or_default();
        let (variants, tracks) = blocking(move || replay(&dir, fallback, target)).await?;
        let duration = tracks.first().map_or(Duration::ZERO, |t| t.0);
        let size: u64 = tracks.iter().map(|t| t.1).sum();
        let ended_at =
            recording.started_at + chrono::Duration::from_std(duration).unwrap_or_default();
        catalog::finish(
            db,
            recording.id,
            RecordingStatus::Interrupted,
            ended_at,
            &RecordingProgress {
                duration_ms: duration.as_millis() as i64,
                size_bytes: size as i64,
                renditions: serde_json::to_value(&variants).unwrap_or_default(),
            },
        )
        .await?;
        tracing::warn!(recording = %recording.id, duration_ms = duration.as_millis() as u64, "recovered a recording interrupted by a crash");
    }
    Ok(unfinished.len())
}

/// A rendition's recorded length and size.
type Extent = (Duration, u64);

/// Rebuilds each rendition's playlist from its journal and ends it.
/// Returns the variants and each rendition's extent, top first.
fn replay(
    dir: &Path,
    fallback: Vec<Variant>,
    target: Duration,
) -> std::io::Result<(Vec<Variant>, Vec<Extent>)> {
    let variants = files::read_variants(dir).unwrap_or(fallback);
    let mut tracks = Vec::new();
    for variant in &variants {
        let rendition = dir.join(&variant.name);
        let mut playlist = MediaPlaylist::new(PlaylistKind::Recording, target);
        for entry in files::read_journal(&rendition) {
            playlist.push(entry);
        }
        playlist.end();
        if rendition.exists() {
            write_durably(&rendition.join("index.m3u8"), playlist.render().as_bytes())?;
        }
        tracks.push((playlist.duration(), playlist.size()));
    }
    Ok((variants, tracks))
}

/// Recordings on disk, made by this node, that the catalogue never heard of
/// (the database was down for the whole lesson, then the server died):
/// their lesson and recording rows are made now, to be closed like any other.
async fn catalogue_orphans(db: &PgPool, root: &Path, node: &str) -> anyhow::Result<()> {
    let root_dir: PathBuf = root.to_path_buf();
    let metas: Vec<RecordingMeta> = blocking(move || {
        let mut metas = Vec::new();
        let Ok(entries) = std::fs::read_dir(&root_dir) else {
            return Ok(metas);
        };
        for entry in entries.flatten() {
            if let Some(meta) = files::read_meta(&entry.path()) {
                metas.push(meta);
            }
        }
        Ok(metas)
    })
    .await?;
    let metas: Vec<RecordingMeta> = metas.into_iter().filter(|m| m.node == node).collect();
    if metas.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = metas.iter().map(|m| m.id).collect();
    let known = catalog::known(db, &ids).await?;
    for meta in metas.iter().filter(|m| !known.contains(&m.id)) {
        let result = async {
            let mut tx = db.begin().await?;
            sqlx::query(
                "INSERT INTO live_sessions (id, classroom_id, node, started_at, ended_at, end_reason)
                 VALUES ($1, $2, $3, $4, $5, 'server_restarted') ON CONFLICT (id) DO NOTHING",
            )
            .bind(meta.lesson_id)
            .bind(meta.classroom_id)
            .bind(&meta.node)
            .bind(meta.started_at)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
            sqlx::query(INSERT_RECORDING)
            .bind(meta.id)
            .bind(meta.classroom_id)
            .bind(meta.lesson_id)
            .bind(meta.started_at)
            .bind(meta.rolling)
            .bind(&meta.title)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await;
        match result {
            Ok(()) => {
                tracing::warn!(recording = %meta.id, "catalogued a recording made while the database was away")
            }
            // Its classroom was deleted meanwhile: the files stay for an admin.
            Err(e) => {
                tracing::error!(recording = %meta.id, "cannot catalogue a recording found on disk: {e}")
            }
        }
    }
    Ok(())
}
