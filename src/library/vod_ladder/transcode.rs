//! Making the ladder: probe the file (GStreamer's discoverer), run the one
//! transcode pipeline built from `pipelines/vod-*.pipeline` to its end,
//! reporting progress from its position, and write the master playlist.
//! Everything here blocks; it runs on the job's own thread.

use std::path::Path;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_pbutils as pbutils;

use super::{
    AUDIO_BPS, AUDIO_ONLY, MadeRendition, Probed, SEGMENT_SECONDS, VideoRendition, mark_vod,
    master_playlist, peak_bps, plan, playlist_segments,
};
use crate::library::jobs::percent;
use crate::library::jobs::runner::{JobContext, WorkError};
use crate::pipelines;

const SOURCE: &str = include_str!("../../../pipelines/vod-source.pipeline");
const VIDEO: &str = include_str!("../../../pipelines/vod-video.pipeline");
const AUDIO: &str = include_str!("../../../pipelines/vod-audio.pipeline");
const RENDITION: &str = include_str!("../../../pipelines/vod-rendition.pipeline");
const RENDITION_AUDIO: &str = include_str!("../../../pipelines/vod-rendition-audio.pipeline");
const AUDIO_ONLY_RENDITION: &str = include_str!("../../../pipelines/vod-audio-only.pipeline");

/// How long probing may take before the file is called unreadable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

fn failed(what: &str) -> impl Fn(String) -> WorkError + '_ {
    move |detail| WorkError::Failed(format!("{what}: {detail}"))
}

pub fn probe(input: &Path) -> Result<Probed, WorkError> {
    let not_media = failed("not a playable media file");
    crate::media::init().map_err(|e| not_media(e.to_string()))?;
    let uri = gst::glib::filename_to_uri(input, None).map_err(|e| not_media(e.to_string()))?;
    let discoverer = pbutils::Discoverer::new(gst::ClockTime::from_nseconds(
        PROBE_TIMEOUT.as_nanos() as u64,
    ))
    .map_err(|e| not_media(e.to_string()))?;
    let info = discoverer
        .discover_uri(uri.as_str())
        .map_err(|e| not_media(e.to_string()))?;
    let video = info.video_streams().into_iter().next().map(|v| {
        let (num, den) = (v.framerate().numer(), v.framerate().denom());
        let fps = if num > 0 && den > 0 {
            (num as f64 / den as f64).round() as u32
        } else {
            25
        };
        // Display size: square pixels after the aspect ratio is applied.
        let (par_n, par_d) = (v.par().numer().max(1), v.par().denom().max(1));
        let width = (u64::from(v.width()) * par_n as u64 / par_d as u64) as u32;
        (width, v.height(), fps.clamp(1, 120))
    });
    let audio = !info.audio_streams().is_empty();
    if video.is_none() && !audio {
        return Err(not_media("it has neither video nor audio".into()));
    }
    let duration = info
        .duration()
        .map(|d| Duration::from_nanos(d.nseconds()))
        .unwrap_or_default();
    Ok(Probed {
        duration,
        video,
        audio,
    })
}

/// The whole pipeline for this input: its parts, filled in.
fn describe(
    input: &Path,
    probed: &Probed,
    dir: &Path,
    preset: &str,
    renditions: &[VideoRendition],
    gain: f64,
) -> Result<String, WorkError> {
    let bad = |e: pipelines::TemplateError| {
        WorkError::Failed(format!("cannot describe the transcode: {e}"))
    };
    let input = input.display().to_string();
    let dir = dir.display().to_string();
    let segment = SEGMENT_SECONDS.to_string();
    let audio_bps = AUDIO_BPS.to_string();
    let mut parts = vec![pipelines::fill(SOURCE, &[("input", input.as_str())]).map_err(bad)?];
    if probed.audio {
        let gain = format!("{gain:.6}");
        parts.push(
            pipelines::fill(AUDIO, &[("audio_bps", audio_bps.as_str()), ("gain", &gain)])
                .map_err(bad)?,
        );
        parts.push(
            pipelines::fill(
                AUDIO_ONLY_RENDITION,
                &[("segment_seconds", segment.as_str()), ("dir", dir.as_str())],
            )
            .map_err(bad)?,
        );
    }
    if let Some((_, _, fps)) = probed.video {
        parts.push(VIDEO.to_string());
        // A keyframe at least every segment: hlssink2 asks for one at each
        // boundary, and this bounds the GOP when a request comes late.
        let max_gop = (u64::from(fps) * SEGMENT_SECONDS).to_string();
        for r in renditions {
            let (width, height, kbps) = (
                r.width.to_string(),
                r.height.to_string(),
                r.kbps.to_string(),
            );
            let values = [
                ("name", r.name.as_str()),
                ("width", width.as_str()),
                ("height", height.as_str()),
                ("kbps", kbps.as_str()),
                ("preset", preset),
                ("max_gop", max_gop.as_str()),
                ("segment_seconds", segment.as_str()),
                ("dir", dir.as_str()),
            ];
            parts.push(pipelines::fill(RENDITION, &values).map_err(bad)?);
            if probed.audio {
                parts.push(
                    pipelines::fill(RENDITION_AUDIO, &[("name", r.name.as_str())]).map_err(bad)?,
                );
            }
        }
        if let Some((w, h, _)) = probed.video {
            parts.push(super::grab::describe(w, h, probed.duration).map_err(bad)?);
        }
    }
    Ok(parts.join("\n"))
}

