//! What a viewer's SDP offer can play, and which rendition it gets. Pure:
//! the offer's text and the classroom's renditions in, a decision out.
//!
//! str0m negotiates the session itself; this reads the few facts the
//! choice of rendition needs before a peer connection is made, so a bad
//! offer is refused with a reason a developer can act on.

use crate::transcode::rtp::H264Profile;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferFacts {
    pub video: bool,
    pub audio: bool,
    /// H.264 profiles offered with packetization-mode=1 (the server sends
    /// fragmented NAL units).
    pub h264: Vec<H264Profile>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OfferError {
    #[error("the body is not an SDP offer")]
    NotSdp,
    #[error("the offer has no video or audio section")]
    NoMedia,
    #[error("the offer has no video section (ask for rendition=audio for sound only)")]
    NoVideo,
    #[error("the offer has no H.264 with packetization-mode=1; this server sends H.264")]
    NoH264,
    #[error("the offer has more than {MAX_SECTIONS} media sections")]
    TooManySections,
}

/// A viewer or publisher needs two (video, audio); a few more are
/// tolerated, thousands would be negotiated on the hub's one task.
const MAX_SECTIONS: usize = 8;

/// What the viewer asked for with `?rendition=`.
#[derive(Debug, Clone, PartialEq)]
pub enum Want {
    /// The best rendition the offer can play.
    Best,
    Named(String),
    AudioOnly,
}

impl Want {
    pub fn from_query(rendition: Option<&str>) -> Self {
        match rendition {
            None | Some("" | "top" | "auto") => Self::Best,
            Some("audio") => Self::AudioOnly,
            Some(name) => Self::Named(name.to_string()),
        }
    }
}

/// A rendition as the choice sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub profile: H264Profile,
    /// B-frames seen: WebRTC decoders show such pictures out of order.
    pub reordered: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChoiceError {
    #[error("this lesson has no rendition named {0}")]
    Unknown(String),
    #[error("the offer's H.264 profiles cannot play any rendition of this lesson")]
    NothingPlayable,
}

pub fn inspect(sdp: &str) -> Result<OfferFacts, OfferError> {
    if !sdp.trim_start().starts_with("v=0") {
        return Err(OfferError::NotSdp);
    }
    let mut facts = OfferFacts::default();
    if sdp.matches("\nm=").count() > MAX_SECTIONS {
        return Err(OfferError::TooManySections);
    }
    // One media section at a time: payload types are per section.
    for section in sdp.split("\nm=").skip(1) {
        let mut lines = section.lines();
        let header = lines.next().unwrap_or_default();
        let kind = header.split_whitespace().next().unwrap_or_default();
        // A rejected section (port 0) offers nothing.
        if header.split_whitespace().nth(1) == Some("0") {
            continue;
        }
        match kind {
            "audio" => facts.audio = true,
            "video" => facts.video = true,
            _ => continue,
        }
        if kind != "video" {
            continue;
        }
        let body: Vec<&str> = lines.map(str::trim_end).collect();
        let h264_pts: Vec<&str> = body
            .iter()
            .filter_map(|l| l.strip_prefix("a=rtpmap:"))
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, codec)| codec.to_ascii_uppercase().starts_with("H264/"))
            .map(|(pt, _)| pt)
            .collect();
        for line in body.iter().filter_map(|l| l.strip_prefix("a=fmtp:")) {
            let Some((pt, params)) = line.split_once(' ') else {
                continue;
            };
            if !h264_pts.contains(&pt) {
                continue;
            }
            let param = |key: &str| {
                params
                    .split(';')
                    .filter_map(|p| p.trim().split_once('='))
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.trim())
            };
            if param("packetization-mode") != Some("1") {
                continue;
            }
            // RFC 6184: without profile-level-id the profile is Baseline.
            let profile = param("profile-level-id")
                .map_or(Some(H264Profile::ConstrainedBaseline), profile_from_id);
            if let Some(profile) = profile
                && !facts.h264.contains(&profile)
            {
                facts.h264.push(profile);
            }
        }
    }
    if !facts.video && !facts.audio {
        return Err(OfferError::NoMedia);
    }
    Ok(facts)
}

