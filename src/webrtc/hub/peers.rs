//! A peer's end: whatever the reason, every index the hub keeps about it
//! is cleaned up in one place, and an admitted ingest that gets no more
//! frames is ended.

use str0m::net::Protocol;
use uuid::Uuid;

use super::Hub;
use crate::ingest::gate::Admitted;

impl Hub {
    pub(super) fn remove(&mut self, id: Uuid, why: &'static str) {
        let Some(mut viewer) = self.viewers.remove(&id) else {
            return;
        };
        let role = if viewer.publishing.is_some() {
            "publisher"
        } else {
            "viewer"
        };
        // Sessions that never connect are what a firewall blocking the
        // media ports looks like: worth an admin's eye.
        if why == "never_connected" {
            tracing::info!(session = %id, classroom = %viewer.classroom, role, "WebRTC peer never connected: is UDP/TCP {} reachable?", self.local.port());
        } else {
            tracing::debug!(session = %id, role, "WebRTC peer gone: {why}");
        }
        metrics::counter!("classcast_webrtc_sessions_ended_total", "role" => role, "reason" => why)
            .increment(1);
        if let Some(publishing) = &viewer.publishing {
            publishing.finish();
            self.voices.gone(publishing.classroom);
            metrics::gauge!("classcast_webrtc_publishers").decrement(1.0);
        }
        // The entry in the timers is the one from before the goodbye.
        if let Some(at) = viewer.timeout.take() {
            self.timers.remove(&(at, id));
        }
        viewer.rtc.disconnect();
        // Say goodbye (DTLS close) if there is anything to say.
        for (proto, destination, contents) in viewer.drain().transmits {
            self.send(proto, destination, contents);
        }
        for addr in &viewer.addrs {
            // An address reused since (NAT) belongs to someone else now.
            if self.by_addr.get(addr) == Some(&id) {
                self.by_addr.remove(addr);
                if addr.0 == Protocol::Tcp {
                    // Its connection ends with it.
                    self.tcp_peers.remove(&addr.1);
                }
            }
        }
        self.by_ufrag.remove(&viewer.ufrag);
        self.access.remove(&id);
        if let Some(room) = self.rooms.get_mut(&viewer.classroom) {
            room.viewers.remove(&id);
        }
        self.count();
    }

    pub(super) fn count(&self) {
        let publishers = self
            .viewers
            .values()
            .filter(|v| v.publishing.is_some())
            .count();
        metrics::gauge!("classcast_webrtc_viewers").set((self.viewers.len() - publishers) as f64);
    }
}

/// Ends an admitted ingest that will get no frames.
pub(super) fn finish(admitted: &Admitted) {
    let _ = admitted.input.end_of_stream();
    if let Some(audio) = &admitted.input_audio {
        let _ = audio.end_of_stream();
    }
}
