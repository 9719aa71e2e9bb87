//! The ingest gate: where a listener's publish request becomes an answer.
//!
//! A listener (RTMP, SRT, and WHIP next) sends a [`PublishRequest`] over a
//! bounded channel and awaits the reply: an appsrc to push the feed into,
//! or a [`Refusal`] it can tell the encoder. Who answers (the live registry,
//! which knows the stream keys and classrooms) is not the listener's
//! business, so listeners import neither `live` nor `catalog`.

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// Room for bursts of reconnecting encoders; the answering side never waits.
const GATE_QUEUE: usize = 256;

/// How a feed arrives; a source accepts exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Rtmp,
    Srt,
    Whip,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Rtmp => "rtmp",
            Protocol::Srt => "srt",
            Protocol::Whip => "whip",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown stream key")]
    UnknownKey,
    #[error("source is disabled")]
    Disabled,
    #[error("source kind does not accept {}", .0.name())]
    WrongProtocol(Protocol),
    #[error("another feed is already live in this classroom")]
    Busy,
    #[error("cannot start ingest: {0}")]
    Pipeline(String),
    /// The server is shutting down, or the classroom is being removed.
    #[error("the classroom is not available")]
    Unavailable,
}

/// A publisher that was let in.
#[derive(Debug)]
pub struct Admitted {
    pub classroom_id: Uuid,
    /// Where the feed's bytes go (FLV or MPEG-TS, as the request's caps
    /// say), or a WHIP feed's H.264 access units.
    pub input: gstreamer_app::AppSrc,
    /// A WHIP feed's Opus packets.
    pub input_audio: Option<gstreamer_app::AppSrc>,
}

#[derive(Debug)]
pub struct PublishRequest {
    pub stream_key: String,
    pub protocol: Protocol,
    /// Caps of the bytes the listener will push (`video/x-flv`, MPEG-TS).
    pub caps: &'static str,
    pub reply: oneshot::Sender<Result<Admitted, Refusal>>,
}

/// The listeners' side of the gate: cheap to clone.
#[derive(Clone)]
pub struct Gate {
    tx: mpsc::Sender<PublishRequest>,
}

/// Makes the gate and the receiver its answering side reads.
pub fn channel() -> (Gate, mpsc::Receiver<PublishRequest>) {
    let (tx, rx) = mpsc::channel(GATE_QUEUE);
    (Gate { tx }, rx)
}

impl Gate {
    /// Asks to publish with `stream_key`. Never logs the key: a near-miss
    /// may be somebody's real key.
    pub async fn publish(
        &self,
        stream_key: &str,
        protocol: Protocol,
        caps: &'static str,
    ) -> Result<Admitted, Refusal> {
        let (reply, answer) = oneshot::channel();
        let request = PublishRequest {
            stream_key: stream_key.to_string(),
            protocol,
            caps,
            reply,
        };
        if self.tx.try_send(request).is_err() {
            metrics::counter!("classcast_channel_dropped_total", "channel" => "gate").increment(1);
            return Err(Refusal::Unavailable);
        }
        answer.await.unwrap_or(Err(Refusal::Unavailable))
    }
}
