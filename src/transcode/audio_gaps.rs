//! Keeps the ladder's audio continuous. Pure: times in, decisions out.
//!
//! The muxers wait for every stream before writing a fragment, so a camera
//! without a microphone, or one whose audio stalls, would freeze the lesson.
//! This decides when to insert silence and which late audio to drop.
//! Times are nanoseconds on the incarnation's timeline (0 = first keyframe).

/// Audio may trail video by this much before silence is inserted.
pub const MAX_AUDIO_LAG_NS: u64 = 1_000_000_000;
/// Gaps and overlaps smaller than this are jitter, not holes.
const TOLERANCE_NS: u64 = 30_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioAction {
    /// Push silence covering `[start, start + duration)`.
    Silence { start: u64, duration: u64 },
    /// Push the real buffer at this timestamp.
    Pass { start: u64 },
    /// Drop the buffer: it starts before audio already sent.
    Drop,
}

#[derive(Debug, Default)]
pub struct AudioGaps {
    /// End of the audio already pushed.
    covered_until: u64,
    /// Whether the feed has sent any audio of its own.
    heard: bool,
}

impl AudioGaps {
    pub fn new() -> Self {
        Self::default()
    }

    /// A real audio buffer arrived at `pts` lasting `duration`.
    pub fn on_audio(&mut self, pts: u64, duration: u64) -> Vec<AudioAction> {
        self.heard = true;
        let mut actions = Vec::new();
        if pts + TOLERANCE_NS < self.covered_until {
            return vec![AudioAction::Drop];
        }
        if pts > self.covered_until + TOLERANCE_NS {
            actions.push(AudioAction::Silence {
                start: self.covered_until,
                duration: pts - self.covered_until,
            });
        }
        // Small overlaps and gaps are absorbed by placing the buffer right after
        // the previous one; the encoder then sees a clean, gapless stream.
        let start = if pts.abs_diff(self.covered_until) <= TOLERANCE_NS {
            self.covered_until
        } else {
            pts
        };
        actions.push(AudioAction::Pass { start });
        self.covered_until = start + duration;
        actions
    }

    /// A video frame at `dts` arrived; fill silence if audio fell too far behind.
    pub fn on_video(&mut self, dts: u64) -> Option<AudioAction> {
        // A feed that sent no audio in its first second has no microphone:
        // silence then follows the video frame by frame, so the muxers never
        // hold a fragment back waiting for audio that will not come.
        if !self.heard && dts >= MAX_AUDIO_LAG_NS {
            return (dts > self.covered_until).then(|| {
                let action = AudioAction::Silence {
                    start: self.covered_until,
                    duration: dts - self.covered_until,
                };
                self.covered_until = dts;
                action
            });
        }
        if dts > self.covered_until + MAX_AUDIO_LAG_NS {
            let target = dts - MAX_AUDIO_LAG_NS / 2;
            let action = AudioAction::Silence {
                start: self.covered_until,
                duration: target - self.covered_until,
            };
            self.covered_until = target;
            return Some(action);
        }
        None
    }

    /// At the end, audio must reach as far as video did, or the muxer holds
    /// the last fragment back.
    pub fn finish(&mut self, video_end: u64) -> Option<AudioAction> {
        (video_end > self.covered_until).then(|| {
            let action = AudioAction::Silence {
                start: self.covered_until,
                duration: video_end - self.covered_until,
            };
            self.covered_until = video_end;
            action
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_camera_without_audio_gets_silence_that_follows_the_video() {
        let mut gaps = AudioGaps::new();
        assert_eq!(gaps.on_video(0), None);
        assert_eq!(gaps.on_video(900 * MS), None);
        assert_eq!(
            gaps.on_video(1100 * MS),
            Some(AudioAction::Silence {
                start: 0,
                duration: 1100 * MS
            })
        );
        // From then on, frame by frame: nothing waits for audio.
        assert_eq!(
            gaps.on_video(1140 * MS),
            Some(AudioAction::Silence {
                start: 1100 * MS,
                duration: 40 * MS
            })
        );
        assert_eq!(
            gaps.finish(2000 * MS),
            Some(AudioAction::Silence {
                start: 1140 * MS,
                duration: 860 * MS
            })
        );
    }

    #[test]
    fn a_camera_whose_audio_stalls_gets_silence_a_second_behind() {
        let mut gaps = AudioGaps::new();
        gaps.on_audio(0, 20 * MS);
        assert_eq!(gaps.on_video(1000 * MS), None);
        assert_eq!(
            gaps.on_video(1100 * MS),
            Some(AudioAction::Silence {
                start: 20 * MS,
                duration: 580 * MS
            })
        );
    }

    #[test]
    fn continuous_audio_passes_untouched() {
        let mut gaps = AudioGaps::new();
        assert_eq!(
            gaps.on_audio(0, 20 * MS),
            vec![AudioAction::Pass { start: 0 }]
        );
        // 2 ms of jitter is absorbed.
        assert_eq!(
            gaps.on_audio(22 * MS, 20 * MS),
            vec![AudioAction::Pass { start: 20 * MS }]
        );
    }

    #[test]
    fn a_hole_is_filled_and_late_audio_after_silence_is_dropped() {
        let mut gaps = AudioGaps::new();
        gaps.on_audio(0, 20 * MS);
        assert_eq!(
            gaps.on_audio(500 * MS, 20 * MS),
            vec![
                AudioAction::Silence {
                    start: 20 * MS,
                    duration: 480 * MS
                },
                AudioAction::Pass { start: 500 * MS }
            ]
        );
        gaps.on_video(3000 * MS);
        assert_eq!(gaps.on_audio(600 * MS, 20 * MS), vec![AudioAction::Drop]);
    }
}
