//! Recording: the live segments kept on disk as they are made.
//!
//! Layout under `media_dir/recordings/{recording_id}/`: `recording.json`
//! (what the recording is, so it can be catalogued even if the database was
//! down the whole lesson), `index.m3u8` and `variants.json` (master), and
//! per rendition `{name}/init-{n}.mp4`, `{name}/{sequence}.m4s`,
//! `{name}/index.m3u8` and `{name}/segments.jsonl`.
//!
//! Each segment is written and fsynced, then journalled in `segments.jsonl`;
//! its playlist lines are appended to `index.m3u8` in one write (a rolling
//! window is rewritten, being bounded). A `kill -9` loses at most the
//! segment being made; after a crash, [`recover`] replays the journals.
//! The cost of a segment does not grow with the lesson: nothing is
//! rewritten per segment, and the catalogue row is updated through the
//! ledger at most every few seconds of recording and at the end.
//!
//! The recorder is a task; file I/O runs on the blocking pool.

mod files;
mod recover;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::catalog::ledger::{Ledger, Write};
use crate::catalog::recordings::{RecordingProgress, RecordingStatus};
use crate::hls::playlist::{MediaPlaylist, PlaylistKind, SegmentEntry, Variant};
use files::{PlaylistFile, blocking};
pub use recover::recover;

/// The catalogue row is brought up to date each time this much more is recorded.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// Room for a few minutes of segments if the disk stalls.
const QUEUE: usize = 1024;

pub fn recording_dir(recordings_root: &Path, id: Uuid) -> PathBuf {
    recordings_root.join(id.to_string())
}

/// Whether the recording in `dir` keeps only a rolling window. Blocking.
pub fn is_rolling(dir: &Path) -> bool {
    files::read_meta(dir).is_some_and(|meta| meta.rolling)
}

/// A recording's top rendition as kept so far: its directory and its
/// segments, in order. None when the recording has no files here (another
/// node's, or deleted). Blocking.
pub fn top_rendition(dir: &Path) -> Option<(PathBuf, Vec<SegmentEntry>)> {
    let top = files::read_variants(dir)?.into_iter().next()?;
    let rendition = dir.join(&top.name);
    let segments = files::read_journal(&rendition);
    (!segments.is_empty()).then_some((rendition, segments))
}

/// What a recording is, kept beside its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingMeta {
    pub id: Uuid,
    pub classroom_id: Uuid,
    pub lesson_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub rolling: bool,
    /// None: named by the database from the classroom and its school's zone.
    #[serde(default)]
    pub title: Option<String>,
    /// The server that ran the lesson, as `live_sessions.node` names it.
    pub node: String,
}

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
    /// Answers once everything sent before it is on disk.
    Flush { done: oneshot::Sender<()> },
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
            metrics::counter!("classcast_channel_dropped_total", "channel" => "recorder")
                .increment(1);
            tracing::error!(recording = %self.id, "recorder is not keeping up; a segment was not recorded");
        }
    }

    /// Waits until everything sent so far is on disk.
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.tx.send(RecorderMsg::Flush { done }).await.is_ok() {
            let _ = flushed.await;
        }
    }

    /// Asks the recorder to finish; the answer resolves once the files are
    /// final and the catalogue writes are handed to the ledger. The end is
    /// never dropped, even behind a full queue.
    pub fn finish(
        &self,
        status: RecordingStatus,
        ended_at: DateTime<Utc>,
        trim_slate: bool,
    ) -> oneshot::Receiver<()> {
        let (done, finished) = oneshot::channel();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx
                .send(RecorderMsg::Finish {
                    status,
                    ended_at,
                    trim_slate,
                    done,
                })
                .await;
        });
        finished
    }
}

struct Track {
    playlist: MediaPlaylist,
    file: PlaylistFile,
    variant: Variant,
}

struct Recorder {
    ledger: Ledger,
    id: Uuid,
    dir: PathBuf,
    kind: PlaylistKind,
    target: Duration,
    tracks: BTreeMap<String, Track>,
    /// Renditions in ladder order (rank, name): the first is the top.
    order: Vec<(usize, String)>,
    gap_open_at: Option<Duration>,
    /// The master as last written, so it is rewritten only when it changes.
    written_variants: Vec<Variant>,
    /// Recorded length at the last progress write.
    progress_at: Duration,
}

