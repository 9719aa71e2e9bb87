//! The WebRTC hub: one task that owns the one UDP socket, every viewer's
//! peer connection and every classroom's packet stream. Nothing is shared:
//! HTTP handlers talk to it over a bounded command channel, ladders over
//! the RTP intake.
//!
//! A packet from a classroom's ladder is handed, as the same shared
//! payload, to each viewer of its rendition; per viewer only the sequence
//! number, timestamp offset, SSRC and SRTP differ. Incoming datagrams find
//! their viewer by source address, or for the first STUN check by our ICE
//! username fragment, never by asking every viewer.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use str0m::config::DtlsCert;

use str0m::net::Protocol;
use str0m::{Candidate, Event, IceConnectionState, Input};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

mod fanout;
mod net;
mod peers;
mod voice;

use peers::finish;
pub use voice::Talking;

use crate::auth::playback::Revocations;

use super::forward::KeyframeRequests;
use super::offer::{self, OfferFacts, Want};
use super::publisher::Publishing;
use super::viewer::Viewer;
use crate::ingest::gate::Admitted;
use crate::transcode::rtp::{RtpMsg, VideoTrackInfo};

/// A viewer that has not completed ICE in this long is let go.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// Viewers of a classroom whose feed has not come back for this long are
/// let go (longer than a camera's reconnect and the lesson's grace).
const NOT_LIVE_TIMEOUT: Duration = Duration::from_secs(120);

pub enum Command {
    Join {
        classroom: Uuid,
        offer: String,
        facts: OfferFacts,
        want: Want,
        access: Option<Access>,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    Trickle {
        classroom: Uuid,
        session: Uuid,
        candidates: Vec<String>,
        reply: oneshot::Sender<bool>,
    },
    Leave {
        classroom: Uuid,
        session: Uuid,
        reply: oneshot::Sender<bool>,
    },
    /// A WHIP publisher the ingest gate let in.
    Publish {
        offer: String,
        admitted: Admitted,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    Unpublish {
        session: Uuid,
        reply: oneshot::Sender<bool>,
    },
    IsPublishing {
        session: Uuid,
        reply: oneshot::Sender<bool>,
    },
    /// The teacher muted or unmuted a classroom of an interactive session.
    Mute { classroom: Uuid, muted: bool },
    /// Every classroom muted in a running session, as the catalogue has it.
    Muted(std::collections::HashSet<Uuid>),
}

/// The revocation epochs a viewer was let in under: when the viewer's or
/// the classroom's epoch moves past them (access withdrawn, user disabled,
/// audience changed), the session ends within a second, as tokened HLS does.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub viewer: Uuid,
    pub viewer_epoch: u32,
    pub scope: Uuid,
    pub scope_epoch: u32,
}

impl Access {
    fn revoked(&self, revocations: &Revocations) -> bool {
        revocations.epoch(self.viewer) > self.viewer_epoch
            || revocations.epoch(self.scope) > self.scope_epoch
    }
}

#[derive(Debug)]
pub struct Joined {
    pub session: Uuid,
    pub answer: String,
    /// The rendition served, or "audio".
    pub rendition: String,
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the classroom is not live")]
    NotLive,
    #[error("the server is at its WebRTC viewer limit")]
    Full,
    #[error(transparent)]
    Choice(#[from] offer::ChoiceError),
    #[error("the offer cannot be answered: {0}")]
    Offer(String),
    #[error("the WebRTC service is not running")]
    Stopped,
    #[error("access was withdrawn while joining")]
    Revoked,
}

/// A classroom's current ladder, as far as WebRTC goes.
struct Room {
    incarnation: u64,
    live: bool,
    /// When the room stopped being live.
    since: Option<Instant>,
    video: Vec<VideoTrackInfo>,
    viewers: HashSet<Uuid>,
}

impl Room {
    fn candidates(&self) -> Vec<offer::Candidate<'_>> {
        self.video
            .iter()
            .map(|t| offer::Candidate {
                name: &t.name,
                profile: t.profile,
                reordered: t.reordered.load(Ordering::Relaxed),
            })
            .collect()
    }
}

pub struct Hub {
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    candidates: Vec<Candidate>,
    cert: DtlsCert,
    max_viewers: usize,
    viewers: HashMap<Uuid, Viewer>,
    by_addr: HashMap<(Protocol, SocketAddr), Uuid>,
    /// The ICE-TCP listener's address, and each connected peer's writer.
    tcp_local: Option<SocketAddr>,
    tcp_peers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    by_ufrag: HashMap<String, Uuid>,
    rooms: HashMap<Uuid, Room>,
    timers: BTreeSet<(Instant, Uuid)>,
    keyframes: KeyframeRequests,
    revocations: watch::Receiver<Arc<Revocations>>,
    access: HashMap<Uuid, Access>,
    /// How often a WHIP publisher must send a keyframe: the HLS segment.
    publisher_gop: Duration,
    voices: voice::Voices,
}

pub struct Inputs {
    pub commands: mpsc::Receiver<Command>,
    pub tcp: mpsc::Receiver<super::tcp::TcpEvent>,
    pub packets: mpsc::Receiver<RtpMsg>,
    pub control: mpsc::Receiver<RtpMsg>,
}

impl Hub {
    pub fn new(
        socket: UdpSocket,
        candidates: Vec<Candidate>,
        cert: DtlsCert,
        max_viewers: usize,
        revocations: watch::Receiver<Arc<Revocations>>,
        publisher_gop: Duration,
        tcp_local: Option<SocketAddr>,
    ) -> std::io::Result<(Self, watch::Receiver<Talking>)> {
        let local = socket.local_addr()?;
        let (voices, talking) = voice::Voices::new();
        let hub = Self {
            socket: Arc::new(socket),
            local,
            candidates,
            cert,
            max_viewers,
            viewers: HashMap::new(),
            by_addr: HashMap::new(),
            tcp_local,
            tcp_peers: HashMap::new(),
            by_ufrag: HashMap::new(),
            rooms: HashMap::new(),
            timers: BTreeSet::new(),
            keyframes: KeyframeRequests::default(),
            revocations,
            access: HashMap::new(),
            publisher_gop,
            voices,
        };
        Ok((hub, talking))
    }

