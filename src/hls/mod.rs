//! HLS for live viewers: per-rendition playlists and the recent segments,
//! kept in memory and published as immutable snapshots that HTTP handlers
//! read without talking to the classroom task.

pub mod playlist;
pub mod viewers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use playlist::{MediaPlaylist, PlaylistKind, SegmentEntry, Variant};

/// What viewers of one rendition can fetch right now.
#[derive(Debug, Clone, Default)]
pub struct RenditionView {
    pub playlist: String,
    pub inits: HashMap<u32, Bytes>,
    pub segments: HashMap<u64, Bytes>,
}

/// The live window of one rendition, owned by the classroom task.
#[derive(Debug)]
pub struct LiveTrack {
    playlist: MediaPlaylist,
    next_sequence: u64,
    view: RenditionView,
    pub variant: Variant,
}

impl LiveTrack {
    pub fn new(window: usize, target: Duration, variant: Variant) -> Self {
        Self {
            playlist: MediaPlaylist::new(PlaylistKind::Live { window }, target),
            next_sequence: 0,
            view: RenditionView::default(),
            variant,
        }
    }

    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    pub fn add_init(&mut self, init: u32, data: Bytes) {
        // Only inits still referenced by the window are kept.
        self.view.inits.insert(init, data);
    }

    pub fn add_segment(&mut self, entry: SegmentEntry, data: Bytes) {
        self.next_sequence = entry.sequence + 1;
        let bits = data.len() as f64 * 8.0 / entry.duration.as_secs_f64().max(0.1);
        // BANDWIDTH is the peak; a player picking by it must not be surprised.
        self.variant.bandwidth = self.variant.bandwidth.max(bits as u64);
        self.view.segments.insert(entry.sequence, data);
        for old in self.playlist.push(entry) {
            self.view.segments.remove(&old.sequence);
        }
        let live_inits: Vec<u32> = self.playlist.segments().map(|s| s.init).collect();
        self.view
            .inits
            .retain(|init, _| live_inits.contains(init) || live_inits.is_empty());
        self.view.playlist = self.playlist.render();
    }

    pub fn has_segments(&self) -> bool {
        self.playlist.last().is_some()
    }

    pub fn view(&self) -> RenditionView {
        self.view.clone()
    }
}

/// A snapshot of everything a classroom serves live.
#[derive(Debug, Clone, Default)]
pub struct LiveOutput {
    pub master: Option<String>,
    pub renditions: HashMap<String, RenditionView>,
    pub thumbnail: Option<Bytes>,
}

pub type SharedOutput = Arc<LiveOutput>;
