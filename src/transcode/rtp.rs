//! The ladder's RTP branch for WebRTC: every rendition's H.264 and the
//! classroom's one Opus track are packetized here, once, and the packets
//! go to the WebRTC fan-out, which hands the same payloads to every viewer
//! (only SSRC, sequence numbers and SRTP differ per viewer).
//!
//! Appsink callbacks run on streaming threads: they parse a fixed header,
//! copy the payload once into shared memory and `try_send`; a full channel
//! drops the packet (counted) rather than holding up the ladder, its HLS
//! renditions or the recorder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::plan::{RenditionKind, RenditionPlan};
use crate::media::format::VideoFormat;

/// Which of a classroom's tracks a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// A video rendition, by its place in the ladder (0 = top).
    Video(usize),
    Audio,
}

/// One RTP packet as the payloader made it, header fields parsed.
#[derive(Debug, Clone)]
pub struct RtpPacket {
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    /// The first packet of a keyframe (its SPS, or the IDR's first slice):
    /// where a new viewer may start.
    pub keyframe: bool,
    pub payload: Arc<[u8]>,
    pub arrived: Instant,
}

/// H.264 profiles as WebRTC offers them (`profile-level-id`), in the order
/// of what a decoder of each can also play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum H264Profile {
    ConstrainedBaseline,
    Main,
    High,
    /// High 10, 4:2:2 and the rest: no browser's WebRTC decoder takes them.
    Other,
}

impl H264Profile {
    /// From GStreamer's caps name of the profile.
    pub fn from_caps(profile: Option<&str>) -> Self {
        match profile {
            Some("baseline" | "constrained-baseline") => Self::ConstrainedBaseline,
            Some("main") => Self::Main,
            // An unknown profile is most likely High: the common camera case.
            Some("high") | None => Self::High,
            Some(_) => Self::Other,
        }
    }

    /// The `profile-level-id` a rendition of this profile is announced with
    /// (level 3.1: browsers allow level asymmetry, only the profile counts).
    pub fn profile_level_id(self) -> &'static str {
        match self {
            Self::ConstrainedBaseline => "42e01f",
            Self::Main => "4d001f",
            Self::High | Self::Other => "64001f",
        }
    }
}

/// A rendition as the WebRTC side sees it.
#[derive(Debug, Clone)]
pub struct VideoTrackInfo {
    pub rank: usize,
    pub name: String,
    pub height: u32,
    pub profile: H264Profile,
    /// The camera's own H.264: no keyframe on request, maybe B-frames.
    pub passthrough: bool,
    /// Set once a picture was seen out of decode order (B-frames): such a
    /// stream is served from a transcoded rendition instead.
    pub reordered: Arc<AtomicBool>,
    /// Asks this rendition's encoder for a keyframe (transcoded only).
    pub keyframer: Option<Keyframer>,
}

/// What the ladders tell the WebRTC fan-out.
#[derive(Debug)]
pub enum RtpMsg {
    /// A classroom's new incarnation is packetizing these renditions; it
    /// replaces the previous one for every viewer.
    Started {
        classroom: Uuid,
        incarnation: u64,
        video: Vec<VideoTrackInfo>,
    },
    Packet {
        classroom: Uuid,
        incarnation: u64,
        track: Track,
        packet: RtpPacket,
    },
    /// The incarnation's ladder is gone.
    Ended { classroom: Uuid, incarnation: u64 },
}

/// The WebRTC fan-out's way in: packets on one bounded channel, the rare
/// start and end of a ladder on another, so that a flood of packets cannot
/// crowd out the news of which renditions exist.
#[derive(Debug, Clone)]
pub struct RtpIntake {
    pub packets: mpsc::Sender<RtpMsg>,
    pub control: mpsc::Sender<RtpMsg>,
}

impl RtpIntake {
    pub fn tap(&self, classroom: Uuid) -> RtpTap {
        RtpTap {
            classroom,
            intake: self.clone(),
        }
    }
}

/// Where one classroom's ladders send their packets.
#[derive(Debug, Clone)]
pub struct RtpTap {
    pub classroom: Uuid,
    intake: RtpIntake,
}

impl RtpTap {
    /// Never waits: streaming threads and the classroom task call this.
    pub fn send(&self, msg: RtpMsg) {
        let (tx, channel) = match msg {
            RtpMsg::Packet { .. } => (&self.intake.packets, "rtp"),
            _ => (&self.intake.control, "rtp_control"),
        };
        if tx.try_send(msg).is_err() {
            metrics::counter!("classcast_channel_dropped_total", "channel" => channel).increment(1);
        }
    }
}

