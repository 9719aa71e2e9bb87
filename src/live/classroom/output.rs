//! What a classroom publishes: live HLS tracks built from the ladders'
//! init segments and fragments (also handed to the recorder), and the
//! status and output snapshots HTTP handlers read.

use super::*;

impl ClassroomTask {
    pub(super) fn init(&mut self, id: u64, rendition: usize, data: bytes::Bytes) {
        let window = self.ctx.config.live.playlist_segments;
        let target = self.ctx.config.segment_duration();
        let Some(name) = self
            .find(id)
            .and_then(|i| i.renditions.get(rendition))
            .map(|r| r.name.clone())
        else {
            return;
        };
        let Some(lesson) = &mut self.lesson else {
            return;
        };
        let variant = variant_placeholder(&name);
        let track = lesson
            .tracks
            .entry(name.clone())
            .or_insert_with(|| LiveTrack::new(window, target, variant));
        track.add_init(id as u32, data.clone());
        if let Some(recorder) = &lesson.recorder {
            recorder.send(RecorderMsg::Init {
                rendition: name,
                init: id as u32,
                data,
            });
        }
    }

    pub(super) fn fragment(
        &mut self,
        id: u64,
        rendition: usize,
        data: bytes::Bytes,
        pts: gst::ClockTime,
        duration: gst::ClockTime,
    ) {
        let window = self.ctx.config.live.playlist_segments;
        let target = self.ctx.config.segment_duration();
        let classroom = self.classroom.id;
        let Some(inc) = self.find(id) else { return };
        if inc.retiring_since.is_some() && duration < TAIL_FRAGMENT_MIN {
            // Audio that ran past the last picture: a segment with no video
            // confuses players, and nobody misses 100 ms of sound.
            tracing::debug!(
                incarnation = id,
                ?duration,
                "dropping audio-only tail fragment"
            );
            return;
        }
        let Some(plan) = inc.renditions.get(rendition).cloned() else {
            return;
        };
        let discontinuity = !std::mem::replace(&mut inc.produced[rendition], true);
        let started_at = inc.wall_origin + chrono::Duration::nanoseconds(pts.nseconds() as i64);
        let slate = inc.slate;
        let fps = inc.format.as_ref().map(|f| f.fps as f64);
        // Codec parameters change only with a new incarnation: read them from
        // the muxer's pads on its first fragment, not on every one.
        let codecs = discontinuity
            .then(|| inc.ladder.as_ref().and_then(|l| l.codecs(&plan.name)))
            .flatten();
        let Some(lesson) = &mut self.lesson else {
            return;
        };
        let track = lesson
            .tracks
            .entry(plan.name.clone())
            .or_insert_with(|| LiveTrack::new(window, target, variant_placeholder(&plan.name)));
        track.variant.width = plan.width;
        track.variant.height = plan.height;
        track.variant.frame_rate = fps;
        if let Some(codecs) = codecs {
            track.variant.codecs = codecs;
        }
        let entry = SegmentEntry {
            sequence: track.next_sequence(),
            duration: Duration::from_nanos(duration.nseconds()),
            started_at,
            init: id as u32,
            discontinuity,
            slate,
            size: data.len() as u64,
        };
        track.add_segment(entry.clone(), data.clone());
        let variant = track.variant.clone();
        if let Some(recorder) = &lesson.recorder {
            recorder.send(RecorderMsg::Segment {
                rank: rendition,
                rendition: plan.name,
                entry,
                data,
                variant,
            });
        }
        metrics::counter!("classcast_segments_written_total", "classroom" => classroom.to_string())
            .increment(1);
        self.publish_output();
    }

    /// Renditions of what is on air now, in ladder order, that have segments.
    pub(super) fn current_variants(&self) -> Vec<Variant> {
        let Some(lesson) = &self.lesson else {
            return Vec::new();
        };
        let on_air = self
            .camera
            .as_ref()
            .filter(|c| c.ladder.is_some())
            .or(self.slate.as_ref());
        let names: Vec<String> = match on_air {
            Some(inc) => inc.renditions.iter().map(|r| r.name.clone()).collect(),
            None => lesson.tracks.keys().cloned().collect(),
        };
        names
            .iter()
            .filter_map(|n| lesson.tracks.get(n))
            .filter(|t| t.has_segments())
            .map(|t| t.variant.clone())
            .collect()
    }

    pub(super) fn publish_output(&mut self) {
        let variants = self.current_variants();
        let Some(lesson) = &self.lesson else { return };
        let output = LiveOutput {
            master: (!variants.is_empty()).then(|| render_master(&variants)),
            renditions: lesson
                .tracks
                .iter()
                .map(|(n, t)| (n.clone(), t.view()))
                .collect(),
            thumbnail: lesson.thumbnail.clone(),
        };
        self.output_tx.send_replace(Arc::new(output));
        if self.status_tx.borrow().renditions != variants {
            self.status_tx.send_modify(|s| s.renditions = variants);
        }
    }

    pub(super) fn publish_status(&self) {
        let state = match &self.lesson {
            None => LiveState::Idle,
            Some(l) if l.lost_since.is_some() => LiveState::SignalLost,
            Some(_) => LiveState::Live,
        };
        let lesson = self.lesson.as_ref();
        let variants = self.current_variants();
        self.status_tx.send_modify(|s| {
            s.state = state;
            s.session_id = lesson.map(|l| l.session_id);
            s.recording_id = lesson.and_then(|l| l.recorder.as_ref().map(|r| r.id));
            s.live_since = lesson.map(|l| l.started_at);
            s.source_id = self.camera.as_ref().and_then(|c| c.source_id);
            s.problem = self.problem.clone();
            s.renditions = variants;
            if state == LiveState::Idle {
                s.ingest_kbps = 0;
                s.fps = 0.0;
            }
        });
    }
}

fn variant_placeholder(name: &str) -> Variant {
    Variant {
        name: name.to_string(),
        width: 0,
        height: 0,
        bandwidth: 0,
        codecs: "avc1.640028,mp4a.40.2".into(),
        frame_rate: None,
    }
}
