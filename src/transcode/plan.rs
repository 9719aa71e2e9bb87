//! Which renditions a feed gets. Pure: from what the camera sends and the
//! classroom's ladder, decide what passes through and what is encoded.

use crate::media::format::{VideoCodec, VideoFormat, kbps_for};

#[derive(Debug, Clone, PartialEq)]
pub enum RenditionKind {
    /// The camera's own H.264, untouched.
    Passthrough,
    Transcode {
        kbps: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RenditionPlan {
    /// Also the URL path segment: `source`, `720p`, `360p`.
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub kind: RenditionKind,
}

/// Never transcode above 1080p: a 4K H.265 camera becomes a 1080p top rung.
const MAX_TRANSCODE_HEIGHT: u32 = 1080;

/// H.264 profiles every browser decodes (MSE). High 10 and 4:2:2/4:4:4 do not.
fn browser_playable(format: &VideoFormat) -> bool {
    format.codec == VideoCodec::H264
        && format.profile.as_deref().is_none_or(|p| {
            matches!(
                p,
                "baseline" | "constrained-baseline" | "main" | "high" | "extended"
            )
        })
}

/// Width for a height, keeping the camera's aspect ratio, rounded to even.
fn scaled_width(format: &VideoFormat, height: u32) -> u32 {
    let width = f64::from(format.width) * f64::from(height) / f64::from(format.height.max(1));
    ((width / 2.0).round() as u32 * 2).max(2)
}

pub fn plan(format: &VideoFormat, ladder_heights: &[i32]) -> Vec<RenditionPlan> {
    let mut renditions = Vec::new();
    let top_height;
    if browser_playable(format) {
        top_height = format.height;
        renditions.push(RenditionPlan {
            name: "source".into(),
            width: format.width,
            height: format.height,
            kind: RenditionKind::Passthrough,
        });
    } else {
        // H.265 and exotic profiles: the top rung is encoded at the camera's
        // size (capped), so every browser gets the full picture.
        top_height = format.height.min(MAX_TRANSCODE_HEIGHT) & !1;
        let width = scaled_width(format, top_height);
        renditions.push(RenditionPlan {
            name: format!("{top_height}p"),
            width,
            height: top_height,
            kind: RenditionKind::Transcode {
                kbps: kbps_for(width, top_height, format.fps),
            },
        });
    }
    let mut heights: Vec<u32> = ladder_heights
        .iter()
        .filter_map(|&h| u32::try_from(h).ok())
        .filter(|&h| h < top_height)
        .collect();
    heights.sort_unstable_by(|a, b| b.cmp(a));
    heights.dedup();
    for height in heights {
        let width = scaled_width(format, height);
        renditions.push(RenditionPlan {
            name: format!("{height}p"),
            width,
            height,
            kind: RenditionKind::Transcode {
                kbps: kbps_for(width, height, format.fps),
            },
        });
    }
    renditions
}

/// Renditions for the slate standing in for a camera that dropped: the
/// camera's names and sizes, so players stay on their playlists. The slate
/// is encoded at the top rendition's size in browser-playable H.264, so that
/// rung passes through whatever the camera sent.
pub fn stand_in(camera: &[RenditionPlan]) -> Vec<RenditionPlan> {
    let mut renditions = camera.to_vec();
    if let Some(top) = renditions.first_mut() {
        top.kind = RenditionKind::Passthrough;
    }
    renditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(codec: VideoCodec, width: u32, height: u32) -> VideoFormat {
        VideoFormat {
            codec,
            width,
            height,
            fps: 25,
            profile: Some("high".into()),
        }
    }

    #[test]
    fn h264_1080p_passes_through_and_gets_the_default_ladder() {
        let plan = plan(&format(VideoCodec::H264, 1920, 1080), &[720, 360]);
        let names: Vec<_> = plan.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["source", "720p", "360p"]);
        assert_eq!(plan[0].kind, RenditionKind::Passthrough);
        assert_eq!((plan[1].width, plan[1].height), (1280, 720));
        assert_eq!((plan[2].width, plan[2].height), (640, 360));
    }

    #[test]
    fn a_720p_camera_is_not_transcoded_to_720p_again() {
        let plan = plan(&format(VideoCodec::H264, 1280, 720), &[720, 360]);
        let names: Vec<_> = plan.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["source", "360p"]);
    }

    #[test]
    fn h265_is_transcoded_including_the_top_rung() {
        let plan = plan(&format(VideoCodec::H265, 3840, 2160), &[720, 360]);
        let names: Vec<_> = plan.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["1080p", "720p", "360p"]);
        assert!(
            plan.iter()
                .all(|r| matches!(r.kind, RenditionKind::Transcode { .. }))
        );
        assert_eq!(plan[0].width, 1920);
    }

    #[test]
    fn a_slate_keeps_an_h265_cameras_rendition_names() {
        let camera = plan(&format(VideoCodec::H265, 640, 360), &[720, 360]);
        let slate = stand_in(&camera);
        let names: Vec<_> = slate.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["360p"]);
        assert_eq!(slate[0].kind, RenditionKind::Passthrough);
        assert_eq!((slate[0].width, slate[0].height), (640, 360));
    }

    #[test]
    fn high_10_is_not_passed_through() {
        let mut f = format(VideoCodec::H264, 1280, 720);
        f.profile = Some("high-10".into());
        assert!(matches!(
            plan(&f, &[])[0].kind,
            RenditionKind::Transcode { .. }
        ));
    }

    #[test]
    fn odd_aspect_ratios_round_to_even_widths() {
        let plan = plan(&format(VideoCodec::H264, 1440, 1080), &[360]);
        assert_eq!(plan[1].width, 480);
        assert_eq!(kbps_for(1280, 720, 25), 2304);
    }
}