/// A rendition encoder's source pad, held weakly so the fan-out never keeps
/// a finished ladder alive.
#[derive(Debug, Clone)]
pub struct Keyframer(gst::glib::WeakRef<gst::Pad>);

impl Keyframer {
    /// Sends GstForceKeyUnit upstream into the encoder: it queues the
    /// request and returns; the next picture is encoded as a keyframe.
    pub fn request(&self) -> bool {
        let Some(pad) = self.0.upgrade() else {
            return false;
        };
        let request = gst::Structure::builder("GstForceKeyUnit")
            .field("all-headers", true)
            .build();
        pad.send_event(gst::event::CustomUpstream::new(request))
    }
}

/// Parses an RTP packet's fixed header; the payload starts after CSRCs and
/// the header extension. None for anything that is not RTP version 2.
pub fn parse(packet: &[u8]) -> Option<(u16, u32, bool, &[u8])> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return None;
    }
    let csrcs = usize::from(packet[0] & 0x0f);
    let mut offset = 12 + 4 * csrcs;
    if packet[0] & 0x10 != 0 {
        let words = packet.get(offset + 2..offset + 4)?;
        offset += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    let mut end = packet.len();
    if packet[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*packet.last()?))?;
    }
    let payload = packet.get(offset..end)?;
    let marker = packet[1] & 0x80 != 0;
    let seq = u16::from_be_bytes([packet[2], packet[3]]);
    let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
    Some((seq, timestamp, marker, payload))
}

/// Whether an H.264 RTP payload (RFC 6184) starts a keyframe: an SPS, an
/// aggregate that begins with one, or the first fragment of an IDR slice.
/// The payloader puts SPS and PPS before every IDR (config-interval=-1).
pub fn starts_keyframe(payload: &[u8]) -> bool {
    const SPS: u8 = 7;
    const IDR: u8 = 5;
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        SPS | IDR => true,
        // STAP-A: each aggregated NAL unit after a 2-byte size; cameras
        // put an AUD or SEI before the SPS.
        24 => {
            let mut rest = &payload[1..];
            while rest.len() > 2 {
                let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                if matches!(rest[2] & 0x1f, SPS | IDR) {
                    return true;
                }
                rest = rest.get(2 + size..).unwrap_or_default();
            }
            false
        }
        // FU-A: start bit and the fragmented NAL's type.
        28 => payload
            .get(1)
            .is_some_and(|h| h & 0x80 != 0 && h & 0x1f == IDR),
        _ => false,
    }
}

/// The packet callbacks for one RTP appsink.
pub fn packet_callbacks(tap: RtpTap, incarnation: u64, track: Track) -> gst_app::AppSinkCallbacks {
    gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            let Some(buffer) = sample.buffer() else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let Ok(map) = buffer.map_readable() else {
                return Ok(gst::FlowSuccess::Ok);
            };
            if let Some((seq, timestamp, marker, payload)) = parse(&map) {
                let packet = RtpPacket {
                    seq,
                    timestamp,
                    marker,
                    keyframe: track != Track::Audio && starts_keyframe(payload),
                    payload: Arc::from(payload),
                    arrived: Instant::now(),
                };
                let msg = RtpMsg::Packet {
                    classroom: tap.classroom,
                    incarnation,
                    track,
                    packet,
                };
                tap.send(msg);
            }
            Ok(gst::FlowSuccess::Ok)
        })
        .build()
}

/// Wires a started ladder's RTP appsinks to the tap and describes its
/// renditions for the fan-out.
pub fn attach(
    pipeline: &gst::Pipeline,
    format: &VideoFormat,
    renditions: &[RenditionPlan],
    incarnation: u64,
    tap: &RtpTap,
) -> Vec<VideoTrackInfo> {
    let appsink = |name: &str| {
        pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
    };
    if let Some(sink) = appsink("rtp_audio") {
        sink.set_callbacks(packet_callbacks(tap.clone(), incarnation, Track::Audio));
    }
    let reordered = watch_reordering(pipeline);
    let mut video = Vec::new();
    for (rank, rendition) in renditions.iter().enumerate() {
        let Some(sink) = appsink(&format!("rtp_{}", rendition.name)) else {
            continue;
        };
        sink.set_callbacks(packet_callbacks(
            tap.clone(),
            incarnation,
            Track::Video(rank),
        ));
        let passthrough = rendition.kind == RenditionKind::Passthrough;
        let keyframer = (!passthrough)
            .then(|| pipeline.by_name(&format!("encode_{}", rendition.name)))
            .flatten()
            .and_then(|encoder| encoder.static_pad("src"))
            .map(|pad| Keyframer(pad.downgrade()));
        video.push(VideoTrackInfo {
            rank,
            name: rendition.name.clone(),
            height: rendition.height,
            profile: if passthrough {
                H264Profile::from_caps(format.profile.as_deref())
            } else {
                H264Profile::ConstrainedBaseline
            },
            passthrough,
            reordered: if passthrough {
                reordered.clone()
            } else {
                // x264 with tune=zerolatency makes no B-frames.
                Arc::new(AtomicBool::new(false))
            },
            keyframer,
        });
    }
    video
}

