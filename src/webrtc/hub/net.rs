//! The hub's network side: packets in from the UDP socket and the ICE-TCP
//! connections find their peer (by address, or by the ufrag of a first
//! STUN check), and what a peer sends goes out without waiting.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::Input;
use str0m::ice::StunMessage;
use str0m::net::{Protocol, Receive};
use uuid::Uuid;

use super::Hub;

impl Hub {
    pub(super) fn tcp(&mut self, event: crate::webrtc::tcp::TcpEvent) {
        use crate::webrtc::tcp::TcpEvent;
        match event {
            TcpEvent::Opened { peer, writer } => {
                self.tcp_peers.insert(peer, writer);
            }
            TcpEvent::Frame { peer, data } => {
                let routed = self.datagram(&data, Protocol::Tcp, peer);
                if !routed && !self.by_addr.contains_key(&(Protocol::Tcp, peer)) {
                    // Nobody's: dropping the writer closes the connection.
                    self.tcp_peers.remove(&peer);
                }
            }
            TcpEvent::Closed { peer } => {
                self.tcp_peers.remove(&peer);
                self.by_addr.remove(&(Protocol::Tcp, peer));
            }
        }
    }

    /// Routes one packet to its peer; false when it belongs to nobody.
    pub(super) fn datagram(&mut self, data: &[u8], proto: Protocol, source: SocketAddr) -> bool {
        let session = match self.by_addr.get(&(proto, source)) {
            Some(id) => Some(*id),
            None => self.stun_owner(data),
        };
        let Some(session) = session else {
            metrics::counter!("classcast_webrtc_datagrams_dropped_total").increment(1);
            return false;
        };
        let Ok(contents) = data.try_into() else {
            metrics::counter!("classcast_webrtc_datagrams_dropped_total").increment(1);
            return false;
        };
        let destination = self.destination(proto, source);
        let Some(viewer) = self.viewers.get_mut(&session) else {
            return false;
        };
        let input = Input::Receive(
            Instant::now(),
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        if !viewer.rtc.accepts(&input) {
            metrics::counter!("classcast_webrtc_datagrams_dropped_total").increment(1);
            return false;
        }
        if let Err(e) = viewer.rtc.handle_input(input) {
            tracing::debug!(viewer = %session, "input refused: {e}");
        }
        if !viewer.addrs.contains(&(proto, source)) {
            viewer.addrs.push((proto, source));
            self.by_addr.insert((proto, source), session);
        }
        self.flush(session);
        true
    }

    /// The local candidate a packet from `source` came in by. str0m drops
    /// STUN checks whose destination is none of our candidates, so a socket
    /// bound to every interface, or behind 1:1 NAT (announced addresses),
    /// must name the candidate, not the bound address.
    pub(super) fn destination(&self, proto: Protocol, source: SocketAddr) -> SocketAddr {
        let bound = match proto {
            Protocol::Udp => self.local,
            _ => self.tcp_local.unwrap_or(self.local),
        };
        let ours: Vec<SocketAddr> = self
            .candidates
            .iter()
            .filter(|c| c.proto() == proto)
            .map(|c| c.addr())
            .collect();
        ours.iter()
            .find(|a| a.ip() == bound.ip())
            .or_else(|| {
                ours.iter().find(|a| {
                    a.is_ipv4() == source.is_ipv4()
                        && a.ip().is_loopback() == source.ip().is_loopback()
                })
            })
            .or(ours.first())
            .copied()
            .unwrap_or(bound)
    }

    /// Never waits: a full UDP send buffer or TCP write queue loses this
    /// packet for this peer, and NACKs or the next keyframe heal it.
    pub(super) fn send(&self, proto: Protocol, destination: SocketAddr, contents: Vec<u8>) {
        let sent = match proto {
            Protocol::Udp => self.socket.try_send_to(&contents, destination).is_ok(),
            _ => self
                .tcp_peers
                .get(&destination)
                .is_some_and(|writer| writer.try_send(contents).is_ok()),
        };
        if !sent {
            metrics::counter!("classcast_webrtc_send_dropped_total").increment(1);
        }
    }

    /// The viewer a STUN request is for, by the ufrag in its USERNAME
    /// ("ours:theirs" in a request to us).
    pub(super) fn stun_owner(&self, data: &[u8]) -> Option<Uuid> {
        let message = StunMessage::parse(data).ok()?;
        let (a, b) = message.split_username()?;
        self.by_ufrag
            .get(a)
            .or_else(|| self.by_ufrag.get(b))
            .copied()
    }
}
