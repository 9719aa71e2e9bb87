//! One lesson as the classroom task runs it: its ids (made here, so a
//! lesson goes live with the database down), the numbering of its segments,
//! and the list of outputs every fragment goes to.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use gstreamer as gst;
use uuid::Uuid;

use tokio::sync::{oneshot, watch};

use super::ClassroomStatus;
use super::incarnation::{Incarnation, TAIL_FRAGMENT_MIN};
use super::outputs::live_hls::LiveHls;
use super::outputs::recording::Recording;
use super::outputs::{Fragment, LessonEnd, LessonOutput};
use super::supervisor::{EndReason, LessonNo};
use crate::catalog::classrooms::Classroom;
use crate::catalog::ledger::{Ledger, Write};
use crate::hls::SharedOutput;
use crate::hls::playlist::{SegmentEntry, Variant};
use crate::live::LiveContext;
use crate::recording::{self, RecordingMeta};

pub struct Lesson {
    pub no: LessonNo,
    classroom_id: Uuid,
    pub id: Uuid,
    pub recording_id: Option<Uuid>,
    pub started_at: DateTime<Utc>,
    /// When its row was closed, if that happened before its outputs finished.
    row_closed: Option<DateTime<Utc>>,
    outputs: Vec<Box<dyn LessonOutput>>,
    renditions: HashMap<String, RenditionState>,
}

/// What a lesson keeps per rendition across incarnations.
struct RenditionState {
    next_sequence: u64,
    /// With the peak bandwidth seen so far, as HLS wants it.
    variant: Variant,
}

impl Lesson {
    /// Starts a lesson: its rows go to the ledger (the database may be
    /// down; the lesson goes live regardless) and its outputs open.
    pub fn open(
        no: LessonNo,
        ctx: &LiveContext,
        classroom: &Classroom,
        source_id: Option<Uuid>,
        output_tx: &watch::Sender<SharedOutput>,
        status_tx: &watch::Sender<ClassroomStatus>,
    ) -> Self {
        let started_at = Utc::now();
        let id = Uuid::new_v4();
        let ledger = &ctx.ledger;
        ledger.write(Write::LessonStarted {
            id,
            classroom_id: classroom.id,
            source_id,
            started_at,
            node: ctx.node.clone(),
        });
        let config = &ctx.config;
        let mut outputs: Vec<Box<dyn LessonOutput>> = vec![Box::new(LiveHls::new(
            config.live.playlist_segments,
            config.segment_duration(),
            output_tx.clone(),
            status_tx.clone(),
        ))];
        let mut recording_id = None;
        if classroom.recording_enabled {
            let meta = RecordingMeta {
                id: Uuid::new_v4(),
                classroom_id: classroom.id,
                lesson_id: id,
                started_at,
                rolling: classroom.recording_window_seconds.is_some(),
                // Named in the school's time zone when the row is written.
                title: None,
                node: ctx.node.clone(),
            };
            ledger.write(Write::RecordingStarted {
                id: meta.id,
                classroom_id: meta.classroom_id,
                lesson_id: id,
                started_at,
                rolling: meta.rolling,
                title: meta.title.clone(),
            });
            recording_id = Some(meta.id);
            let rolling = classroom
                .recording_window_seconds
                .map(|s| Duration::from_secs(s.max(1) as u64));
            let recorder = recording::start(
                ledger.clone(),
                &config.recordings_dir(),
                meta,
                rolling,
                config.segment_duration(),
            );
            outputs.push(Box::new(Recording::new(recorder)));
        }
        tracing::info!(session = %id, recording = ?recording_id, "lesson started");
        metrics::counter!("classcast_live_sessions_total", "classroom" => classroom.id.to_string())
            .increment(1);
        Self {
            no,
            classroom_id: classroom.id,
            id,
            recording_id,
            started_at,
            row_closed: None,
            outputs,
            renditions: HashMap::new(),
        }
    }

