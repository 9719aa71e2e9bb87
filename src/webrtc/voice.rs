//! Who is talking, from the audio level a publisher writes into every Opus
//! packet (RFC 6464, `ssrc-audio-level`): no decoding on the server. Pure:
//! levels and instants in, "started / stopped talking" out.

use std::time::{Duration, Instant};

/// Louder than this (dBov, 0 is full scale) is a voice near the microphone;
/// a quiet classroom's murmur and the browser's noise floor sit below -50.
const LOUD_DBOV: i8 = -45;
/// Loud this long without a break before it counts: a cough or a slammed
/// door is not a speaker.
const ONSET: Duration = Duration::from_millis(250);
/// A gap shorter than this between loud packets is one utterance.
const BRIDGE: Duration = Duration::from_millis(400);
/// Quiet this long and the speaker stopped (pauses between sentences are
/// shorter), so the highlight does not flicker.
const RELEASE: Duration = Duration::from_millis(1200);

#[derive(Debug, Default)]
pub struct VoiceActivity {
    loud_since: Option<Instant>,
    last_loud: Option<Instant>,
    talking: bool,
}

impl VoiceActivity {
    pub fn talking(&self) -> bool {
        self.talking
    }

    /// One packet's level (RFC 6464: -127..=0 dBov). Gives the new state
    /// when it changed.
    pub fn level(&mut self, now: Instant, dbov: i8) -> Option<bool> {
        if dbov > LOUD_DBOV {
            let bridged = self
                .last_loud
                .is_some_and(|at| now.saturating_duration_since(at) <= BRIDGE);
            if !bridged {
                self.loud_since = Some(now);
            }
            self.last_loud = Some(now);
        }
        self.tick(now)
    }

    /// Re-evaluates at `now` (also when no packet came: a publisher that
    /// went silent or away stops talking).
    pub fn tick(&mut self, now: Instant) -> Option<bool> {
        let talking = match (self.loud_since, self.last_loud) {
            (Some(since), Some(last)) => {
                let quiet = now.saturating_duration_since(last);
                if self.talking {
                    quiet < RELEASE
                } else {
                    quiet <= BRIDGE && last.saturating_duration_since(since) >= ONSET
                }
            }
            _ => false,
        };
        (talking != self.talking).then(|| {
            self.talking = talking;
            talking
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets every 20 ms from `from` for `ms` at `dbov`; the changes seen.
    fn feed(v: &mut VoiceActivity, t0: Instant, from: u64, ms: u64, dbov: i8) -> Vec<(u64, bool)> {
        (from..from + ms)
            .step_by(20)
            .filter_map(|at| {
                v.level(t0 + Duration::from_millis(at), dbov)
                    .map(|s| (at, s))
            })
            .collect()
    }

    #[test]
    fn a_voice_counts_after_a_quarter_second_and_ends_after_a_pause() {
        let t0 = Instant::now();
        let mut v = VoiceActivity::default();
        assert_eq!(feed(&mut v, t0, 0, 1000, -70), vec![]);
        assert_eq!(feed(&mut v, t0, 1000, 2000, -25), vec![(1260, true)]);
        // A breath between sentences keeps the speaker.
        assert_eq!(feed(&mut v, t0, 3000, 600, -70), vec![]);
        assert_eq!(feed(&mut v, t0, 3600, 400, -30), vec![]);
        assert_eq!(feed(&mut v, t0, 4000, 2000, -70), vec![(5180, false)]);
    }

    #[test]
    fn a_bang_is_not_a_speaker() {
        let t0 = Instant::now();
        let mut v = VoiceActivity::default();
        assert_eq!(feed(&mut v, t0, 0, 100, -5), vec![]);
        assert_eq!(feed(&mut v, t0, 100, 2000, -80), vec![]);
        assert!(!v.talking());
    }

    #[test]
    fn a_publisher_that_goes_away_stops_talking() {
        let t0 = Instant::now();
        let mut v = VoiceActivity::default();
        feed(&mut v, t0, 0, 1000, -20);
        assert!(v.talking());
        assert_eq!(v.tick(t0 + Duration::from_millis(1500)), None);
        assert_eq!(v.tick(t0 + Duration::from_millis(2200)), Some(false));
    }
}
