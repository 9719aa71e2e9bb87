//! Recording: the live segments kept on disk as they are made.
//!
//! Layout under `media_dir/recordings/{recording_id}/`:
//! `index.m3u8` (master), and per rendition `{name}/init-{n}.mp4`,
//! `{name}/{sequence}.m4s`, `{name}/index.m3u8` and `{name}/segments.jsonl`.
//! Each segment is written and fsynced, then journalled in `segments.jsonl`,
//! then the playlist is replaced atomically; a `kill -9` loses at most the
//! segment being made. After a crash, [`recover`] replays the journals.
//!
//! The recorder is a task; file I/O runs on the blocking pool.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::catalog::recordings::{self as catalog, RecordingProgress, RecordingStatus};
use crate::hls::playlist::{
    MediaPlaylist, PlaylistKind, SegmentEntry, Variant, init_uri, render_master,
};

const JOURNAL: &str = "segments.jsonl";

#[derive(Debug)]
pub enum RecorderMsg {
    Init {
        rendition: String,
        init: u32,
        data: Bytes,
    },
    Segment {
        /// Place in the ladder (0 = top), so the recording's first track is
        /// the top rendition whichever delivers first.
        rank: usize,
        rendition: String,
        entry: SegmentEntry,
        data: Bytes,
        variant: Variant,
    },
    Finish {
        status: RecordingStatus,
        ended_at: DateTime<Utc>,
        /// Drop the slate at the end (the feed never came back).
        trim_slate: bool,
        done: oneshot::Sender<()>,
    },
}

#[derive(Clone)]
pub struct RecorderHandle {
    tx: mpsc::Sender<RecorderMsg>,
    pub id: Uuid,
}

impl RecorderHandle {
    /// Never waits: a recorder that falls this far behind has a dead disk,
    /// and the live stream must not stall for it.
    pub fn send(&self, msg: RecorderMsg) {
        if self.tx.try_send(msg).is_err() {
            metrics::counter!("classcast_recording_messages_dropped_total").increment(1);
            tracing::error!(recording = %self.id, "recorder is not keeping up; a segment was not recorded");
        }
    }

    pub async fn finish(&self, status: RecordingStatus, ended_at: DateTime<Utc>, trim_slate: bool) {
        let (done, wait) = oneshot::channel();
        if self
            .tx
            .send(RecorderMsg::Finish {
                status,
                ended_at,
                trim_slate,
                done,
            })
            .await
            .is_ok()
        {
            let _ = wait.await;
        }
    }
}

struct Track {
    playlist: MediaPlaylist,
    variant: Variant,
}

struct Recorder {
    db: PgPool,
    id: Uuid,
    dir: PathBuf,
    kind: PlaylistKind,
    target: Duration,
    tracks: BTreeMap<String, Track>,
    /// Renditions in ladder order (rank, name): the first is the top.
    order: Vec<(usize, String)>,
    gap_open_at: Option<Duration>,
}

pub fn recording_dir(recordings_root: &Path, id: Uuid) -> PathBuf {
    recordings_root.join(id.to_string())
}

pub fn start(
    db: PgPool,
    recordings_root: &Path,
    id: Uuid,
    rolling: Option<Duration>,
    target: Duration,
) -> RecorderHandle {
    let (tx, mut rx) = mpsc::channel(1024);
    let mut recorder = Recorder {
        db,
        id,
        dir: recording_dir(recordings_root, id),
        kind: rolling.map_or(PlaylistKind::Recording, |keep| PlaylistKind::Rolling {
            keep,
        }),
        target,
        tracks: BTreeMap::new(),
        order: Vec::new(),
        gap_open_at: None,
    };
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if let Err(e) = recorder.handle(msg).await {
                tracing::error!(recording = %recorder.id, "recording write failed: {e:#}");
            }
        }
    });
    RecorderHandle { tx, id }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

fn write_durably(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(data)?;
    file.sync_data()?;
    std::fs::rename(&tmp, path)
}

fn append_journal(dir: &Path, entry: &SegmentEntry) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(JOURNAL))?;
    let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    line.push(b'\n');
    file.write_all(&line)?;
    file.sync_data()
}

impl Recorder {
    async fn handle(&mut self, msg: RecorderMsg) -> anyhow::Result<()> {
        match msg {
            RecorderMsg::Init {
                rendition,
                init,
                data,
            } => {
                let dir = self.dir.join(&rendition);
                blocking(move || {
                    std::fs::create_dir_all(&dir)?;
                    write_durably(&dir.join(init_uri(init)), &data)
                })
                .await?;
            }
            RecorderMsg::Segment {
                rank,
                rendition,
                entry,
                data,
                variant,
            } => {
                self.segment(rank, rendition, entry, data, variant).await?;
            }
            RecorderMsg::Finish {
                status,
                ended_at,
                trim_slate,
                done,
            } => {
                let mut trimmed = Vec::new();
                for (name, track) in self.tracks.iter_mut() {
                    if trim_slate {
                        let dir = self.dir.join(name);
                        let removed = track.playlist.pop_trailing_slate();
                        trimmed.extend(removed.into_iter().map(|s| dir.join(s.uri())));
                    }
                    track.playlist.end();
                }
                self.write_playlists().await?;
                blocking(move || {
                    for path in trimmed {
                        let _ = std::fs::remove_file(path);
                    }
                    Ok(())
                })
                .await?;
                if let Some(start) = self.gap_open_at.take() {
                    if trim_slate {
                        catalog::gap_removed(&self.db, self.id, start.as_millis() as i64).await?;
                    } else {
                        let length = self.duration().saturating_sub(start);
                        catalog::gap_ended(&self.db, self.id, length.as_millis() as i64).await?;
                    }
                }
                catalog::finish(&self.db, self.id, status, ended_at, &self.progress()).await?;
                let _ = done.send(());
            }
        }
        Ok(())
    }

