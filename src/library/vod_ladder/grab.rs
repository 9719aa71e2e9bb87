//! The GStreamer side of the preview (`preview` decides): an appsink on
//! the transcode's decoded video takes a small RGB frame every few seconds,
//! and a one-picture pipeline writes a JPEG. The appsink's callback runs on
//! a streaming thread and never blocks: frames go into a bounded channel
//! (sized past the most frames `preview::interval` lets through), and one
//! that does not fit is dropped, not waited for.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::preview::{self, Frame, Rgb};
use crate::library::jobs::runner::WorkError;
use crate::pipelines;

const PREVIEW: &str = include_str!("../../../pipelines/vod-preview.pipeline");
const JPEG: &str = include_str!("../../../pipelines/jpeg.pipeline");

/// How long writing one JPEG may take.
const JPEG_TIMEOUT: Duration = Duration::from_secs(20);

/// The preview branch of the transcode for a `width`×`height` video.
pub fn describe(
    width: u32,
    height: u32,
    duration: Duration,
) -> Result<String, pipelines::TemplateError> {
    let w = preview::frame_width(width, height).to_string();
    let h = preview::FRAME_HEIGHT.to_string();
    let interval = preview::interval(duration).to_string();
    pipelines::fill(
        PREVIEW,
        &[("interval", &interval), ("width", &w), ("height", &h)],
    )
}

/// GStreamer pads RGB rows to a multiple of four bytes.
fn stride(width: u32) -> usize {
    (width as usize * 3 + 3) & !3
}

/// Starts collecting the preview appsink's frames; `finish` takes them.
pub struct Grabber {
    frames: mpsc::Receiver<Frame>,
}

impl Grabber {
    pub fn attach(pipeline: &gst::Pipeline) -> Option<Self> {
        let sink = pipeline
            .by_name("preview")?
            .downcast::<gst_app::AppSink>()
            .ok()?;
        let bound = (preview::MAX_TILES * 2) as usize;
        let (tx, frames) = mpsc::sync_channel(bound);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some(frame) = to_frame(&sample) {
                        // Full only past the bound: drop the frame, never wait.
                        let _ = tx.try_send(frame);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        Some(Self { frames })
    }

    pub fn finish(self) -> Vec<Frame> {
        self.frames.try_iter().collect()
    }
}

fn to_frame(sample: &gst::Sample) -> Option<Frame> {
    let caps = sample.caps()?.structure(0)?;
    let (width, height) = (
        caps.get::<i32>("width").ok()? as u32,
        caps.get::<i32>("height").ok()? as u32,
    );
    let buffer = sample.buffer()?;
    let at = Duration::from_nanos(buffer.pts()?.nseconds());
    let map = buffer.map_readable().ok()?;
    let row = width as usize * 3;
    let mut data = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        data.extend_from_slice(map.get(y * stride(width)..y * stride(width) + row)?);
    }
    Some(Frame {
        at,
        picture: Rgb {
            width,
            height,
            data,
        },
    })
}

/// Writes `picture` as a JPEG at `path`.
pub fn write_jpeg(picture: &Rgb, path: &Path) -> Result<(), WorkError> {
    let failed = |e: String| WorkError::Failed(format!("cannot write {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| failed(e.to_string()))?;
    }
    let (w, h) = (picture.width.to_string(), picture.height.to_string());
    let location = path.display().to_string();
    let text = pipelines::fill(JPEG, &[("width", &w), ("height", &h), ("path", &location)])
        .map_err(|e| failed(e.to_string()))?;
    let pipeline = gst::parse::launch(&text)
        .map_err(|e| failed(e.to_string()))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| failed("not a pipeline".into()))?;
    let src = pipeline
        .by_name("picture")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| failed("no appsrc".into()))?;
    let row = picture.width as usize * 3;
    let mut padded = vec![0u8; stride(picture.width) * picture.height as usize];
    for y in 0..picture.height as usize {
        padded[y * stride(picture.width)..][..row].copy_from_slice(&picture.data[y * row..][..row]);
    }
    let result = (|| {
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| failed(e.to_string()))?;
        let mut buffer = gst::Buffer::from_mut_slice(padded);
        buffer
            .get_mut()
            .expect("a new buffer is writable")
            .set_pts(gst::ClockTime::ZERO);
        src.push_buffer(buffer).map_err(|e| failed(e.to_string()))?;
        src.end_of_stream().map_err(|e| failed(e.to_string()))?;
        let bus = pipeline.bus().expect("a pipeline has a bus");
        match bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(JPEG_TIMEOUT.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) {
            Some(m) if matches!(m.view(), gst::MessageView::Eos(_)) => Ok(()),
            Some(m) => Err(failed(format!("{m:?}"))),
            None => Err(failed("timed out".into())),
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

/// Writes the poster, the sprite and its WebVTT track under `dir`.
pub fn write_preview(frames: &[Frame], duration: Duration, dir: &Path) -> Result<bool, WorkError> {
    let Some(poster) = preview::poster(frames, duration) else {
        return Ok(false);
    };
    write_jpeg(&poster.picture, &dir.join(preview::POSTER))?;
    let sprite_name = Path::new(preview::SPRITE)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some((sheet, vtt)) = preview::sprite(frames, duration, &sprite_name) {
        write_jpeg(&sheet, &dir.join(preview::SPRITE))?;
        std::fs::write(dir.join(preview::THUMBNAILS), vtt)
            .map_err(|e| WorkError::Failed(format!("cannot write the thumbnails track: {e}")))?;
    }
    Ok(true)
}
