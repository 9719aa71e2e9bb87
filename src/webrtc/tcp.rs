//! ICE over TCP (RFC 6544) on one listener, for school networks that
//! block UDP. Each connection carries RFC 4571 frames (a two-byte length,
//! then one STUN, DTLS or SRTP packet); a connection task turns them into
//! events for the hub, and writes back, framed, what the hub sends that
//! peer. The hub stays the only owner of peer state.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Packets waiting to be written to one peer; beyond, packets are dropped
/// (as a full UDP buffer would), never queued without bound.
const WRITE_QUEUE: usize = 512;
/// A connection must speak (its first STUN check) within this long.
const FIRST_FRAME: Duration = Duration::from_secs(3);
/// No WebRTC packet is larger; a bigger frame is garbage.
const MAX_FRAME: usize = 4096;
/// Connections at once; beyond, new ones are closed at once.
const MAX_CONNECTIONS: usize = 4096;

#[derive(Debug)]
pub enum TcpEvent {
    Opened {
        peer: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    Frame {
        peer: SocketAddr,
        data: Vec<u8>,
    },
    Closed {
        peer: SocketAddr,
    },
}

pub async fn serve(listener: TcpListener, events: mpsc::Sender<TcpEvent>) {
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("ICE-TCP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        use std::sync::atomic::Ordering;
        if open.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::Relaxed);
            metrics::counter!("classcast_webrtc_tcp_refused_total").increment(1);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let events = events.clone();
        let open = open.clone();
        tokio::spawn(async move {
            connection(stream, peer, &events).await;
            let _ = events.send(TcpEvent::Closed { peer }).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    events: &mpsc::Sender<TcpEvent>,
) {
    let (mut read, mut write) = stream.into_split();
    let (writer, mut outgoing) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    if events
        .send(TcpEvent::Opened { peer, writer })
        .await
        .is_err()
    {
        return;
    }
    let reading = async {
        let mut first = true;
        loop {
            let frame = read_frame(&mut read);
            let frame = if first {
                match tokio::time::timeout(FIRST_FRAME, frame).await {
                    Ok(frame) => frame,
                    Err(_) => return,
                }
            } else {
                frame.await
            };
            let Some(data) = frame else {
                return;
            };
            first = false;
            if events.send(TcpEvent::Frame { peer, data }).await.is_err() {
                return;
            }
        }
    };
    let writing = async {
        // Ends when the hub drops the writer: the peer is gone or unknown.
        while let Some(packet) = outgoing.recv().await {
            let Ok(len) = u16::try_from(packet.len()) else {
                continue;
            };
            let mut framed = Vec::with_capacity(packet.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&packet);
            if write.write_all(&framed).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = reading => {}
        _ = writing => {}
    }
}

/// One RFC 4571 frame; None at the end of the stream or on garbage.
async fn read_frame(read: &mut tokio::net::tcp::OwnedReadHalf) -> Option<Vec<u8>> {
    let len = usize::from(read.read_u16().await.ok()?);
    if len == 0 || len > MAX_FRAME {
        metrics::counter!("classcast_webrtc_datagrams_dropped_total").increment(1);
        return None;
    }
    let mut data = vec![0u8; len];
    read.read_exact(&mut data).await.ok()?;
    Some(data)
}