/// Starts the recorder task. The catalogue row is the classroom's to start
/// (through the ledger, right after the lesson's); the recorder keeps it
/// up to date and finishes it.
pub fn start(
    ledger: Ledger,
    recordings_root: &Path,
    meta: RecordingMeta,
    rolling: Option<Duration>,
    target: Duration,
) -> RecorderHandle {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let id = meta.id;
    let mut recorder = Recorder {
        ledger,
        id,
        dir: recording_dir(recordings_root, id),
        kind: rolling.map_or(PlaylistKind::Recording, |keep| PlaylistKind::Rolling {
            keep,
        }),
        target,
        tracks: BTreeMap::new(),
        order: Vec::new(),
        gap_open_at: None,
        written_variants: Vec::new(),
        progress_at: Duration::ZERO,
    };
    tokio::spawn(async move {
        let dir = recorder.dir.clone();
        if let Err(e) = blocking(move || files::write_meta(&dir, &meta)).await {
            tracing::error!(recording = %id, "cannot write recording.json: {e:#}");
        }
        while let Some(msg) = rx.recv().await {
            if let Err(e) = recorder.handle(msg).await {
                tracing::error!(recording = %recorder.id, "recording write failed: {e:#}");
            }
        }
    });
    RecorderHandle { tx, id }
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
                blocking(move || files::write_init(&dir, init, &data)).await?;
            }
            RecorderMsg::Segment {
                rank,
                rendition,
                entry,
                data,
                variant,
            } => self.segment(rank, rendition, entry, data, variant).await?,
            RecorderMsg::Finish {
                status,
                ended_at,
                trim_slate,
                done,
            } => {
                self.finish(status, ended_at, trim_slate).await?;
                let _ = done.send(());
            }
            RecorderMsg::Flush { done } => {
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
                    self.ledger.write(Write::GapStarted {
                        recording: self.id,
                        offset_ms: offset.as_millis() as i64,
                    });
                }
                (false, Some(start)) => {
                    self.gap_open_at = None;
                    self.ledger.write(Write::GapEnded {
                        recording: self.id,
                        duration_ms: offset.saturating_sub(start).as_millis() as i64,
                    });
                }
                _ => {}
            }
        }
        let (kind, target) = (self.kind, self.target);
        let dir = self.dir.join(&rendition);
        let track = self
            .tracks
            .entry(rendition.clone())
            .or_insert_with(|| Track {
                playlist: MediaPlaylist::new(kind, target),
                file: PlaylistFile::new(dir.join("index.m3u8")),
                variant: variant.clone(),
            });
        track.variant = variant;
        let evicted = track.playlist.push(entry.clone());
        let update = track.file.update(&track.playlist, !evicted.is_empty());
        blocking(move || {
            files::write_segment(&dir, &entry, &data)?;
            for old in evicted {
                let _ = std::fs::remove_file(dir.join(old.uri()));
            }
            update.apply()
        })
        .await?;
        self.write_master().await?;
        let duration = self.duration();
        if duration >= self.progress_at + PROGRESS_EVERY {
            self.progress_at = duration;
            self.ledger.write(Write::RecordingProgress {
                id: self.id,
                progress: self.progress(),
            });
        }
        Ok(())
    }

    async fn finish(
        &mut self,
        status: RecordingStatus,
        ended_at: DateTime<Utc>,
        trim_slate: bool,
    ) -> anyhow::Result<()> {
        let mut trimmed = Vec::new();
        let mut rewrites = Vec::new();
        for (name, track) in self.tracks.iter_mut() {
            if trim_slate {
                let dir = self.dir.join(name);
                let removed = track.playlist.pop_trailing_slate();
                trimmed.extend(removed.into_iter().map(|s| dir.join(s.uri())));
            }
            track.playlist.end();
            rewrites.push(track.file.update(&track.playlist, true));
        }
        blocking(move || {
            for rewrite in rewrites {
                rewrite.apply()?;
            }
            for path in trimmed {
                let _ = std::fs::remove_file(path);
            }
            Ok(())
        })
        .await?;
        self.write_master().await?;
        if let Some(start) = self.gap_open_at.take() {
            if trim_slate {
                self.ledger.write(Write::GapRemoved {
                    recording: self.id,
                    offset_ms: start.as_millis() as i64,
                });
            } else {
                let length = self.duration().saturating_sub(start);
                self.ledger.write(Write::GapEnded {
                    recording: self.id,
                    duration_ms: length.as_millis() as i64,
                });
            }
        }
        self.ledger.write(Write::RecordingFinished {
            id: self.id,
            status,
            ended_at,
            progress: self.progress(),
        });
        Ok(())
    }

    fn variants(&self) -> Vec<Variant> {
        self.order
            .iter()
            .filter_map(|(_, name)| self.tracks.get(name))
            .map(|t| t.variant.clone())
            .collect()
    }

    /// Rewrites the master (and `variants.json`) when a rendition appears
    /// or its peak bandwidth grows; not otherwise.
    async fn write_master(&mut self) -> anyhow::Result<()> {
        let variants = self.variants();
        if variants == self.written_variants {
            return Ok(());
        }
        self.written_variants = variants.clone();
        let dir = self.dir.clone();
        blocking(move || files::write_master(&dir, &variants)).await
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
