//! What an uploaded file is, by FFmpeg (ffmpeg-next): container, streams,
//! codecs, duration, resolution, rotation, audio. A file that is no
//! playable media is a `Rejection` with a reason the uploader is shown.
//!
//! Blocking (it reads the whole file once): call it on `spawn_blocking`.

use std::path::Path;

use ffmpeg::media::Type as Medium;
use ffmpeg_next as ffmpeg;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Packets are read to the end, and the media they cover must reach this
/// share of the duration the container claims: less means the file was
/// cut short (a truncated copy, a half-finished download).
const COVERED_SHARE: f64 = 0.9;
/// Packets fed to a decoder to get the first picture or sound out.
const DECODE_ATTEMPTS: usize = 300;

/// Why a file is not accepted; each has a message in `web/i18n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// FFmpeg cannot read it as any media container (a document renamed
    /// `.mp4`, or a file damaged at its start or index).
    #[error("not a media file")]
    NotMedia,
    /// A container with neither video nor audio in it.
    #[error("no video or audio")]
    NoAudioOrVideo,
    /// The streams end well before the container says they do.
    #[error("truncated")]
    Truncated,
    /// Its video or audio does not decode.
    #[error("undecodable")]
    Undecodable,
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::NotMedia => "upload_not_media",
            Rejection::NoAudioOrVideo => "upload_no_audio_or_video",
            Rejection::Truncated => "upload_truncated",
            Rejection::Undecodable => "upload_undecodable",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Probe {
    /// FFmpeg's demuxer name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    pub duration_seconds: f64,
    pub bit_rate: i64,
    pub size_bytes: u64,
    pub video: Option<VideoInfo>,
    pub audio: Option<AudioInfo>,
    pub streams: Vec<StreamInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VideoInfo {
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: f64,
    /// Degrees the picture is turned for display (phone videos), as the
    /// old `rotate` tag and ffprobe say it: 0, 90, 180 or 270.
    pub rotation: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AudioInfo {
    pub codec: String,
    pub channels: u16,
    pub sample_rate: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StreamInfo {
    pub index: usize,
    /// `video`, `audio`, `subtitle`, `data` or `attachment`.
    pub kind: String,
    pub codec: String,
}

pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Err(e) = ffmpeg::init() {
            tracing::error!("FFmpeg did not initialise: {e}");
        }
        ffmpeg::log::set_level(ffmpeg::log::Level::Fatal);
    });
}

pub fn probe(path: &Path) -> Result<Probe, Rejection> {
    init();
    let size_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut input = ffmpeg::format::input(path).map_err(|_| Rejection::NotMedia)?;
    let container = input.format().name().to_string();
    let claimed = seconds(input.duration(), ffmpeg::rescale::TIME_BASE);
    let bit_rate = input.bit_rate();
    let mut streams = Vec::new();
    for stream in input.streams() {
        let params = stream.parameters();
        streams.push(StreamInfo {
            index: stream.index(),
            kind: medium_name(params.medium()).into(),
            codec: params.id().name().into(),
        });
    }
    let best = |medium| input.streams().best(medium).map(|s| s.index());
    let (video_index, audio_index) = (best(Medium::Video), best(Medium::Audio));
    if video_index.is_none() && audio_index.is_none() {
        return Err(Rejection::NoAudioOrVideo);
    }
    let mut video = match video_index {
        Some(i) => Some(open_video(&input.stream(i).ok_or(Rejection::NotMedia)?)?),
        None => None,
    };
    let mut audio = match audio_index {
        Some(i) => Some(open_audio(&input.stream(i).ok_or(Rejection::NotMedia)?)?),
        None => None,
    };
    let time_bases: Vec<_> = input.streams().map(|s| s.time_base()).collect();
    let starts: Vec<_> = input.streams().map(|s| s.start_time()).collect();
    let mut covered = 0f64;
    let mut frame = ffmpeg::frame::Video::empty();
    let mut sound = ffmpeg::frame::Audio::empty();
    for (stream, packet) in input.packets() {
        let index = stream.index();
        if let Some(pts) = packet.pts().or(packet.dts()) {
            let start = starts[index].max(0).min(pts);
            let end = pts - start + packet.duration().max(0);
            covered = covered.max(seconds(end, time_bases[index]));
        }
        if Some(index) == video_index
            && let Some(v) = video.as_mut()
        {
            v.feed(&packet, &mut frame);
        }
        if Some(index) == audio_index
            && let Some(a) = audio.as_mut()
        {
            a.feed(&packet, &mut sound);
        }
    }
    fn decoded<I>(d: &Option<Opened<I>>) -> bool {
        d.as_ref().is_none_or(|d| d.decoded)
    }
    if !decoded(&video) || !decoded(&audio) {
        return Err(Rejection::Undecodable);
    }
    if claimed > 0.0 && covered < claimed * COVERED_SHARE {
        return Err(Rejection::Truncated);
    }
    let duration_seconds = if claimed > 0.0 { claimed } else { covered };
    Ok(Probe {
        container,
        duration_seconds,
        bit_rate,
        size_bytes,
        video: video.map(|v| v.info),
        audio: audio.map(|a| a.info),
        streams,
    })
}