    /// Ends the lesson: its outputs finish (what they return resolves once
    /// they have written everything) and its row is closed.
    pub fn close(mut self, reason: EndReason, ledger: &Ledger) -> Vec<oneshot::Receiver<()>> {
        let end = LessonEnd {
            ended_at: self.row_closed.unwrap_or_else(Utc::now),
            reason: reason.as_str(),
            trim_slate: reason == EndReason::SourceStopped,
        };
        let finishing = self
            .outputs
            .iter_mut()
            .filter_map(|o| o.end(&end))
            .collect();
        if self.row_closed.is_none() {
            ledger.write(Write::LessonEnded {
                id: self.id,
                ended_at: end.ended_at,
                reason: reason.as_str().to_string(),
            });
        }
        tracing::info!(session = %self.id, reason = reason.as_str(), "lesson ended");
        finishing
    }

    /// A fragment from one of this lesson's incarnations, numbered and
    /// handed to every output.
    pub fn fragment(
        &mut self,
        inc: &mut Incarnation,
        rendition: usize,
        init: Option<Bytes>,
        data: Bytes,
        pts: gst::ClockTime,
        duration: gst::ClockTime,
    ) {
        if inc.retiring && duration < TAIL_FRAGMENT_MIN && init.is_none() {
            // Audio that ran past the last picture: a segment with no video
            // confuses players, and nobody misses 100 ms of sound.
            tracing::debug!(
                incarnation = inc.id,
                ?duration,
                "dropping audio-only tail fragment"
            );
            return;
        }
        let Some(plan) = inc.renditions.get(rendition).cloned() else {
            return;
        };
        let Some((discontinuity, codecs)) = inc.next_fragment(rendition) else {
            return;
        };
        let state = self
            .renditions
            .entry(plan.name.clone())
            .or_insert_with(|| RenditionState {
                next_sequence: 0,
                variant: placeholder_variant(&plan.name),
            });
        let variant = &mut state.variant;
        variant.width = plan.width;
        variant.height = plan.height;
        variant.frame_rate = inc.format.as_ref().map(|f| f.fps as f64);
        if let Some(codecs) = codecs {
            variant.codecs = codecs;
        }
        let seconds = duration.nseconds() as f64 / 1e9;
        let bits = data.len() as f64 * 8.0 / seconds.max(0.1);
        variant.bandwidth = variant.bandwidth.max(bits as u64);
        let entry = SegmentEntry {
            sequence: state.next_sequence,
            duration: Duration::from_nanos(duration.nseconds()),
            started_at: inc.wall_origin + chrono::Duration::nanoseconds(pts.nseconds() as i64),
            init: inc.id as u32,
            discontinuity,
            slate: inc.slate,
            size: data.len() as u64,
        };
        state.next_sequence += 1;
        let fragment = Fragment {
            incarnation: inc.id,
            rank: rendition,
            rendition: plan.name,
            lineup: inc.lineup.clone(),
            // The ladder sends it with the rendition's first delivered fragment.
            init,
            entry,
            data,
            variant: state.variant.clone(),
        };
        for output in &mut self.outputs {
            output.fragment(&fragment);
        }
        metrics::counter!("classcast_segments_written_total", "classroom" => self.classroom_id.to_string())
            .increment(1);
    }

    pub fn thumbnail(&mut self, jpeg: &Bytes) {
        for output in &mut self.outputs {
            output.thumbnail(jpeg);
        }
    }

    /// A newer lesson has started while this one's outputs still flush:
    /// it has ended (a lesson starts only after the last one ended), so its
    /// row is closed now, before the newer lesson's row is written — the
    /// catalogue allows one open lesson per classroom. Its end time is thus
    /// late by at most the flush it was waiting for (a few seconds).
    pub fn superseded(&mut self, reason: EndReason, ledger: &Ledger) {
        for output in &mut self.outputs {
            output.superseded();
        }
        if self.row_closed.is_none() {
            let ended_at = Utc::now();
            ledger.write(Write::LessonEnded {
                id: self.id,
                ended_at,
                reason: reason.as_str().to_string(),
            });
            self.row_closed = Some(ended_at);
        }
    }
}

fn placeholder_variant(name: &str) -> Variant {
    Variant {
        name: name.to_string(),
        width: 0,
        height: 0,
        bandwidth: 0,
        codecs: "avc1.640028,mp4a.40.2".into(),
        frame_rate: None,
    }
}
