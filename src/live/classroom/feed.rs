//! What arrives from the pipelines: frames from the ingest, which start
//! the ladder on the first keyframe and are timed onto its timeline, audio
//! kept continuous with silence, and the ladder's events.

use super::*;

impl ClassroomTask {
    async fn pipeline_failed(&mut self, id: u64, error: &str, ladder: bool) {
        warn!(incarnation = id, "pipeline error: {error}");
        if self.camera.as_ref().is_some_and(|c| c.id == id) {
            self.problem = Some(format!("source_failed: {error}"));
            self.camera_lost("error", Instant::now()).await;
        } else if self.slate.as_ref().is_some_and(|c| c.id == id) {
            self.slate = None;
        } else if ladder {
            // A retiring incarnation's ingest is already gone and may still
            // report; only its ladder failing ends the flush of its tail.
            self.retiring.retain(|r| r.id != id);
        }
    }

    pub(super) async fn media(&mut self, msg: MediaMsg) {
        let id = msg.incarnation;
        match msg.event {
            MediaEvent::Video { frame, format } => self.video(id, frame, format).await,
            MediaEvent::Audio(frame) => self.audio(id, frame),
            MediaEvent::AudioSeen => {
                if let Some(inc) = self.find(id) {
                    inc.audio_seen = true;
                }
            }
            MediaEvent::Unsupported(caps) => {
                if let Some(inc) = self.find(id) {
                    inc.unsupported = Some(caps);
                }
            }
            MediaEvent::IngestError(e) => self.pipeline_failed(id, &e, false).await,
            MediaEvent::LadderError(e) => self.pipeline_failed(id, &e, true).await,
            MediaEvent::IngestEos => {
                if self.camera.as_ref().is_some_and(|c| c.id == id) {
                    self.camera_lost("source_ended", Instant::now()).await;
                }
            }
            MediaEvent::LadderEos => self.retiring.retain(|r| r.id != id),
            MediaEvent::Init { rendition, data } => self.init(id, rendition, data),
            MediaEvent::Fragment {
                rendition,
                data,
                pts,
                duration,
            } => self.fragment(id, rendition, data, pts, duration),
            MediaEvent::Thumbnail(jpeg) => {
                if let Some(lesson) = &mut self.lesson {
                    lesson.thumbnail = Some(jpeg);
                    self.publish_output();
                }
            }
        }
    }

    pub(super) async fn video(&mut self, id: u64, frame: Frame, format: Option<VideoFormat>) {
        let is_camera = self.camera.as_ref().is_some_and(|c| c.id == id);
        let settings = LadderSettings {
            segment: self.ctx.config.segment_duration(),
            x264_preset: self.ctx.config.live.x264_preset.clone(),
        };
        let ladder_heights = self.classroom.ladder_heights.clone();
        let camera_plan = self.last_plan.clone();
        let media_tx = self.media_tx.clone();
        let Some(inc) = self.find(id) else { return };
        if inc.retiring_since.is_some() {
            return;
        }
        if let Some(format) = &format {
            if inc.format.as_ref().is_some_and(|f| {
                f.width != format.width || f.height != format.height || f.codec != format.codec
            }) {
                // A camera that changes size mid-stream gets a fresh incarnation.
                warn!(incarnation = id, "video format changed; reconnecting");
                if is_camera {
                    self.camera_lost("format_changed", Instant::now()).await;
                    self.retry_at = Some(Instant::now());
                }
                return;
            }
            inc.format = Some(format.clone());
        }
        let first = inc.origin.is_none();
        if first {
            if !frame.keyframe {
                return; // decoders need a keyframe to start
            }
            let Some(format) = inc.format.clone() else {
                return;
            };
            inc.origin = Some(frame.dts.min(frame.pts));
            inc.wall_origin = Utc::now();
            inc.renditions = match camera_plan {
                Some(camera) if inc.slate => plan::stand_in(&camera),
                _ => plan::plan(&format, &ladder_heights),
            };
            inc.produced = vec![false; inc.renditions.len()];
            let description = match crate::transcode::describe(&format, &inc.renditions, &settings)
            {
                Ok(d) => d,
                Err(e) => {
                    warn!("ladder description: {e}");
                    return;
                }
            };
            tracing::debug!(incarnation = id, "ladder:\n{description}");
            match Ladder::start(&description, &inc.renditions, id, media_tx) {
                Ok(ladder) => inc.ladder = Some(ladder),
                Err(e) => {
                    warn!("cannot start ladder: {e}");
                    return;
                }
            }
        }
        let origin = inc.origin.unwrap_or_default();
        let dts = frame.dts.saturating_sub(origin);
        let pts = frame.pts.saturating_sub(origin);
        let now = Instant::now();
        inc.last_video = now;
        let duration = frame.duration.unwrap_or(gst::ClockTime::from_mseconds(40));
        inc.video_end = inc.video_end.max((pts + duration).nseconds());
        let size = frame.buffer.size() as u64;
        let mut buffer = frame.buffer.copy();
        {
            // `copy` shares the memory and gives us a writable header.
            let buffer = buffer.get_mut().expect("fresh copy is writable");
            buffer.set_pts(pts);
            buffer.set_dts(dts);
        }
        let silence = inc.audio.on_video(dts.nseconds());
        if let Some(ladder) = &inc.ladder {
            if let Some(action) = silence {
                push_audio_action(ladder, action, None);
            }
            if let Some(previous) = inc.held_video.replace(buffer) {
                if ladder.push_video(previous).is_err() {
                    metrics::counter!("classcast_ladder_push_failed_total").increment(1);
                }
            }
        }
        if is_camera {
            self.stats.bytes += size;
            self.stats.frames += 1;
            if first {
                self.camera_started(id).await;
            }
        }
    }

    pub(super) fn audio(&mut self, id: u64, frame: Frame) {
        let Some(inc) = self.find(id) else { return };
        let (Some(origin), Some(ladder)) = (inc.origin, &inc.ladder) else {
            return;
        };
        if frame.pts < origin || inc.retiring_since.is_some() {
            return;
        }
        let pts = (frame.pts - origin).nseconds();
        let samples = frame.buffer.size() as u64 / AUDIO_BYTES_PER_FRAME;
        let duration = samples * 1_000_000_000 / AUDIO_RATE;
        for action in inc.audio.on_audio(pts, duration) {
            push_audio_action(ladder, action, Some(&frame.buffer));
        }
    }
}

/// Pushes real audio or generated silence into the ladder.
pub(super) fn push_audio_action(ladder: &Ladder, action: AudioAction, real: Option<&gst::Buffer>) {
    let buffer = match (action, real) {
        (AudioAction::Pass { start }, Some(real)) => {
            let mut buffer = real.copy();
            let b = buffer.get_mut().expect("fresh copy is writable");
            b.set_pts(gst::ClockTime::from_nseconds(start));
            b.set_dts(gst::ClockTime::NONE);
            buffer
        }
        (AudioAction::Silence { start, duration }, _) => {
            let samples = duration * AUDIO_RATE / 1_000_000_000;
            if samples == 0 {
                return;
            }
            let mut buffer =
                gst::Buffer::from_mut_slice(vec![0u8; (samples * AUDIO_BYTES_PER_FRAME) as usize]);
            let b = buffer.get_mut().expect("new buffer is writable");
            b.set_pts(gst::ClockTime::from_nseconds(start));
            b.set_duration(gst::ClockTime::from_nseconds(duration));
            buffer
        }
        _ => return,
    };
    if ladder.push_audio(buffer).is_err() {
        metrics::counter!("classcast_ladder_push_failed_total").increment(1);
    }
}
