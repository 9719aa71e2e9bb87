//! RTMP listener for classroom encoders and OBS:
//! `rtmp://HOST:1935/live/{stream_key}`.
//!
//! rml_rtmp does the protocol (sans-IO); this owns the sockets. A publish
//! with an unknown key is refused with `NetStream.Publish.BadName` and
//! logged; bytes that are not RTMP end that connection only.

use std::net::SocketAddr;
use std::time::Duration;

use gstreamer as gst;
use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{
    ServerSession, ServerSessionConfig, ServerSessionEvent as Event, ServerSessionResult as Output,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

use super::flv;
use super::gate::{Gate, Protocol};
use super::pipeline::FLV_CAPS;

/// The RTMP application name in publish URLs.
pub const APP: &str = "live";
/// A client that says nothing for this long is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn serve(listener: TcpListener, gate: Gate) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                warn!("rtmp accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let gate = gate.clone();
        tokio::spawn(async move {
            let _ = socket.set_nodelay(true);
            match connection(socket, peer, gate).await {
                Ok(()) => info!(%peer, "rtmp connection closed"),
                Err(e) => warn!(%peer, "rtmp connection ended: {e:#}"),
            }
        });
    }
}

struct Publishing {
    input: gstreamer_app::AppSrc,
}

async fn read_some(socket: &mut TcpStream, buf: &mut [u8]) -> anyhow::Result<usize> {
    let n = tokio::time::timeout(IDLE_TIMEOUT, socket.read(buf))
        .await
        .map_err(|_| anyhow::anyhow!("idle timeout"))??;
    Ok(n)
}

async fn connection(mut socket: TcpStream, peer: SocketAddr, gate: Gate) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut handshake = Handshake::new(PeerType::Server);
    let leftover = loop {
        let n = read_some(&mut socket, &mut buf).await?;
        if n == 0 {
            anyhow::bail!("closed during handshake");
        }
        match handshake
            .process_bytes(&buf[..n])
            .map_err(|e| anyhow::anyhow!("not an RTMP handshake: {e:?}"))?
        {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).await?
            }
            HandshakeProcessResult::Completed {
                response_bytes,
                remaining_bytes,
            } => {
                socket.write_all(&response_bytes).await?;
                break remaining_bytes;
            }
        }
    };
    let (mut session, initial) = ServerSession::new(ServerSessionConfig::new())
        .map_err(|e| anyhow::anyhow!("rtmp session: {e:?}"))?;
    let mut queue: std::collections::VecDeque<Output> = initial.into();
    queue.extend(
        session
            .handle_input(&leftover)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
    );
    let mut publishing: Option<Publishing> = None;
    let result = async {
        loop {
            while let Some(output) = queue.pop_front() {
                match output {
                    Output::OutboundResponse(packet) => socket.write_all(&packet.bytes).await?,
                    Output::UnhandleableMessageReceived(_) => {}
                    Output::RaisedEvent(event) => match event {
                        Event::ConnectionRequested { request_id, app_name } => {
                            if app_name != APP {
                                warn!(%peer, app_name, "rtmp connect to unknown application");
                                reject(&mut session, &mut socket, request_id, "NetConnection.Connect.Rejected", "unknown application; use /live/{stream_key}").await?;
                                anyhow::bail!("unknown application {app_name}");
                            }
                            queue.extend(session.accept_request(request_id).map_err(|e| anyhow::anyhow!("{e:?}"))?);
                        }
                        Event::ReleaseStreamRequested { request_id, .. } => {
                            queue.extend(session.accept_request(request_id).map_err(|e| anyhow::anyhow!("{e:?}"))?);
                        }
                        Event::PublishStreamRequested { request_id, stream_key, .. } => {
                            match gate.publish(&stream_key, Protocol::Rtmp, FLV_CAPS).await {
                                Ok(admitted) => {
                                    let (classroom, input) = (admitted.classroom_id, admitted.input);
                                    info!(%peer, %classroom, "rtmp publisher accepted");
                                    let _ = input.push_buffer(gst::Buffer::from_slice(flv::header()));
                                    publishing = Some(Publishing { input });
                                    queue.extend(session.accept_request(request_id).map_err(|e| anyhow::anyhow!("{e:?}"))?);
                                }
                                Err(e) => {
                                    // Never log the key itself: a near-miss may be a real key.
                                    warn!(%peer, "rtmp publish refused: {e}");
                                    metrics::counter!("classcast_publish_refused_total", "protocol" => "rtmp").increment(1);
                                    reject(&mut session, &mut socket, request_id, "NetStream.Publish.BadName", &e.to_string()).await?;
                                    anyhow::bail!("publish refused: {e}");
                                }
                            }
                        }
                        Event::VideoDataReceived { data, timestamp, .. } => {
                            push(&publishing, flv::tag(flv::TAG_VIDEO, timestamp.value, &data))?;
                        }
                        Event::AudioDataReceived { data, timestamp, .. } => {
                            push(&publishing, flv::tag(flv::TAG_AUDIO, timestamp.value, &data))?;
                        }
                        Event::PublishStreamFinished { .. } => return Ok(()),
                        _ => {}
                    },
                }
            }
            let n = read_some(&mut socket, &mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            queue.extend(session.handle_input(&buf[..n]).map_err(|e| anyhow::anyhow!("bad RTMP data: {e:?}"))?);
        }
    }
    .await;
    if let Some(publishing) = publishing {
        let _ = publishing.input.end_of_stream();
    }
    result
}

/// Hands one FLV tag to the classroom. Fails once the classroom dropped the
/// feed (key rotated, replaced), which ends the connection.
fn push(publishing: &Option<Publishing>, tag: bytes::Bytes) -> anyhow::Result<()> {
    let Some(publishing) = publishing else {
        return Ok(());
    };
    super::push_bytes(&publishing.input, tag)?;
    Ok(())
}

async fn reject(
    session: &mut ServerSession,
    socket: &mut TcpStream,
    request_id: u32,
    code: &str,
    description: &str,
) -> anyhow::Result<()> {
    for output in session
        .reject_request(request_id, code, description)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
    {
        if let Output::OutboundResponse(packet) = output {
            socket.write_all(&packet.bytes).await?;
        }
    }
    socket.flush().await?;
    Ok(())
}