    async fn segment(
        &mut self,
        rank: usize,
        rendition: String,
        entry: SegmentEntry,
        data: Bytes,
        variant: Variant,
    ) -> anyhow::Result<()> {
        let dir = self.dir.join(&rendition);
        let journal_entry = entry.clone();
        blocking(move || {
            std::fs::create_dir_all(&dir)?;
            write_durably(&dir.join(journal_entry.uri()), &data)?;
            append_journal(&dir, &journal_entry)
        })
        .await?;
        if !self.tracks.contains_key(&rendition) {
            let at = self.order.partition_point(|(r, _)| *r <= rank);
            self.order.insert(at, (rank, rendition.clone()));
        }
        // Gaps are read off the top rendition's segments: one starts with
        // the first slate segment and ends with the camera's next one, so
        // the camera's last pictures still in the ladder when it dropped
        // count as lesson, not gap.
        if self.order.first().is_some_and(|(_, top)| *top == rendition) {
            let offset = self.duration();
            match (entry.slate, self.gap_open_at) {
                (true, None) => {
                    self.gap_open_at = Some(offset);
                    catalog::gap_started(&self.db, self.id, offset.as_millis() as i64).await?;
                }
                (false, Some(start)) => {
                    self.gap_open_at = None;
                    let length = offset.saturating_sub(start);
                    catalog::gap_ended(&self.db, self.id, length.as_millis() as i64).await?;
                }
                _ => {}
            }
        }
        let (kind, target) = (self.kind, self.target);
        let track = self
            .tracks
            .entry(rendition.clone())
            .or_insert_with(|| Track {
                playlist: MediaPlaylist::new(kind, target),
                variant: variant.clone(),
            });
        track.variant = variant;
        let evicted = track.playlist.push(entry);
        if !evicted.is_empty() {
            let dir = self.dir.join(&rendition);
            blocking(move || {
                for old in evicted {
                    let _ = std::fs::remove_file(dir.join(old.uri()));
                }
                Ok(())
            })
            .await?;
        }
        self.write_playlists().await?;
        catalog::progress(&self.db, self.id, &self.progress()).await?;
        Ok(())
    }

    fn variants(&self) -> Vec<Variant> {
        self.order
            .iter()
            .filter_map(|(_, name)| self.tracks.get(name))
            .map(|t| t.variant.clone())
            .collect()
    }

    async fn write_playlists(&self) -> anyhow::Result<()> {
        let mut files: Vec<(PathBuf, String)> = self
            .tracks
            .iter()
            .map(|(name, t)| (self.dir.join(name).join("index.m3u8"), t.playlist.render()))
            .collect();
        files.push((self.dir.join("index.m3u8"), render_master(&self.variants())));
        blocking(move || {
            for (path, text) in files {
                write_durably(&path, text.as_bytes())?;
            }
            Ok(())
        })
        .await
    }

    /// Length of the top rendition, which every other rendition follows.
    fn duration(&self) -> Duration {
        self.order
            .first()
            .and_then(|(_, name)| self.tracks.get(name))
            .map_or(Duration::ZERO, |t| t.playlist.duration())
    }

    fn progress(&self) -> RecordingProgress {
        RecordingProgress {
            duration_ms: self.duration().as_millis() as i64,
            size_bytes: self.tracks.values().map(|t| t.playlist.size() as i64).sum(),
            renditions: serde_json::to_value(self.variants()).unwrap_or_default(),
        }
    }
}

/// Closes recordings a dead process left open: replays each rendition's
/// journal, ends the playlists, and marks the recording interrupted.
pub async fn recover(
    db: &PgPool,
    recordings_root: &Path,
    target: Duration,
) -> anyhow::Result<usize> {
    let unfinished = catalog::unfinished(db).await?;
    for recording in &unfinished {
        let dir = recording_dir(recordings_root, recording.id);
        let kind = PlaylistKind::Recording;
        let variants: Vec<Variant> =
            serde_json::from_value(recording.renditions.clone()).unwrap_or_default();
        let replay_dir = dir.clone();
        let names: Vec<String> = variants.iter().map(|v| v.name.clone()).collect();
        let tracks = blocking(move || {
            let mut tracks = Vec::new();
            for name in names {
                let journal = replay_dir.join(&name).join(JOURNAL);
                let text = std::fs::read_to_string(&journal).unwrap_or_default();
                let mut playlist = MediaPlaylist::new(kind, target);
                // A torn last line (killed mid-write) is skipped; its segment is the one lost.
                for entry in text
                    .lines()
                    .filter_map(|l| serde_json::from_str::<SegmentEntry>(l).ok())
                {
                    if replay_dir.join(&name).join(entry.uri()).exists() {
                        playlist.push(entry);
                    }
                }
                playlist.end();
                write_durably(
                    &replay_dir.join(&name).join("index.m3u8"),
                    playlist.render().as_bytes(),
                )?;
                tracks.push((playlist.duration(), playlist.size()));
            }
            Ok(tracks)
        })
        .await?;
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
                renditions: recording.renditions.clone(),
            },
        )
        .await?;
        tracing::warn!(recording = %recording.id, duration_ms = duration.as_millis() as u64, "recovered a recording interrupted by a crash");
    }
    Ok(unfinished.len())
}
