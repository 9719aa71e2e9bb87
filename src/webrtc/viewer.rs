//! One WHEP viewer: its str0m peer connection (ICE-lite, RTP mode: we
//! hand it finished packets), the streams it sends, and what it watches.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::config::DtlsCert;
use str0m::format::Codec;
use str0m::media::{MediaKind, Mid, Pt};
use str0m::net::Protocol;
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, Output, Rtc, RtcConfig};
use uuid::Uuid;

use super::forward::Rewriter;
use super::offer::OfferFacts;
use super::publisher::Publishing;
use crate::transcode::rtp::{H264Profile, RtpPacket};

/// One outgoing stream.
pub struct Out {
    pub mid: Mid,
    pub rw: Rewriter,
}

pub struct Viewer {
    pub id: Uuid,
    pub classroom: Uuid,
    pub rtc: Rtc,
    pub facts: OfferFacts,
    /// The rendition watched, by ladder rank; None for sound only.
    pub rank: Option<usize>,
    pub video: Option<Out>,
    pub audio: Option<Out>,
    /// Our ICE username fragment: how a STUN request finds this viewer.
    pub ufrag: String,
    pub created: Instant,
    pub connected: bool,
    /// When str0m next wants a timeout, as entered in the hub's timers.
    pub timeout: Option<Instant>,
    /// Addresses STUN checks came from, routed here.
    pub addrs: Vec<(Protocol, SocketAddr)>,
    /// Whether its network keeps up, from its receiver reports.
    pub loss: super::forward::LossWatch,
    pub opus_pt: Option<Pt>,
    /// A WHIP publisher (it sends, it does not watch), and when it was
    /// last asked for a keyframe.
    pub publishing: Option<Publishing>,
    pub last_keyframe_request: Option<Instant>,
}

/// What draining a viewer's output found.
pub struct Drained {
    pub transmits: Vec<(Protocol, SocketAddr, Vec<u8>)>,
    pub events: Vec<Event>,
    pub failed: bool,
}

