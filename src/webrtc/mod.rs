//! WebRTC playback (WHEP): sub-second lessons for classrooms that take
//! part live.
//!
//! Built on str0m (sans-IO): one task ([`hub`]) owns one UDP socket for
//! every peer, all peer connections and the classrooms' packet streams.
//! Ladders packetize once per rendition (`transcode::rtp`); the hub fans the
//! same payloads out. Chosen over webrtc-rs because webrtc-rs 0.21 cannot
//! serve every peer from one UDP port and 0.17 has no ICE-TCP, both of
//! which school firewalls need.

pub mod forward;
pub mod hub;
pub mod interactive;
pub mod offer;
pub mod publisher;
mod tcp;
mod viewer;
pub mod voice;

use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::{Arc, Once};

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::auth::playback::Revocations;
use crate::config::WebRtcConfig;
use crate::transcode::rtp::RtpIntake;
pub use hub::{Access, JoinError, Joined};
use offer::{OfferFacts, Want};

/// Packets from every classroom's ladders: about a second of a few busy
/// classrooms, after which packets are dropped (counted) rather than queued.
const PACKET_QUEUE: usize = 8192;
const CONTROL_QUEUE: usize = 256;
const COMMAND_QUEUE: usize = 256;

/// Cheap to clone; part of `AppState`.
#[derive(Clone)]
pub struct WebRtc {
    commands: mpsc::Sender<hub::Command>,
    /// The socket every peer's media goes through, and the ICE-TCP
    /// listener for peers that cannot use UDP.
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub ice_servers: Arc<[String]>,
    /// Classrooms whose WHIP publisher is talking now (RFC 6464 levels).
    pub talking: tokio::sync::watch::Receiver<hub::Talking>,
}

impl WebRtc {
    /// Binds the media socket and starts the hub; the intake goes to the
    /// classrooms' ladders.
    pub fn start(
        config: &WebRtcConfig,
        revocations: tokio::sync::watch::Receiver<Arc<Revocations>>,
        publisher_gop: std::time::Duration,
    ) -> anyhow::Result<(Self, RtpIntake)> {
        static CRYPTO: Once = Once::new();
        CRYPTO.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
        let std_socket = StdUdpSocket::bind(config.udp_addr)
            .with_context(|| format!("binding WebRTC UDP {}", config.udp_addr))?;
        std_socket.set_nonblocking(true)?;
        let socket = tokio::net::UdpSocket::from_std(std_socket)?;
        let udp = socket.local_addr()?;
        let tcp_listener = std::net::TcpListener::bind(config.tcp_addr)
            .with_context(|| format!("binding WebRTC TCP {}", config.tcp_addr))?;
        tcp_listener.set_nonblocking(true)?;
        let tcp_listener = tokio::net::TcpListener::from_std(tcp_listener)?;
        let tcp = tcp_listener.local_addr()?;
        let candidates = candidates(udp, tcp.port(), &config.announce)?;
        // One certificate for every peer: making one costs milliseconds,
        // and the fingerprint in each answer is all a peer checks.
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .context("making the DTLS certificate")?;
        let (hub, talking) = hub::Hub::new(
            socket,
            candidates,
            cert,
            config.max_viewers,
            revocations,
            publisher_gop,
            Some(tcp),
        )?;
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let (packets, packets_rx) = mpsc::channel(PACKET_QUEUE);
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let (tcp_events, tcp_rx) = mpsc::channel(PACKET_QUEUE);
        tokio::spawn(tcp::serve(tcp_listener, tcp_events));
        tokio::spawn(hub.run(hub::Inputs {
            commands: commands_rx,
            tcp: tcp_rx,
            packets: packets_rx,
            control: control_rx,
        }));
        let handle = Self {
            commands,
            udp,
            tcp,
            ice_servers: config.ice_servers.clone().into(),
            talking,
        };
        Ok((handle, RtpIntake { packets, control }))
    }

    pub async fn join(
        &self,
        classroom: Uuid,
        offer: String,
        facts: OfferFacts,
        want: Want,
        access: Option<Access>,
    ) -> Result<Joined, JoinError> {
        let (reply, answer) = oneshot::channel();
        let cmd = hub::Command::Join {
            classroom,
            offer,
            facts,
            want,
            access,
            reply,
        };
        self.commands
            .send(cmd)
            .await
            .map_err(|_| JoinError::Stopped)?;
        answer.await.map_err(|_| JoinError::Stopped)?
    }

