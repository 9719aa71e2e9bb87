//! A bench peer, not product code: the smallest webrtc-rs (0.17) fan-out
//! relay that benches/webrtc_viewers.sh can measure beside classcast and
//! Janus. It takes the same RTP that Janus gets (H.264 PT 96 on one UDP
//! port, Opus PT 111 on another), writes every packet once into ONE shared
//! `TrackLocalStaticRTP` per kind (webrtc-rs does the per-viewer fan-out,
//! SRTP and sending), and answers WHEP offers:
//!
//!     POST /whep  (application/sdp offer)  -> 201, SDP answer, Location
//!     DELETE /whep/{id}                    -> 204
//!
//! ICE: host candidates on IP only, every peer on one UDP port (UDPMuxDefault).
//!
//!     webrtc-rs-relay IP HTTP_ADDR VIDEO_RTP_PORT AUDIO_RTP_PORT [ICE_UDP_PORT]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use tokio::net::UdpSocket;
use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_H264, MIME_TYPE_OPUS};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::{APIBuilder, API};
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::ice::udp_mux::{UDPMuxDefault, UDPMuxParams};
use webrtc::ice::udp_network::UDPNetwork;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_codec::RTCRtpCodecCapability;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::{TrackLocal, TrackLocalWriter};

struct Relay {
    api: API,
    video: Arc<TrackLocalStaticRTP>,
    audio: Arc<TrackLocalStaticRTP>,
    peers: Mutex<HashMap<u64, Arc<RTCPeerConnection>>>,
    next_id: AtomicU64,
}

fn usage() -> ! {
    eprintln!("usage: webrtc-rs-relay IP HTTP_ADDR VIDEO_RTP_PORT AUDIO_RTP_PORT [ICE_UDP_PORT]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        usage();
    }
    let ip: IpAddr = args[0].parse().unwrap_or_else(|_| usage());
    let http: SocketAddr = args[1].parse().unwrap_or_else(|_| usage());
    let port = |i: usize| -> u16 {
        args.get(i).map_or(0, |s| s.parse().unwrap_or_else(|_| usage()))
    };
    let (video_port, audio_port, ice_port) = (port(2), port(3), port(4));

    // Codecs as the bench's viewers offer them: H.264 constrained baseline
    // packetization-mode 1, Opus. Default interceptors: NACK responder,
    // RTCP sender reports, TWCC, as a webrtc-rs application gets them.
    let mut media = MediaEngine::default();
    media.register_default_codecs()?;
    let registry = register_default_interceptors(Registry::new(), &mut media)?;

    // One UDP socket for every peer's ICE, DTLS and SRTP.
    let ice_socket = UdpSocket::bind(SocketAddr::new(ip, ice_port)).await?;
    eprintln!("ICE UDP mux on {}", ice_socket.local_addr()?);
    let mux = UDPMuxDefault::new(UDPMuxParams::new(ice_socket));
    let mut settings = SettingEngine::default();
    settings.set_udp_network(UDPNetwork::Muxed(mux));
    settings.set_network_types(vec![NetworkType::Udp4]);
    settings.set_ip_filter(Box::new(move |candidate: IpAddr| candidate == ip));
    settings.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);

    let api = APIBuilder::new()
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .build();

    let capability = |mime: &str, clock_rate, channels, fmtp: &str| RTCRtpCodecCapability {
        mime_type: mime.to_owned(),
        clock_rate,
        channels,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: vec![],
    };
    let video = Arc::new(TrackLocalStaticRTP::new(
        capability(
            MIME_TYPE_H264,
            90000,
            0,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        ),
        "video".to_owned(),
        "classroom".to_owned(),
    ));
    let audio = Arc::new(TrackLocalStaticRTP::new(
        capability(MIME_TYPE_OPUS, 48000, 2, "minptime=10;useinbandfec=1"),
        "audio".to_owned(),
        "classroom".to_owned(),
    ));

    // Packetize once: each received packet is written once, to the shared
    // track, which rewrites SSRC and payload type per viewer and sends.
    for (track, rtp_port) in [(video.clone(), video_port), (audio.clone(), audio_port)] {
        let socket = UdpSocket::bind(SocketAddr::new(ip, rtp_port)).await?;
        eprintln!("RTP {} on {}", track.id(), socket.local_addr()?);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1600];
            loop {
                let Ok((n, _)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                // Errors name peers that failed; the others still got it.
                let _ = track.write(&buf[..n]).await;
            }
        });
    }

    let relay = Arc::new(Relay {
        api,
        video,
        audio,
        peers: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
    });
    let app = Router::new()
        .route("/whep", post(offer))
        .route("/whep/{id}", delete(hangup))
        .with_state(relay);
    let listener = tokio::net::TcpListener::bind(http).await?;
    eprintln!("WHEP on http://{}/whep", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

fn error(status: StatusCode, e: impl std::fmt::Display) -> Response {
    (status, e.to_string()).into_response()
}

async fn offer(State(relay): State<Arc<Relay>>, body: String) -> Response {
    match answer(&relay, body).await {
        Ok((id, sdp)) => (
            StatusCode::CREATED,
            [
                (header::CONTENT_TYPE, "application/sdp".to_owned()),
                (header::LOCATION, format!("/whep/{id}")),
            ],
            sdp,
        )
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn answer(relay: &Arc<Relay>, offer: String) -> anyhow::Result<(u64, String)> {
    let pc = Arc::new(relay.api.new_peer_connection(RTCConfiguration::default()).await?);
    for track in [relay.video.clone(), relay.audio.clone()] {
        let sender = pc
            .add_track(track as Arc<dyn TrackLocal + Send + Sync>)
            .await?;
        // Read RTCP so the interceptors (NACK, reports) see it.
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1500];
            while sender.read(&mut buf).await.is_ok() {}
        });
    }
    let id = relay.next_id.fetch_add(1, Ordering::Relaxed);
    let weak = Arc::downgrade(relay);
    pc.on_peer_connection_state_change(Box::new(move |state| {
        let weak = weak.clone();
        Box::pin(async move {
            if matches!(
                state,
                RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
            ) {
                if let Some(relay) = weak.upgrade() {
                    let pc = relay.peers.lock().unwrap().remove(&id);
                    // Not awaited here: close() reports Closed through this
                    // same handler, whose lock webrtc-rs holds while it
                    // runs, so awaiting it would deadlock.
                    if let Some(pc) = pc {
                        tokio::spawn(async move { pc.close().await });
                    }
                }
            }
        })
    }));
    let setup = async {
        pc.set_remote_description(RTCSessionDescription::offer(offer)?)
            .await?;
        let answer = pc.create_answer(None).await?;
        let mut gathered = pc.gathering_complete_promise().await;
        pc.set_local_description(answer).await?;
        let _ = gathered.recv().await;
        let local = pc.local_description().await;
        local.map(|d| d.sdp).ok_or_else(|| anyhow::anyhow!("no local description"))
    };
    match setup.await {
        Ok(sdp) => {
            relay.peers.lock().unwrap().insert(id, pc);
            Ok((id, sdp))
        }
        Err(e) => {
            let _ = pc.close().await;
            Err(e)
        }
    }
}

async fn hangup(State(relay): State<Arc<Relay>>, Path(id): Path<u64>) -> Response {
    let pc = relay.peers.lock().unwrap().remove(&id);
    match pc {
        Some(pc) => {
            let _ = pc.close().await;
            StatusCode::NO_CONTENT.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