/// The profile a `profile-level-id` (hex profile_idc, constraints, level)
/// names, as far as playing our renditions goes.
fn profile_from_id(id: &str) -> Option<H264Profile> {
    let value = u32::from_str_radix(id, 16).ok().filter(|_| id.len() == 6)?;
    Some(profile_from_u32(value))
}

/// The same from the number (str0m's parsed `profile-level-id`).
pub fn profile_from_u32(value: u32) -> H264Profile {
    let constraints = (value >> 8) & 0xff;
    match value >> 16 {
        // Constrained High (Safari's 640c1f): str0m negotiates only exact
        // profiles and has no payload type for it, so it plays nothing
        // here; such a browser also offers baseline.
        0x64 if constraints & 0x0c != 0 => H264Profile::Other,
        // Baseline and Extended decoders take constrained baseline, which is
        // what every encoder's "baseline" is.
        0x42 | 0x58 => H264Profile::ConstrainedBaseline,
        0x4d => H264Profile::Main,
        0x64 => H264Profile::High,
        _ => H264Profile::Other,
    }
}

/// Whether an offer's decoders play a rendition: a decoder of a profile
/// also plays the simpler ones.
fn playable(facts: &OfferFacts, candidate: &Candidate) -> bool {
    candidate.profile != H264Profile::Other
        && !candidate.reordered
        && facts
            .h264
            .iter()
            .any(|&p| p != H264Profile::Other && p >= candidate.profile)
}

/// Checks the offer against what was asked before a rendition is chosen.
pub fn check(facts: &OfferFacts, want: &Want) -> Result<(), OfferError> {
    if *want == Want::AudioOnly {
        return if facts.audio {
            Ok(())
        } else {
            Err(OfferError::NoMedia)
        };
    }
    if !facts.video {
        return Err(OfferError::NoVideo);
    }
    if facts.h264.is_empty() {
        return Err(OfferError::NoH264);
    }
    Ok(())
}

/// The rendition (by ladder rank) a viewer gets; None for sound only.
/// Renditions come in ladder order, best first. A named rendition the
/// offer cannot play falls to the best playable one below it, so "source"
/// from a browser without the camera's profile still gets a picture.
pub fn choose(
    facts: &OfferFacts,
    renditions: &[Candidate],
    want: &Want,
) -> Result<Option<usize>, ChoiceError> {
    let from = match want {
        Want::AudioOnly => return Ok(None),
        Want::Best => 0,
        Want::Named(name) => renditions
            .iter()
            .position(|r| r.name == name)
            .ok_or_else(|| ChoiceError::Unknown(name.clone()))?,
    };
    renditions
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, r)| playable(facts, r))
        .map(|(rank, _)| Some(rank))
        .ok_or(ChoiceError::NothingPlayable)
}

/// The next rendition down a viewer can play, for one whose network
/// cannot keep up.
pub fn step_down(facts: &OfferFacts, renditions: &[Candidate], current: usize) -> Option<usize> {
    renditions
        .iter()
        .enumerate()
        .skip(current + 1)
        .find(|(_, r)| playable(facts, r))
        .map(|(rank, _)| rank)
}

#[cfg(test)]
mod tests {
    use super::*;
    use H264Profile::*;

    /// The H.264 part of a Chromium 156 offer (trimmed).
    const CHROMIUM: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 102 103 104 106\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
        a=rtpmap:103 H264/90000\r\na=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n\
        a=rtpmap:104 H264/90000\r\na=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
        a=rtpmap:106 H264/90000\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n";

