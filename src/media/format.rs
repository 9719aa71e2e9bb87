//! The media vocabulary every stage shares: which codec a camera sends, at
//! what size and rate, and how many bits a picture of that size deserves.
//! Pure data; no GStreamer state.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    H264,
    H265,
}

impl VideoCodec {
    pub fn parser(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264parse",
            VideoCodec::H265 => "h265parse",
        }
    }

    pub fn caps_name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "video/x-h264",
            VideoCodec::H265 => "video/x-h265",
        }
    }

    pub fn decoder(self) -> &'static str {
        match self {
            VideoCodec::H264 => "avdec_h264",
            VideoCodec::H265 => "avdec_h265",
        }
    }

    pub fn from_caps_name(name: &str) -> Option<Self> {
        match name {
            "video/x-h264" => Some(VideoCodec::H264),
            "video/x-h265" => Some(VideoCodec::H265),
            _ => None,
        }
    }
}

/// What the ingest saw of the camera's video.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFormat {
    pub codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    /// Frames per second; cameras that do not say get 25 (PAL, common in China).
    pub fps: u32,
    /// H.264 profile from the caps, e.g. "high" or "high-10".
    pub profile: Option<String>,
}

/// Bits per pixel per frame for x264 at classroom content (mostly static
/// scenes, a moving teacher); 0.1 gives 2.3 Mbit/s at 720p25.
const BITS_PER_PIXEL: f64 = 0.1;
const MIN_KBPS: u32 = 300;

pub fn kbps_for(width: u32, height: u32, fps: u32) -> u32 {
    let kbps =
        f64::from(width) * f64::from(height) * f64::from(fps.max(1)) * BITS_PER_PIXEL / 1000.0;
    (kbps as u32).max(MIN_KBPS)
}