/// Transcodes `input` into `dir` (one directory per rendition), its sound
/// multiplied by `gain` (linear); returns what was made, for the master
/// playlist.
pub fn run(
    input: &Path,
    probed: &Probed,
    dir: &Path,
    preset: &str,
    gain: f64,
    job: &JobContext,
) -> Result<Vec<MadeRendition>, WorkError> {
    let renditions = match probed.video {
        Some((w, h, fps)) => plan(w, h, fps),
        None => Vec::new(),
    };
    let mut made: Vec<MadeRendition> = renditions
        .iter()
        .map(|r| MadeRendition {
            dir: r.name.clone(),
            resolution: Some((r.width, r.height)),
            has_audio: probed.audio,
            peak_bps: 0,
        })
        .collect();
    if probed.audio {
        made.push(MadeRendition {
            dir: AUDIO_ONLY.into(),
            resolution: None,
            has_audio: true,
            peak_bps: 0,
        });
    }
    for r in &made {
        std::fs::create_dir_all(dir.join(&r.dir))
            .map_err(|e| WorkError::Failed(format!("cannot write the ladder: {e}")))?;
    }
    let text = describe(input, probed, dir, preset, &renditions, gain)?;
    let transcode_failed = failed("transcoding failed");
    let pipeline = gst::parse::launch(&text)
        .map_err(|e| transcode_failed(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| transcode_failed("not a pipeline".into()))?;
    let grabber = super::grab::Grabber::attach(&pipeline);
    let result = play_to_end(&pipeline, probed.duration, job);
    // Stopping a pipeline blocks until its threads are done: this thread is ours.
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    if let Some(grabber) = grabber {
        job.report(99.0, "preview");
        super::grab::write_preview(&grabber.finish(), probed.duration, dir)?;
    }
    Ok(made)
}

fn play_to_end(
    pipeline: &gst::Pipeline,
    duration: Duration,
    job: &JobContext,
) -> Result<(), WorkError> {
    let transcode_failed = failed("transcoding failed");
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| transcode_failed(e.to_string()))?;
    // The pipeline owns its bus; parse_launch pipelines always have one.
    let bus = pipeline.bus().expect("a pipeline has a bus");
    job.report(0.0, "transcoding");
    loop {
        if job.is_cancelled() {
            return Err(WorkError::Cancelled);
        }
        let message = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(250),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        match message.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => return Ok(()),
            Some(gst::MessageView::Error(e)) => {
                let detail = match e.debug() {
                    Some(debug) => format!("{} ({debug})", e.error()),
                    None => e.error().to_string(),
                };
                return Err(transcode_failed(detail));
            }
            _ => {}
        }
        if let Some(position) = pipeline.query_position::<gst::ClockTime>() {
            let position = Duration::from_nanos(position.nseconds());
            // 100 is kept for the end: the last segments are still being written.
            job.report(percent(position, duration).min(99.0), "transcoding");
        }
    }
}

/// Marks the media playlists VOD, measures each rendition's bandwidth,
/// and writes the master playlist.
pub fn finish(dir: &Path, made: &[MadeRendition]) -> Result<(), WorkError> {
    let io = |e: std::io::Error| WorkError::Failed(format!("cannot finish the ladder: {e}"));
    let mut measured = Vec::with_capacity(made.len());
    for r in made {
        let path = dir.join(&r.dir).join("index.m3u8");
        let playlist = std::fs::read_to_string(&path).map_err(io)?;
        if !playlist.contains("#EXT-X-ENDLIST") {
            return Err(WorkError::Failed(format!(
                "rendition {} ended without its last segment",
                r.dir
            )));
        }
        let mut sizes = Vec::new();
        for (secs, name) in playlist_segments(&playlist) {
            let bytes = std::fs::metadata(dir.join(&r.dir).join(&name))
                .map_err(io)?
                .len();
            sizes.push((secs, bytes));
        }
        if sizes.is_empty() {
            return Err(WorkError::Failed(format!(
                "rendition {} has no segments",
                r.dir
            )));
        }
        std::fs::write(&path, mark_vod(&playlist)).map_err(io)?;
        measured.push(MadeRendition {
            peak_bps: peak_bps(&sizes),
            ..r.clone()
        });
    }
    std::fs::write(dir.join("master.m3u8"), master_playlist(&measured)).map_err(io)?;
    Ok(())
}
