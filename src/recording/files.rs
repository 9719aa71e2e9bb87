//! The recorder's file operations, all blocking (run them through
//! [`blocking`]): durable writes, the segment journal, and playlists that
//! grow by appending.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::hls::playlist::{MediaPlaylist, SegmentEntry, Variant, init_uri, render_master};

use super::RecordingMeta;

pub const JOURNAL: &str = "segments.jsonl";
pub const META: &str = "recording.json";
pub const VARIANTS: &str = "variants.json";

pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// Replaces `path` so that a reader sees the old file or the new, whole.
pub fn write_durably(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(data)?;
    file.sync_data()?;
    std::fs::rename(&tmp, path)
}

pub fn write_meta(dir: &Path, meta: &RecordingMeta) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
    write_durably(&dir.join(META), &json)
}

pub fn read_meta(dir: &Path) -> Option<RecordingMeta> {
    let text = std::fs::read(dir.join(META)).ok()?;
    serde_json::from_slice(&text).ok()
}

pub fn write_init(dir: &Path, init: u32, data: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_durably(&dir.join(init_uri(init)), data)
}

/// The segment, durably, then its journal line: a segment in the journal
/// is always whole on disk.
pub fn write_segment(dir: &Path, entry: &SegmentEntry, data: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_durably(&dir.join(entry.uri()), data)?;
    let mut journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(JOURNAL))?;
    let mut line = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
    line.push(b'\n');
    journal.write_all(&line)?;
    journal.sync_data()
}

/// The segments a rendition's journal lists whose files are there, in
/// order. A torn last line (killed mid-write) is skipped; its segment is
/// the one lost. Segments a rolling window evicted are gone with their files.
pub fn read_journal(rendition: &Path) -> Vec<SegmentEntry> {
    let text = std::fs::read_to_string(rendition.join(JOURNAL)).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<SegmentEntry>(l).ok())
        .filter(|entry| rendition.join(entry.uri()).exists())
        .collect()
}

pub fn write_master(dir: &Path, variants: &[Variant]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec(variants).map_err(std::io::Error::other)?;
    write_durably(&dir.join(VARIANTS), &json)?;
    write_durably(&dir.join("index.m3u8"), render_master(variants).as_bytes())
}

pub fn read_variants(dir: &Path) -> Option<Vec<Variant>> {
    let text = std::fs::read(dir.join(VARIANTS)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// A rendition's `index.m3u8` as written so far.
pub struct PlaylistFile {
    path: PathBuf,
    /// The target duration in the header on disk; None before the first write.
    written_target: Option<Duration>,
}

/// One change to a playlist file, computed on the recorder's task and
/// applied on the blocking pool.
pub struct PlaylistUpdate {
    path: PathBuf,
    text: String,
    append: bool,
}

impl PlaylistFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            written_target: None,
        }
    }

    /// What to write after the newest segment was pushed: its lines,
    /// appended, or the whole playlist when the header changed (its first
    /// write, a longer segment raising the target duration, segments
    /// evicted from a rolling window, the end).
    pub fn update(&mut self, playlist: &MediaPlaylist, rewrite: bool) -> PlaylistUpdate {
        let target = playlist.target_duration();
        if rewrite || self.written_target != Some(target) {
            self.written_target = Some(target);
            PlaylistUpdate {
                path: self.path.clone(),
                text: playlist.render(),
                append: false,
            }
        } else {
            PlaylistUpdate {
                path: self.path.clone(),
                text: playlist.render_last(),
                append: true,
            }
        }
    }
}

impl PlaylistUpdate {
    pub fn apply(self) -> std::io::Result<()> {
        if !self.append {
            return write_durably(&self.path, self.text.as_bytes());
        }
        // One write: a reader sees the segment's lines whole or not at all
        // (and `complete_prefix` cuts a torn read). Not fsynced: after a
        // crash the playlist is rebuilt from the journal.
        let mut file = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        file.write_all(self.text.as_bytes())
    }
}