impl Viewer {
    /// Answers an offer. str0m refuses what it cannot parse or negotiate,
    /// with its reason.
    #[allow(clippy::too_many_arguments)]
    pub fn answer(
        classroom: Uuid,
        offer: &str,
        facts: OfferFacts,
        rank: Option<usize>,
        candidates: &[Candidate],
        cert: &DtlsCert,
        now: Instant,
        publishing: Option<Publishing>,
    ) -> Result<(Self, String), String> {
        // Viewers are handed finished packets (RTP mode); a publisher's
        // packets are depacketized into frames by str0m.
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            .set_rtp_mode(publishing.is_none())
            .set_dtls_cert(cert.clone())
            .clear_codecs()
            .enable_h264(true)
            .enable_opus(true, false)
            .set_stats_interval(Some(std::time::Duration::from_secs(1)))
            .build(now);
        for candidate in candidates {
            rtc.add_local_candidate(candidate.clone());
        }
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| e.to_string())?;
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| e.to_string())?;
        let ufrag = rtc.direct_api().local_ice_credentials().ufrag;
        let mut viewer = Self {
            id: Uuid::new_v4(),
            classroom,
            rtc,
            facts,
            rank,
            video: None,
            audio: None,
            ufrag,
            created: now,
            connected: false,
            timeout: None,
            addrs: Vec::new(),
            loss: Default::default(),
            opus_pt: None,
            publishing,
            last_keyframe_request: None,
        };
        // The media the answer made are told of as events once connected.
        viewer.drain();
        Ok((viewer, answer.to_sdp_string()))
    }

    /// A negotiated media section is ready: its stream gets a rewriter.
    pub fn media_added(&mut self, added: &str0m::media::MediaAdded) {
        let out = Out {
            mid: added.mid,
            rw: Rewriter::new(added.kind == MediaKind::Video, first_seq()),
        };
        match added.kind {
            MediaKind::Video
                if self.video.is_none() && (self.rank.is_some() || self.publishing.is_some()) =>
            {
                self.video = Some(out)
            }
            MediaKind::Audio if self.audio.is_none() => {
                self.audio = Some(out);
                self.opus_pt = self.pt_for(MediaKind::Audio, |p| p.spec().codec == Codec::Opus);
            }
            _ => {}
        }
    }

    /// Asks a publisher for a keyframe, at most once a second.
    pub fn request_keyframe(&mut self, now: Instant) {
        if self
            .last_keyframe_request
            .is_some_and(|at| now.saturating_duration_since(at) < super::forward::KEYFRAME_INTERVAL)
        {
            return;
        }
        self.last_keyframe_request = Some(now);
        let mids: Vec<Mid> = self.video.iter().map(|v| v.mid).collect();
        for mid in mids {
            if let Some(mut writer) = self.rtc.writer(mid) {
                let _ = writer.request_keyframe(None, str0m::media::KeyframeRequestKind::Pli);
            }
        }
    }

    /// The payload type negotiated for a codec on this viewer's media.
    fn pt_for(
        &self,
        kind: MediaKind,
        matches: impl Fn(&str0m::format::PayloadParams) -> bool,
    ) -> Option<Pt> {
        let out = match kind {
            MediaKind::Video => self.video.as_ref(),
            MediaKind::Audio => self.audio.as_ref(),
        }?;
        let remote = self.rtc.media(out.mid)?.remote_pts().to_vec();
        self.rtc
            .codec_config()
            .params()
            .iter()
            .filter(|p| remote.contains(&p.pt()))
            .find(|p| matches(p))
            .map(|p| p.pt())
    }

    /// The H.264 payload type for a rendition of `profile`: the same
    /// profile if offered, else the simplest one that decodes it.
    pub fn h264_pt(&self, profile: H264Profile) -> Option<Pt> {
        let of = |p: &str0m::format::PayloadParams| {
            let format = p.spec().format;
            (p.spec().codec == Codec::H264 && format.packetization_mode == Some(1))
                .then(|| format.profile_level_id.map(super::offer::profile_from_u32))
                .flatten()
        };
        self.pt_for(MediaKind::Video, |p| of(p) == Some(profile))
            .or_else(|| {
                [H264Profile::Main, H264Profile::High]
                    .into_iter()
                    .filter(|&candidate| candidate > profile)
                    .find_map(|candidate| {
                        self.pt_for(MediaKind::Video, |p| of(p) == Some(candidate))
                    })
            })
    }

    /// Sends one packet on an outgoing stream. str0m queues a written
    /// packet and sends it on its next timeout, so it is given one now:
    /// otherwise the packet would wait for this peer's timer.
    pub fn write(&mut self, mid: Mid, pt: Pt, seq: u64, ts: u32, packet: &RtpPacket) {
        let mut api = self.rtc.direct_api();
        if let Some(stream) = api.stream_tx_by_mid(mid, None) {
            stream.write_rtp(
                RtpWrite::new(pt, seq.into(), ts, packet.arrived, packet.payload.clone())
                    .marker(packet.marker)
                    .nackable(true),
            );
        }
        if let Err(e) = self.rtc.handle_input(str0m::Input::Timeout(Instant::now())) {
            tracing::debug!(viewer = %self.id, "send: {e}");
        }
    }

    /// Everything str0m has to send or say, until it wants a timeout.
    pub fn drain(&mut self) -> Drained {
        let mut drained = Drained {
            transmits: Vec::new(),
            events: Vec::new(),
            failed: false,
        };
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    drained
                        .transmits
                        .push((t.proto, t.destination, t.contents.to_vec()))
                }
                Ok(Output::Event(event)) => drained.events.push(event),
                Ok(Output::Timeout(at)) => {
                    self.timeout = Some(at);
                    break;
                }
                Err(e) => {
                    tracing::debug!(viewer = %self.id, "peer connection failed: {e}");
                    drained.failed = true;
                    break;
                }
            }
        }
        drained
    }
}

/// Random start below half the range, as RFC 3550 asks, so the first
/// rollover is far away.
fn first_seq() -> u16 {
    rand::random::<u16>() % 32_767 + 1
}