    pub async fn run(mut self, mut inputs: Inputs) {
        let mut buf = vec![0u8; 2048];
        let mut next_housekeeping = Instant::now() + HOUSEKEEPING;
        let socket = self.socket.clone();
        loop {
            // Due timers and housekeeping run first on every pass: with the
            // select biased towards input, a busy socket must not starve
            // them (retransmits, keepalives, revocations, stale peers).
            let now = Instant::now();
            self.timeouts(now);
            if now >= next_housekeeping {
                self.housekeeping(now);
                next_housekeeping = now + HOUSEKEEPING;
            }
            let next = self
                .timers
                .first()
                .map(|(at, _)| *at)
                .unwrap_or(next_housekeeping)
                .min(next_housekeeping);
            tokio::select! {
                biased;
                cmd = inputs.commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                Some(msg) = inputs.control.recv() => self.rtp(msg),
                Some(event) = inputs.tcp.recv() => self.tcp(event),
                received = socket.recv_from(&mut buf) => match received {
                    Ok((n, source)) => {
                        self.datagram(&buf[..n], Protocol::Udp, source);
                    }
                    Err(e) => tracing::debug!("webrtc socket: {e}"),
                },
                Some(msg) = inputs.packets.recv() => {
                    self.rtp(msg);
                    // Take what queued meanwhile in one go, but let the
                    // socket in between bursts.
                    for _ in 0..64 {
                        match inputs.packets.try_recv() {
                            Ok(msg) => self.rtp(msg),
                            Err(_) => break,
                        }
                    }
                }
                _ = tokio::time::sleep_until(next.into()) => {}
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Join {
                classroom,
                offer,
                facts,
                want,
                access,
                reply,
            } => {
                if access.is_some_and(|a| a.revoked(&self.revocations.borrow())) {
                    let _ = reply.send(Err(JoinError::Revoked));
                    return;
                }
                let joined = self.join(classroom, &offer, facts, want);
                if let (Ok(joined), Some(access)) = (&joined, access) {
                    self.access.insert(joined.session, access);
                }
                let _ = reply.send(joined);
            }
            Command::Trickle {
                classroom,
                session,
                candidates,
                reply,
            } => {
                let Some(viewer) = self.viewer_in(classroom, session) else {
                    let _ = reply.send(false);
                    return;
                };
                for line in candidates {
                    match Candidate::from_sdp_string(&line) {
                        Ok(candidate) => viewer.rtc.add_remote_candidate(candidate),
                        Err(e) => tracing::debug!("trickled candidate refused: {e}"),
                    }
                }
                let _ = reply.send(true);
                self.flush(session);
            }
            Command::Publish {
                offer,
                admitted,
                reply,
            } => {
                let _ = reply.send(self.publish(&offer, admitted));
            }
            Command::IsPublishing { session, reply } => {
                let known = self
                    .viewers
                    .get(&session)
                    .is_some_and(|v| v.publishing.is_some());
                let _ = reply.send(known);
            }
            Command::Unpublish { session, reply } => {
                let known = self
                    .viewers
                    .get(&session)
                    .is_some_and(|v| v.publishing.is_some());
                if known {
                    self.remove(session, "left");
                }
                let _ = reply.send(known);
            }
            Command::Mute { classroom, muted } => self.voices.mute(classroom, muted),
            Command::Muted(muted) => self.voices.set_muted(muted),
            Command::Leave {
                classroom,
                session,
                reply,
            } => {
                let known = self.viewer_in(classroom, session).is_some();
                if known {
                    self.remove(session, "left");
                }
                let _ = reply.send(known);
            }
        }
    }

    fn viewer_in(&mut self, classroom: Uuid, session: Uuid) -> Option<&mut Viewer> {
        self.viewers
            .get_mut(&session)
            .filter(|v| v.classroom == classroom && v.publishing.is_none())
    }

    /// Answers a WHIP offer; the admitted ingest takes its frames. An
    /// offer that cannot be answered ends that ingest at once.
    fn publish(&mut self, sdp: &str, admitted: Admitted) -> Result<Joined, JoinError> {
        if self.viewers.len() >= self.max_viewers {
            finish(&admitted);
            return Err(JoinError::Full);
        }
        let classroom = admitted.classroom_id;
        let publishing = Publishing::new(
            classroom,
            admitted.input.clone(),
            admitted.input_audio.clone(),
            self.publisher_gop,
        );
        let answered = Viewer::answer(
            classroom,
            sdp,
            OfferFacts::default(),
            None,
            &self.candidates,
            &self.cert,
            Instant::now(),
            Some(publishing),
        );
        let (viewer, answer) = match answered {
            Ok(answered) => answered,
            Err(e) => {
                finish(&admitted);
                return Err(JoinError::Offer(e));
            }
        };
        let session = viewer.id;
        self.by_ufrag.insert(viewer.ufrag.clone(), session);
        if let Some(timeout) = viewer.timeout {
            self.timers.insert((timeout, session));
        }
        self.viewers.insert(session, viewer);
        metrics::gauge!("classcast_webrtc_publishers").increment(1.0);
        Ok(Joined {
            session,
            answer,
            rendition: String::new(),
        })
    }

    fn join(
        &mut self,
        classroom: Uuid,
        sdp: &str,
        facts: OfferFacts,
        want: Want,
    ) -> Result<Joined, JoinError> {
        let room = self
            .rooms
            .get(&classroom)
            .filter(|r| r.live)
            .ok_or(JoinError::NotLive)?;
        if self.viewers.len() >= self.max_viewers {
            return Err(JoinError::Full);
        }
        let rank = offer::choose(&facts, &room.candidates(), &want)?;
        let rendition = rank.map_or_else(|| "audio".to_string(), |r| room.video[r].name.clone());
        let now = Instant::now();
        let (viewer, answer) = Viewer::answer(
            classroom,
            sdp,
            facts,
            rank,
            &self.candidates,
            &self.cert,
            now,
            None,
        )
        .map_err(JoinError::Offer)?;
        let session = viewer.id;
        self.by_ufrag.insert(viewer.ufrag.clone(), session);
        if let Some(timeout) = viewer.timeout {
            self.timers.insert((timeout, session));
        }
        self.viewers.insert(session, viewer);
        if let Some(room) = self.rooms.get_mut(&classroom) {
            room.viewers.insert(session);
        }
        self.count();
        // No keyframe is asked for yet: one made before the viewer has
        // connected would be lost to it, and the next would wait out the
        // coalescing second. Its first packet, once connected, asks.
        Ok(Joined {
            session,
            answer,
            rendition,
        })
    }

    fn timeouts(&mut self, now: Instant) {
        // Each due peer once per pass: one that is due again at once (str0m
        // clamps to its last `now`) waits for the next pass, never spins.
        let mut due = Vec::new();
        while let Some(&(at, id)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            due.push(id);
        }
        for id in due {
            if let Some(viewer) = self.viewers.get_mut(&id) {
                viewer.timeout = None;
                if let Err(e) = viewer.rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(viewer = %id, "timeout: {e}");
                }
                self.flush(id);
            }
        }
    }