/// A decoder waiting for its first frame, and what the stream says.
struct Opened<I> {
    decoder: ffmpeg::decoder::Opened,
    info: I,
    tries: usize,
    decoded: bool,
}

impl<I> Opened<I> {
    fn feed<F: std::ops::DerefMut<Target = ffmpeg::Frame>>(
        &mut self,
        packet: &ffmpeg::Packet,
        frame: &mut F,
    ) {
        if self.decoded || self.tries >= DECODE_ATTEMPTS {
            return;
        }
        self.tries += 1;
        if self.decoder.send_packet(packet).is_ok() && self.decoder.receive_frame(frame).is_ok() {
            self.decoded = true;
        }
    }
}

fn open_video(stream: &ffmpeg::format::stream::Stream) -> Result<Opened<VideoInfo>, Rejection> {
    let context = ffmpeg::codec::Context::from_parameters(stream.parameters())
        .map_err(|_| Rejection::Undecodable)?;
    let decoder = context
        .decoder()
        .video()
        .map_err(|_| Rejection::Undecodable)?;
    let rate = stream.avg_frame_rate();
    let info = VideoInfo {
        codec: decoder.id().name().into(),
        width: decoder.width(),
        height: decoder.height(),
        frame_rate: if rate.denominator() == 0 {
            0.0
        } else {
            f64::from(rate)
        },
        rotation: rotation(stream),
    };
    Ok(Opened {
        decoder: decoder.0,
        info,
        tries: 0,
        decoded: false,
    })
}

fn open_audio(stream: &ffmpeg::format::stream::Stream) -> Result<Opened<AudioInfo>, Rejection> {
    let context = ffmpeg::codec::Context::from_parameters(stream.parameters())
        .map_err(|_| Rejection::Undecodable)?;
    let decoder = context
        .decoder()
        .audio()
        .map_err(|_| Rejection::Undecodable)?;
    let info = AudioInfo {
        codec: decoder.id().name().into(),
        channels: decoder.channels(),
        sample_rate: decoder.rate(),
    };
    Ok(Opened {
        decoder: decoder.0,
        info,
        tries: 0,
        decoded: false,
    })
}

/// The display matrix's turn, as `av_display_rotation_get` (and ffprobe,
/// and the old `rotate` tag) give it, in 0..360.
fn rotation(stream: &ffmpeg::format::stream::Stream) -> i32 {
    use ffmpeg::codec::packet::side_data::Type;
    for side in stream.side_data() {
        if side.kind() != Type::DisplayMatrix || side.data().len() < 36 {
            continue;
        }
        let m: Vec<f64> = side
            .data()
            .chunks_exact(4)
            .take(9)
            // chunks_exact(4) yields four bytes each.
            .map(|c| f64::from(i32::from_ne_bytes(c.try_into().expect("4 bytes"))) / 65536.0)
            .collect();
        let (scale0, scale1) = (m[0].hypot(m[3]), m[1].hypot(m[4]));
        if scale0 == 0.0 || scale1 == 0.0 {
            return 0;
        }
        let degrees = -(m[1] / scale1).atan2(m[0] / scale0).to_degrees();
        return (degrees.round() as i32).rem_euclid(360);
    }
    0
}

fn seconds(ts: i64, base: ffmpeg::Rational) -> f64 {
    if ts <= 0 || base.denominator() == 0 {
        return 0.0;
    }
    ts as f64 * f64::from(base)
}

fn medium_name(medium: Medium) -> &'static str {
    match medium {
        Medium::Video => "video",
        Medium::Audio => "audio",
        Medium::Subtitle => "subtitle",
        Medium::Attachment => "attachment",
        _ => "data",
    }
}
