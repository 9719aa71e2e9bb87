//! The HTTP listener: HTTP/1.1 served with hyper directly, because
//! `axum::serve` has none of the three limits a public server needs.
//!
//! - A header-read timeout: a client has `header_read_timeout` to send a
//!   complete request head after connecting or after its previous response
//!   (hyper runs one timer for both, so it is also the keep-alive idle
//!   limit). Clients that trickle headers, or connect and say nothing, are
//!   closed instead of holding a connection forever.
//! - A connection cap that keeps serving real clients: at the cap, the
//!   oldest connection that is not in the middle of a request (idle, or
//!   still sending its head) is closed to make room. A flood of half-open
//!   connections therefore pushes out its own kind, while a client that
//!   sends a request at once is served. Only when every connection is busy
//!   is a new one refused.
//! - A clean stop: on shutdown, connections finish their current request.
//!
//! The accept loop alone owns the table of connections; each connection's
//! task reports its end on a channel, and counts its requests in flight in
//! an atomic the loop reads when choosing whom to close.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tower::ServiceExt as _;

/// How long a stopping server waits for connections to finish.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// A connection as the accept loop sees it.
struct Slot {
    opened: Instant,
    in_flight: Arc<AtomicUsize>,
    close: oneshot::Sender<()>,
}

/// Whom to close for a newcomer when full: the oldest connection with no
/// request in flight. None when every one is busy.
pub fn evictee(slots: impl Iterator<Item = (u64, Instant, usize)>) -> Option<u64> {
    slots
        .filter(|(_, _, in_flight)| *in_flight == 0)
        .min_by_key(|(id, opened, _)| (*opened, *id))
        .map(|(id, _, _)| id)
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let max = limits.max_connections.max(1);
    let (closed_tx, mut closed_rx) = mpsc::channel::<u64>(2 * max);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut slots: HashMap<u64, Slot> = HashMap::new();
    let mut next_id: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(id) = closed_rx.recv() => {
                slots.remove(&id);
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, or a connection reset
                        // before accept: pause rather than spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if slots.len() >= max {
                    let candidates = slots
                        .iter()
                        .map(|(id, s)| (*id, s.opened, s.in_flight.load(Ordering::Relaxed)));
                    match evictee(candidates) {
                        Some(id) => {
                            if let Some(slot) = slots.remove(&id) {
                                let _ = slot.close.send(());
                            }
                            metrics::counter!("classcast_http_connections_evicted_total")
                                .increment(1);
                        }
                        None => {
                            metrics::counter!("classcast_http_connections_refused_total")
                                .increment(1);
                            drop(stream);
                            continue;
                        }
                    }
                }
                let _ = stream.set_nodelay(true);
                let id = next_id;
                next_id += 1;
                let in_flight = Arc::new(AtomicUsize::new(0));
                let (close, closed) = oneshot::channel();
                slots.insert(
                    id,
                    Slot {
                        opened: Instant::now(),
                        in_flight: in_flight.clone(),
                        close,
                    },
                );
                let connection = Connection {
                    app: app.clone(),
                    peer,
                    in_flight,
                    header_read_timeout: limits.header_read_timeout,
                };
                let (done, stop) = (closed_tx.clone(), stop_rx.clone());
                tokio::spawn(async move {
                    connection.run(stream, closed, stop).await;
                    let _ = done.send(id).await;
                });
                metrics::gauge!("classcast_http_connections").set(slots.len() as f64);
            }
        }
    }
    // Stop accepting; let every connection finish what it is doing.
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + DRAIN;
    while !slots.is_empty() {
        match tokio::time::timeout_at(deadline, closed_rx.recv()).await {
            Ok(Some(id)) => {
                slots.remove(&id);
            }
            _ => break,
        }
    }
}

struct Connection {
    app: Router,
    peer: SocketAddr,
    in_flight: Arc<AtomicUsize>,
    header_read_timeout: Duration,
}

/// Counts a request in flight until its response body is dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connection {
    async fn run(
        self,
        stream: tokio::net::TcpStream,
        mut evicted: oneshot::Receiver<()>,
        mut stop: watch::Receiver<bool>,
    ) {
        let Connection {
            app,
            peer,
            in_flight,
            header_read_timeout,
        } = self;
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            let app = app.clone();
            let busy = InFlight::new(in_flight.clone());
            // Handlers read the peer address as axum's `ConnectInfo`.
            request.extensions_mut().insert(ConnectInfo(peer));
            async move {
                let response = app.oneshot(request).await?;
                // The request stays in flight while its body streams out.
                Ok::<_, Infallible>(response.map(|body| {
                    axum::body::Body::new(body.map_frame(move |frame| {
                        let _ = &busy;
                        frame
                    }))
                }))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .keep_alive(true);
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => break,
                // Closed to make room: dropping the connection closes it.
                _ = &mut evicted => break,
                changed = stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_connection_without_a_request_makes_room() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        // 1 is oldest but busy; 2 and 3 idle: 2 goes.
        let slots = vec![(1, at(0), 1), (2, at(1), 0), (3, at(2), 0)];
        assert_eq!(evictee(slots.into_iter()), Some(2));
        // Everyone busy: nobody is closed, the newcomer is refused.
        let busy = vec![(1, at(0), 1), (2, at(1), 3)];
        assert_eq!(evictee(busy.into_iter()), None);
        assert_eq!(evictee(std::iter::empty()), None);
    }
}