    fn ladder() -> Vec<Candidate<'static>> {
        vec![
            Candidate {
                name: "source",
                profile: High,
                reordered: false,
            },
            Candidate {
                name: "720p",
                profile: Main,
                reordered: false,
            },
            Candidate {
                name: "360p",
                profile: Main,
                reordered: false,
            },
        ]
    }

    #[test]
    fn reads_profiles_with_packetization_mode_1() {
        let facts = inspect(CHROMIUM).unwrap();
        assert!(facts.video && facts.audio);
        assert_eq!(facts.h264, vec![ConstrainedBaseline, Main]);
    }

    #[test]
    fn a_high_profile_camera_goes_to_the_best_transcoded_rendition() {
        let facts = inspect(CHROMIUM).unwrap();
        assert_eq!(choose(&facts, &ladder(), &Want::Best), Ok(Some(1)));
        // Asking for the source falls to the best playable one below it.
        let want = Want::Named("source".into());
        assert_eq!(choose(&facts, &ladder(), &want), Ok(Some(1)));
        assert_eq!(
            choose(&facts, &ladder(), &Want::Named("360p".into())),
            Ok(Some(2))
        );
    }

    #[test]
    fn a_decoder_of_high_plays_the_camera_unless_it_has_b_frames() {
        let facts = OfferFacts {
            video: true,
            audio: true,
            h264: vec![High],
        };
        assert_eq!(choose(&facts, &ladder(), &Want::Best), Ok(Some(0)));
        let mut reordered = ladder();
        reordered[0].reordered = true;
        assert_eq!(choose(&facts, &reordered, &Want::Best), Ok(Some(1)));
    }

    #[test]
    fn baseline_only_decoders_get_a_baseline_camera_or_nothing() {
        let facts = OfferFacts {
            video: true,
            audio: false,
            h264: vec![ConstrainedBaseline],
        };
        assert_eq!(
            choose(&facts, &ladder(), &Want::Best),
            Err(ChoiceError::NothingPlayable)
        );
        let camera = [Candidate {
            name: "source",
            profile: ConstrainedBaseline,
            reordered: false,
        }];
        assert_eq!(choose(&facts, &camera, &Want::Best), Ok(Some(0)));
    }

    #[test]
    fn unknown_renditions_and_sound_only() {
        let facts = inspect(CHROMIUM).unwrap();
        let want = Want::Named("4k".into());
        assert_eq!(
            choose(&facts, &ladder(), &want),
            Err(ChoiceError::Unknown("4k".into()))
        );
        assert_eq!(choose(&facts, &ladder(), &Want::AudioOnly), Ok(None));
        assert_eq!(Want::from_query(Some("audio")), Want::AudioOnly);
        assert_eq!(Want::from_query(None), Want::Best);
    }

    #[test]
    fn constrained_high_counts_for_nothing() {
        // Safari 17's offer: Constrained High and constrained baseline.
        let safari = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 98\r\n\
            a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=640c1f\r\n\
            a=rtpmap:98 H264/90000\r\na=fmtp:98 packetization-mode=1;profile-level-id=42e01f\r\n";
        let facts = inspect(safari).unwrap();
        assert_eq!(facts.h264, vec![Other, ConstrainedBaseline]);
        assert_eq!(
            choose(&facts, &ladder(), &Want::Best),
            Err(ChoiceError::NothingPlayable)
        );
        let camera = [Candidate {
            name: "source",
            profile: ConstrainedBaseline,
            reordered: false,
        }];
        assert_eq!(choose(&facts, &camera, &Want::Best), Ok(Some(0)));
    }

    #[test]
    fn stepping_down_skips_what_cannot_play() {
        let facts = inspect(CHROMIUM).unwrap();
        assert_eq!(step_down(&facts, &ladder(), 1), Some(2));
        assert_eq!(step_down(&facts, &ladder(), 2), None);
    }

    #[test]
    fn bad_offers_are_named() {
        assert_eq!(inspect("hello"), Err(OfferError::NotSdp));
        assert_eq!(inspect("v=0\r\ns=-\r\n"), Err(OfferError::NoMedia));
        let audio_only = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
        let facts = inspect(audio_only).unwrap();
        assert_eq!(check(&facts, &Want::Best), Err(OfferError::NoVideo));
        assert_eq!(check(&facts, &Want::AudioOnly), Ok(()));
        let vp8 = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(
            check(&inspect(vp8).unwrap(), &Want::Best),
            Err(OfferError::NoH264)
        );
        // A rejected section offers nothing.
        let rejected = "v=0\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\n";
        assert_eq!(inspect(rejected), Err(OfferError::NoMedia));
    }
}