/// Marks the camera's stream as reordered once a picture is presented
/// before the one decoded ahead of it: B-frames.
fn watch_reordering(pipeline: &gst::Pipeline) -> Arc<AtomicBool> {
    let reordered = Arc::new(AtomicBool::new(false));
    let Some(pad) = pipeline
        .by_name("video_tee")
        .and_then(|tee| tee.static_pad("sink"))
    else {
        return reordered;
    };
    let flag = reordered.clone();
    // Only this pad's streaming thread touches it; u64::MAX means none yet.
    let last_pts = std::sync::atomic::AtomicU64::new(u64::MAX);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(pts) = info.buffer().and_then(|b| b.pts()) {
            let last = last_pts.swap(pts.nseconds(), Ordering::Relaxed);
            if last != u64::MAX && pts.nseconds() < last {
                flag.store(true, Ordering::Relaxed);
            }
        }
        gst::PadProbeReturn::Ok
    });
    reordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fixed_header_csrcs_extension_and_padding() {
        let mut packet = vec![
            0x80 | 0x10 | 0x20 | 1,
            0x80 | 96,
            0x12,
            0x34,
            0,
            0,
            0x01,
            0x00,
        ];
        packet.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // SSRC
        packet.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        packet.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // one-word extension
        packet.extend_from_slice(&[0x65, 0xaa]); // payload
        packet.extend_from_slice(&[0, 2]); // two bytes of padding
        let (seq, ts, marker, payload) = parse(&packet).unwrap();
        assert_eq!((seq, ts, marker), (0x1234, 256, true));
        assert_eq!(payload, &[0x65, 0xaa]);
    }

    #[test]
    fn refuses_what_is_not_rtp() {
        assert!(parse(&[0u8; 11]).is_none());
        assert!(parse(&[0x40; 20]).is_none()); // version 1
        let mut truncated = vec![0x80 | 0x10, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        truncated.extend_from_slice(&[0xbe, 0xde, 0, 9]); // extension longer than the packet
        assert!(parse(&truncated).is_none());
    }

    #[test]
    fn finds_where_keyframes_start() {
        assert!(starts_keyframe(&[0x67, 0x42])); // SPS
        assert!(starts_keyframe(&[0x65, 0x88])); // IDR slice
        assert!(starts_keyframe(&[0x78, 0x00, 0x0a, 0x67])); // STAP-A starting with SPS
        // STAP-A of AUD (2 bytes) then SPS, as NVENC and many cameras send.
        assert!(starts_keyframe(&[
            0x78, 0x00, 0x02, 0x09, 0xf0, 0x00, 0x03, 0x67, 0x42, 0x00
        ]));
        assert!(!starts_keyframe(&[
            0x78, 0x00, 0x02, 0x09, 0xf0, 0x00, 0x02, 0x41, 0x9a
        ]));
        assert!(starts_keyframe(&[0x7c, 0x85])); // FU-A start of an IDR
        assert!(!starts_keyframe(&[0x7c, 0x05])); // FU-A continuation
        assert!(!starts_keyframe(&[0x7c, 0x81])); // FU-A start of a P slice
        assert!(!starts_keyframe(&[0x41, 0x9a])); // P slice
        assert!(!starts_keyframe(&[]));
    }

    #[test]
    fn profiles_order_by_what_decoders_play() {
        assert!(H264Profile::ConstrainedBaseline < H264Profile::Main);
        assert!(H264Profile::Main < H264Profile::High);
        assert_eq!(H264Profile::from_caps(Some("high-10")), H264Profile::Other);
        assert_eq!(
            H264Profile::from_caps(Some("constrained-baseline")),
            H264Profile::ConstrainedBaseline
        );
    }
}
