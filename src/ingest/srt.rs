//! SRT listener for pushed feeds: `srt://HOST:8890?streamid=publish:{key}`
//! (or the standard `#!::r={key},m=publish`). Callers are accepted or
//! rejected by stream id before any media flows; each accepted caller's
//! MPEG-TS goes to its classroom's ingest.

use std::time::Duration;

use futures::StreamExt;
use srt_tokio::SrtListener;
use srt_tokio::access::{
    AccessControlList, ConnectionMode, RejectReason, ServerRejectReason, StandardAccessControlEntry,
};
use tracing::{info, warn};

use super::gate::{Gate, Protocol, Refusal};
use super::pipeline::MPEGTS_CAPS;

/// Extracts the stream key from a publishing caller's stream id.
pub fn publish_key(stream_id: &str) -> Option<String> {
    if let Ok(acl) = stream_id.parse::<AccessControlList>() {
        let (mut resource, mut publish) = (None, false);
        for entry in acl.0 {
            match StandardAccessControlEntry::try_from(entry) {
                Ok(StandardAccessControlEntry::ResourceName(name)) => resource = Some(name),
                Ok(StandardAccessControlEntry::Mode(mode)) => {
                    publish = mode == ConnectionMode::Publish
                }
                _ => {}
            }
        }
        return resource.filter(|_| publish);
    }
    stream_id.strip_prefix("publish:").map(str::to_owned)
}

pub async fn bind(
    addr: std::net::SocketAddr,
) -> std::io::Result<(SrtListener, srt_tokio::SrtIncoming)> {
    SrtListener::builder()
        .latency(Duration::from_millis(200))
        .bind(addr)
        .await
}

pub async fn serve(listener: SrtListener, mut incoming: srt_tokio::SrtIncoming, gate: Gate) {
    // The listener must live as long as we accept: dropping it stops the socket.
    let _listener = listener;
    while let Some(request) = incoming.incoming().next().await {
        let gate = gate.clone();
        tokio::spawn(async move {
            let peer = request.remote();
            let key = request.stream_id().and_then(|id| publish_key(id.as_str()));
            let Some(key) = key else {
                warn!(%peer, "srt caller without a publish stream id refused");
                let _ = request
                    .reject(RejectReason::Server(ServerRejectReason::BadRequest))
                    .await;
                return;
            };
            let (classroom, input) = match gate.publish(&key, Protocol::Srt, MPEGTS_CAPS).await {
                Ok(admitted) => (admitted.classroom_id, admitted.input),
                Err(e) => {
                    warn!(%peer, "srt publish refused: {e}");
                    metrics::counter!("classcast_publish_refused_total", "protocol" => "srt")
                        .increment(1);
                    let reason = match e {
                        Refusal::UnknownKey | Refusal::WrongProtocol(_) | Refusal::Disabled => {
                            ServerRejectReason::Forbidden
                        }
                        Refusal::Busy => ServerRejectReason::Conflict,
                        Refusal::Pipeline(_) => ServerRejectReason::InternalServerError,
                        Refusal::Unavailable => ServerRejectReason::Down,
                    };
                    let _ = request.reject(RejectReason::Server(reason)).await;
                    return;
                }
            };
            let mut socket = match request.accept(None).await {
                Ok(socket) => socket,
                Err(e) => {
                    warn!(%peer, "srt accept failed: {e}");
                    let _ = input.end_of_stream();
                    return;
                }
            };
            info!(%peer, %classroom, "srt publisher accepted");
            while let Some(Ok((_, bytes))) = socket.next().await {
                if let Err(e) = super::push_bytes(&input, bytes) {
                    info!(%peer, "srt feed ended: {e}");
                    break;
                }
            }
            let _ = input.end_of_stream();
            info!(%peer, %classroom, "srt publisher gone");
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_stream_id_styles_give_the_key() {
        assert_eq!(publish_key("publish:abc123").as_deref(), Some("abc123"));
        assert_eq!(
            publish_key("#!::r=abc123,m=publish").as_deref(),
            Some("abc123")
        );
        assert_eq!(publish_key("#!::r=abc123,m=request"), None);
        assert_eq!(publish_key("read:abc123"), None);
    }
}