    /// Adds trickled candidates; false for an unknown session.
    pub async fn trickle(&self, classroom: Uuid, session: Uuid, candidates: Vec<String>) -> bool {
        let (reply, known) = oneshot::channel();
        let cmd = hub::Command::Trickle {
            classroom,
            session,
            candidates,
            reply,
        };
        self.commands.send(cmd).await.is_ok() && known.await.unwrap_or(false)
    }

    /// Answers a WHIP publisher's offer for the ingest the gate admitted.
    pub async fn publish(
        &self,
        offer: String,
        admitted: crate::ingest::gate::Admitted,
    ) -> Result<Joined, JoinError> {
        let (reply, answer) = oneshot::channel();
        let cmd = hub::Command::Publish {
            offer,
            admitted,
            reply,
        };
        self.commands
            .send(cmd)
            .await
            .map_err(|_| JoinError::Stopped)?;
        answer.await.map_err(|_| JoinError::Stopped)?
    }

    /// Whether `session` is a WHIP publish in progress.
    pub async fn is_publishing(&self, session: Uuid) -> bool {
        let (reply, known) = oneshot::channel();
        let cmd = hub::Command::IsPublishing { session, reply };
        self.commands.send(cmd).await.is_ok() && known.await.unwrap_or(false)
    }

    /// Ends a WHIP publish; false for an unknown one.
    pub async fn unpublish(&self, session: Uuid) -> bool {
        let (reply, known) = oneshot::channel();
        let cmd = hub::Command::Unpublish { session, reply };
        self.commands.send(cmd).await.is_ok() && known.await.unwrap_or(false)
    }

    /// Mutes or unmutes a classroom's audio (interactive sessions): a WHIP
    /// publisher's is dropped before its ingest, also for a later
    /// publisher, and any classroom's before it reaches WebRTC viewers.
    pub async fn mute(&self, classroom: Uuid, muted: bool) {
        let _ = self
            .commands
            .send(hub::Command::Mute { classroom, muted })
            .await;
    }

    /// Replaces the muted classrooms with the catalogue's set.
    pub async fn set_muted(&self, muted: std::collections::HashSet<Uuid>) {
        let _ = self.commands.send(hub::Command::Muted(muted)).await;
    }

    /// Ends a session; false for an unknown one.
    pub async fn leave(&self, classroom: Uuid, session: Uuid) -> bool {
        let (reply, known) = oneshot::channel();
        let cmd = hub::Command::Leave {
            classroom,
            session,
            reply,
        };
        self.commands.send(cmd).await.is_ok() && known.await.unwrap_or(false)
    }
}

/// The host candidates every answer carries: the announced addresses, or
/// the bound one; for a socket bound to every interface, the address the
/// default route leaves by (and loopback, for a browser on this machine).
fn candidates(
    bound: SocketAddr,
    tcp_port: u16,
    announce: &[String],
) -> anyhow::Result<Vec<str0m::Candidate>> {
    let port = bound.port();
    let mut ips: Vec<IpAddr> = Vec::new();
    for name in announce {
        let resolved = std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port))
            .with_context(|| format!("webrtc.announce: cannot resolve {name}"))?;
        ips.extend(resolved.map(|a| a.ip()));
    }
    if ips.is_empty() {
        if bound.ip().is_unspecified() {
            // Connecting a UDP socket sends nothing; it only picks the route.
            let probe = StdUdpSocket::bind("0.0.0.0:0")?;
            if probe.connect("192.0.2.1:9").is_ok() {
                ips.push(probe.local_addr()?.ip());
            }
            ips.push(IpAddr::from([127, 0, 0, 1]));
        } else {
            ips.push(bound.ip());
        }
    }
    ips.dedup();
    let mut candidates = Vec::new();
    for ip in ips {
        let bad = |e: str0m::error::IceError| anyhow::anyhow!("candidate {ip}: {e}");
        candidates.push(str0m::Candidate::host(SocketAddr::new(ip, port), "udp").map_err(bad)?);
        // Passive: browsers connect to it (RFC 6544).
        let tcp = str0m::Candidate::builder()
            .tcp()
            .host(SocketAddr::new(ip, tcp_port))
            .tcptype(str0m::net::TcpType::Passive)
            .build()
            .map_err(bad)?;
        candidates.push(tcp);
    }
    Ok(candidates)
}
