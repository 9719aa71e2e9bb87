//! Interactive sessions' audio on the hub: who is talking (each WHIP
//! publisher's RFC 6464 levels, per classroom) and who the teacher muted.
//! A muted classroom's audio is dropped here twice: a WHIP publisher's
//! before its ingest (nobody hears it, live or in the recording, whatever
//! their page does), and any classroom's on its way out to WebRTC viewers,
//! so a classroom sending from an RTMP or SRT encoder is muted in the
//! session too (its HLS and recording keep the sound).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use str0m::format::Codec;
use str0m::media::MediaData;
use tokio::sync::watch;
use uuid::Uuid;

use crate::webrtc::voice::VoiceActivity;

/// Classrooms whose publisher is talking now.
pub type Talking = Arc<BTreeSet<Uuid>>;

pub struct Voices {
    activity: HashMap<Uuid, VoiceActivity>,
    muted: HashSet<Uuid>,
    talking: watch::Sender<Talking>,
}

impl Voices {
    pub fn new() -> (Self, watch::Receiver<Talking>) {
        let (talking, rx) = watch::channel(Talking::default());
        let voices = Self {
            activity: HashMap::new(),
            muted: HashSet::new(),
            talking,
        };
        (voices, rx)
    }

    /// Takes note of a publisher's frame; false when it must not be
    /// forwarded (audio of a muted classroom).
    pub fn heard(&mut self, classroom: Uuid, data: &MediaData) -> bool {
        if data.params.spec().codec != Codec::Opus {
            return true;
        }
        if self.muted.contains(&classroom) {
            return false;
        }
        if let Some(level) = data.ext_vals.audio_level {
            let changed = self
                .activity
                .entry(classroom)
                .or_default()
                .level(data.network_time, level);
            if changed.is_some() {
                self.publish();
            }
        }
        true
    }

    pub fn is_muted(&self, classroom: Uuid) -> bool {
        self.muted.contains(&classroom)
    }

    /// The catalogue's word on who is muted, every few seconds: it covers
    /// mutes set through another node, and unmutes sessions that ended.
    pub fn set_muted(&mut self, muted: HashSet<Uuid>) {
        for classroom in muted.difference(&self.muted).copied().collect::<Vec<_>>() {
            self.mute(classroom, true);
        }
        self.muted = muted;
    }

    pub fn mute(&mut self, classroom: Uuid, muted: bool) {
        if muted {
            self.muted.insert(classroom);
            if self
                .activity
                .remove(&classroom)
                .is_some_and(|a| a.talking())
            {
                self.publish();
            }
        } else {
            self.muted.remove(&classroom);
        }
    }

    /// A publisher went away or went quiet without packets.
    pub fn tick(&mut self, now: Instant) {
        let mut changed = false;
        for activity in self.activity.values_mut() {
            changed |= activity.tick(now).is_some();
        }
        if changed {
            self.publish();
        }
    }

    pub fn gone(&mut self, classroom: Uuid) {
        if self
            .activity
            .remove(&classroom)
            .is_some_and(|a| a.talking())
        {
            self.publish();
        }
    }

    fn publish(&self) {
        let now: BTreeSet<Uuid> = self
            .activity
            .iter()
            .filter(|(_, a)| a.talking())
            .map(|(c, _)| *c)
            .collect();
        self.talking.send_replace(Arc::new(now));
    }
}
