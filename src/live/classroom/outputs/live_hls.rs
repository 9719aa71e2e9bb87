//! The lesson as live HLS: a sliding window per rendition in memory,
//! published through `watch` as a snapshot HTTP handlers read without
//! asking the classroom task anything.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;

use super::{Finishing, Fragment, LessonEnd, LessonOutput};
use crate::hls::playlist::{Variant, render_master};
use crate::hls::{LiveOutput, LiveTrack, SharedOutput};
use crate::live::classroom::ClassroomStatus;

pub struct LiveHls {
    window: usize,
    target: Duration,
    tracks: BTreeMap<String, LiveTrack>,
    /// The renditions on air: those of the newest incarnation that delivered.
    on_air: (u64, Arc<[String]>),
    thumbnail: Option<Bytes>,
    published: watch::Sender<SharedOutput>,
    /// The classroom's status, whose `renditions` this output keeps current.
    status: watch::Sender<ClassroomStatus>,
    /// A newer lesson shows live now; this one only finishes its recording.
    superseded: bool,
}

impl LiveHls {
    pub fn new(
        window: usize,
        target: Duration,
        published: watch::Sender<SharedOutput>,
        status: watch::Sender<ClassroomStatus>,
    ) -> Self {
        Self {
            window,
            target,
            tracks: BTreeMap::new(),
            on_air: (0, Arc::from(Vec::new())),
            thumbnail: None,
            published,
            status,
            superseded: false,
        }
    }

    /// Renditions on air, in ladder order, that have segments.
    fn current_variants(&self) -> Vec<Variant> {
        self.on_air
            .1
            .iter()
            .filter_map(|name| self.tracks.get(name))
            .filter(|t| t.has_segments())
            .map(|t| t.variant.clone())
            .collect()
    }

    fn publish(&self) {
        if self.superseded {
            return;
        }
        let variants = self.current_variants();
        let output = LiveOutput {
            master: (!variants.is_empty()).then(|| render_master(&variants)),
            renditions: self
                .tracks
                .iter()
                .map(|(name, track)| (name.clone(), track.view()))
                .collect(),
            thumbnail: self.thumbnail.clone(),
        };
        self.published.send_replace(Arc::new(output));
        self.status.send_if_modified(|s| {
            let changed = s.renditions != variants;
            if changed {
                s.renditions = variants;
            }
            changed
        });
    }
}

impl LessonOutput for LiveHls {
    fn fragment(&mut self, fragment: &Fragment) {
        if fragment.incarnation >= self.on_air.0 {
            self.on_air = (fragment.incarnation, fragment.lineup.clone());
        }
        let (window, target) = (self.window, self.target);
        let track = self
            .tracks
            .entry(fragment.rendition.clone())
            .or_insert_with(|| LiveTrack::new(window, target, fragment.variant.clone()));
        track.variant = fragment.variant.clone();
        track.add_segment(
            fragment.entry.clone(),
            fragment.init.clone(),
            fragment.data.clone(),
        );
        self.publish();
    }

    fn thumbnail(&mut self, jpeg: &Bytes) {
        self.thumbnail = Some(jpeg.clone());
        self.publish();
    }

    fn superseded(&mut self) {
        self.superseded = true;
    }

    fn end(&mut self, _end: &LessonEnd) -> Finishing {
        if !self.superseded {
            self.published.send_replace(Arc::new(LiveOutput::default()));
            self.status.send_modify(|s| s.renditions.clear());
        }
        None
    }
}