    fn housekeeping(&mut self, now: Instant) {
        self.voices.tick(now);
        let stale: Vec<Uuid> = self
            .viewers
            .values()
            .filter(|v| !v.connected && now.duration_since(v.created) > CONNECT_TIMEOUT)
            .map(|v| v.id)
            .collect();
        for id in stale {
            self.remove(id, "never_connected");
        }
        // A classroom whose feed never came back: its viewers are let go.
        let abandoned: Vec<Uuid> = self
            .rooms
            .values()
            .filter(|r| {
                r.since
                    .is_some_and(|at| now.duration_since(at) > NOT_LIVE_TIMEOUT)
            })
            .flat_map(|r| r.viewers.iter().copied())
            .collect();
        for id in abandoned {
            self.remove(id, "not_live");
        }
        if self.revocations.has_changed().unwrap_or(false) {
            let revocations = self.revocations.borrow_and_update().clone();
            let revoked: Vec<Uuid> = self
                .access
                .iter()
                .filter(|(_, access)| access.revoked(&revocations))
                .map(|(id, _)| *id)
                .collect();
            for id in revoked {
                metrics::counter!("classcast_webrtc_viewers_revoked_total").increment(1);
                self.remove(id, "revoked");
            }
        }
        self.rooms.retain(|_, r| r.live || !r.viewers.is_empty());
    }

