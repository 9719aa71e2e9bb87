//! The hub's media side: ladders' packets fanned out to the viewers of
//! their rendition, viewers moved when a ladder is replaced or their
//! network cannot keep up, and keyframe requests coalesced.

use std::collections::HashSet;
use std::time::Instant;

use uuid::Uuid;

use super::{Hub, Room};
use crate::transcode::rtp::{RtpMsg, RtpPacket, Track, VideoTrackInfo};
use crate::webrtc::offer::{self, Want};

impl Hub {
    pub(super) fn rtp(&mut self, msg: RtpMsg) {
        match msg {
            RtpMsg::Started {
                classroom,
                incarnation,
                video,
            } => self.started(classroom, incarnation, video),
            RtpMsg::Ended {
                classroom,
                incarnation,
            } => {
                if let Some(room) = self.rooms.get_mut(&classroom)
                    && room.incarnation == incarnation
                {
                    room.live = false;
                }
                self.keyframes.forget(classroom, incarnation);
            }
            RtpMsg::Packet {
                classroom,
                incarnation,
                track,
                packet,
            } => self.packet(classroom, incarnation, track, &packet),
        }
    }

    /// A new ladder replaces the room's renditions; every viewer moves to
    /// the same-named rendition (or the best it can play) at its next
    /// keyframe.
    fn started(&mut self, classroom: Uuid, incarnation: u64, video: Vec<VideoTrackInfo>) {
        let room = self.rooms.entry(classroom).or_insert_with(|| Room {
            incarnation,
            live: true,
            since: None,
            video: Vec::new(),
            viewers: HashSet::new(),
        });
        // A late start of an older ladder; but a classroom task started
        // afresh (removed and added again) counts from 1 again.
        if incarnation < room.incarnation && room.live {
            return;
        }
        tracing::debug!(%classroom, incarnation, renditions = ?video.iter().map(|t| (&t.name, t.profile)).collect::<Vec<_>>(), "ladder packetizing");
        let previous: Vec<String> = room.video.iter().map(|t| t.name.clone()).collect();
        room.incarnation = incarnation;
        room.live = true;
        room.since = None;
        room.video = video;
        let candidates = room.candidates();
        for id in &room.viewers {
            let Some(viewer) = self.viewers.get_mut(id) else {
                continue;
            };
            let Some(rank) = viewer.rank else {
                continue;
            };
            let want = previous
                .get(rank)
                .map_or(Want::Best, |name| Want::Named(name.clone()));
            viewer.rank = offer::choose(&viewer.facts, &candidates, &want)
                .ok()
                .flatten()
                .or(Some(0));
        }
    }

    fn packet(&mut self, classroom: Uuid, incarnation: u64, track: Track, packet: &RtpPacket) {
        let Some(room) = self.rooms.get(&classroom) else {
            return;
        };
        if room.incarnation != incarnation || !room.live {
            return; // the tail of a ladder that was replaced
        }
        let rendition = match track {
            Track::Video(rank) => Some(rank),
            // Muted by the teacher of an interactive session (for a WHIP
            // publisher it never got this far).
            Track::Audio if self.voices.is_muted(classroom) => return,
            Track::Audio => None,
        };
        let profile = rendition.and_then(|r| room.video.get(r)).map(|t| t.profile);
        let mut sent = Vec::new();
        let mut want_keyframe = false;
        for id in &room.viewers {
            let Some(viewer) = self.viewers.get_mut(id) else {
                continue;
            };
            if !viewer.connected {
                continue;
            }
            let (out, pt) = match (track, profile) {
                (Track::Video(rank), Some(profile)) if viewer.rank == Some(rank) => {
                    let pt = viewer.h264_pt(profile);
                    (viewer.video.as_mut(), pt)
                }
                (Track::Audio, _) => (viewer.audio.as_mut(), viewer.opus_pt),
                _ => continue,
            };
            let (Some(out), Some(pt)) = (out, pt) else {
                continue;
            };
            let Some((seq, ts)) = out.rw.forward((incarnation, rendition), packet) else {
                want_keyframe |= out.rw.waiting_for_keyframe();
                continue;
            };
            let mid = out.mid;
            viewer.write(mid, pt, seq, ts, packet);
            sent.push(*id);
        }
        if want_keyframe && let Some(rank) = rendition {
            self.ask_keyframe(classroom, rank, packet.arrived);
        }
        for id in sent {
            self.flush(id);
        }
    }

    /// Asks a transcoded rendition's encoder for a keyframe, at most once a
    /// second however many viewers wait. The camera's own rendition cannot
    /// be asked: its viewers wait for the camera's next keyframe.
    pub(super) fn ask_keyframe(&mut self, classroom: Uuid, rank: usize, now: Instant) {
        let Some(room) = self.rooms.get(&classroom) else {
            return;
        };
        let Some(track) = room.video.get(rank) else {
            return;
        };
        if !self
            .keyframes
            .allow((classroom, room.incarnation, rank), now)
        {
            return;
        }
        metrics::counter!("classcast_webrtc_keyframe_requests_total").increment(1);
        if let Some(keyframer) = &track.keyframer {
            keyframer.request();
            return;
        }
        // The camera's own H.264: when it comes from a WHIP publisher on
        // this hub (a browser in an interactive session), ask it, so a new
        // viewer need not wait for the next segment's keyframe.
        let publisher = self
            .viewers
            .values()
            .find(|v| {
                v.publishing
                    .as_ref()
                    .is_some_and(|p| p.classroom == classroom)
            })
            .map(|v| v.id);
        if let Some(id) = publisher {
            if let Some(viewer) = self.viewers.get_mut(&id) {
                viewer.request_keyframe(now);
            }
            self.flush(id);
        }
    }

    /// Counts heavy-loss reports on a viewer's video; after a few in a row
    /// it moves down a rendition. True when there is none left below.
    pub(super) fn lossy(&mut self, id: Uuid, stats: &str0m::stats::MediaEgressStats) -> bool {
        let Some(viewer) = self.viewers.get_mut(&id) else {
            return false;
        };
        if viewer.video.as_ref().is_none_or(|v| v.mid != stats.mid) {
            return false;
        }
        if !viewer.loss.report(stats.loss) {
            return false;
        }
        let Some(room) = self.rooms.get(&viewer.classroom) else {
            return false;
        };
        let lower = viewer
            .rank
            .and_then(|rank| offer::step_down(&viewer.facts, &room.candidates(), rank));
        match lower {
            Some(lower) => {
                tracing::info!(viewer = %id, rendition = %room.video[lower].name, "network cannot keep up: moving down");
                metrics::counter!("classcast_webrtc_viewers_moved_down_total").increment(1);
                viewer.rank = Some(lower);
                let classroom = viewer.classroom;
                self.ask_keyframe(classroom, lower, Instant::now());
                false
            }
            None => {
                metrics::counter!("classcast_webrtc_viewers_dropped_total").increment(1);
                true
            }
        }
    }
}
