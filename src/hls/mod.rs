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

/// The live window of one rendition, owned by the classroom's live output.
#[derive(Debug)]
pub struct LiveTrack {
    playlist: MediaPlaylist,
    inits: HashMap<u32, Bytes>,
    segments: HashMap<u64, Bytes>,
    /// What viewers read, rebuilt when the window moves: a snapshot costs
    /// one `Arc` clone, not a copy of the window.
    view: Arc<RenditionView>,
    pub variant: Variant,
}

impl LiveTrack {
    pub fn new(window: usize, target: Duration, variant: Variant) -> Self {
        Self {
            playlist: MediaPlaylist::new(PlaylistKind::Live { window }, target),
            inits: HashMap::new(),
            segments: HashMap::new(),
            view: Arc::new(RenditionView::default()),
            variant,
        }
    }

    /// Adds a segment (with the init it needs, when new) to the window.
    pub fn add_segment(&mut self, entry: SegmentEntry, init: Option<Bytes>, data: Bytes) {
        if let Some(init) = init {
            self.inits.insert(entry.init, init);
        }
        let bits = data.len() as f64 * 8.0 / entry.duration.as_secs_f64().max(0.1);
        // BANDWIDTH is the peak; a player picking by it must not be surprised.
        self.variant.bandwidth = self.variant.bandwidth.max(bits as u64);
        self.segments.insert(entry.sequence, data);
        for old in self.playlist.push(entry) {
            self.segments.remove(&old.sequence);
        }
        // Only inits still referenced by the window are kept.
        let live_inits: Vec<u32> = self.playlist.segments().map(|s| s.init).collect();
        self.inits.retain(|init, _| live_inits.contains(init));
        self.view = Arc::new(RenditionView {
            playlist: self.playlist.render(),
            inits: self.inits.clone(),
            segments: self.segments.clone(),
        });
    }

    pub fn has_segments(&self) -> bool {
        self.playlist.last().is_some()
    }

    pub fn view(&self) -> Arc<RenditionView> {
        self.view.clone()
    }
}

/// A snapshot of everything a classroom serves live.
#[derive(Debug, Clone, Default)]
pub struct LiveOutput {
    pub master: Option<String>,
    pub renditions: HashMap<String, Arc<RenditionView>>,
    pub thumbnail: Option<Bytes>,
}

pub type SharedOutput = Arc<LiveOutput>;