    /// Sends what a viewer's connection produced and acts on its events.
    fn flush(&mut self, id: Uuid) {
        let Some(viewer) = self.viewers.get_mut(&id) else {
            return;
        };
        let before = viewer.timeout;
        let drained = viewer.drain();
        if before != viewer.timeout {
            if let Some(before) = before {
                self.timers.remove(&(before, id));
            }
            if let Some(after) = viewer.timeout {
                self.timers.insert((after, id));
            }
        }
        for (proto, destination, contents) in drained.transmits {
            self.send(proto, destination, contents);
        }
        let mut gone = drained.failed;
        for event in drained.events {
            match event {
                Event::Connected => {
                    tracing::debug!(viewer = %id, "connected");
                    if let Some(viewer) = self.viewers.get_mut(&id) {
                        viewer.connected = true;
                    }
                }
                Event::MediaAdded(added) => {
                    if let Some(viewer) = self.viewers.get_mut(&id) {
                        viewer.media_added(&added);
                    }
                }
                Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                | Event::Closed => gone = true,
                Event::KeyframeRequest(_) => {
                    let target = self
                        .viewers
                        .get(&id)
                        .and_then(|v| v.rank.map(|r| (v.classroom, r)));
                    if let Some((classroom, rank)) = target {
                        self.ask_keyframe(classroom, rank, Instant::now());
                    }
                }
                Event::MediaData(data) => {
                    let Some(viewer) = self.viewers.get_mut(&id) else {
                        continue;
                    };
                    let Some(publishing) = viewer.publishing.as_mut() else {
                        continue;
                    };
                    if !self.voices.heard(publishing.classroom, &data) {
                        continue;
                    }
                    match publishing.frame(&data) {
                        Ok(true) => viewer.request_keyframe(Instant::now()),
                        Ok(false) => {}
                        Err(_) => gone = true,
                    }
                }
                Event::MediaEgressStats(stats) if self.lossy(id, &stats) => {
                    gone = true;
                }
                _ => {}
            }
        }
        if gone {
            self.remove(id, "disconnected");
        }
    }
}
