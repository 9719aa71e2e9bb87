//! Viewer capacity load generator: N receive-only WebRTC peers in one
//! process, each with its own UDP socket and str0m peer connection (ICE,
//! DTLS, SRTP keys, RTCP), none decoding anything. It subscribes them to
//! one stream, waits for media to settle, then over a steady window counts
//! every viewer's packets and sequence gaps and the server's CPU
//! (`/proc/PID/stat`) and, at the window's end, its RSS (`/proc/PID/status`),
//! and prints one result line.
//!
//!     cargo bench --bench webrtc_viewers -- whep URL N PID [options]
//!     cargo bench --bench webrtc_viewers -- janus URL MOUNTPOINT N PID [options]
//!
//! Options: `--bind IP` (the address peers' sockets bind to, default
//! 127.0.0.1), `--warmup S` (5), `--window S` (15), `--light` (count RTP
//! from its clear header instead of letting str0m unprotect it: no SRTP
//! decryption and no receiver feedback, for when the generator itself is
//! the bottleneck). `benches/webrtc_viewers.sh` starts classcast, Janus,
//! the webrtc-rs relay (benches/webrtc-rs-relay) and the shared source and
//! calls this for each step.
//!
//! Loss is counted per media kind: expected packets in the window are the
//! most any viewer saw its sequence numbers advance (all viewers get the
//! same stream), so a viewer the server dropped counts as losing all of
//! them, not as losing none.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, watch};

const VIDEO: usize = 0;
const AUDIO: usize = 1;
/// Signalling exchanges in flight at once while viewers join.
const JOINING_AT_ONCE: usize = 16;

#[derive(Clone)]
enum Target {
    Whep { url: String },
    Janus { url: String, mountpoint: u64 },
}

struct Args {
    target: Target,
    viewers: usize,
    pid: u32,
    bind: IpAddr,
    warmup: Duration,
    window: Duration,
    light: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: webrtc_viewers (whep URL | janus URL MOUNTPOINT) VIEWERS SERVER_PID \
         [--bind IP] [--warmup S] [--window S] [--light]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    // cargo bench passes `--bench`; it is not ours.
    let mut raw: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut option = |name: &str| -> Option<String> {
        let i = raw.iter().position(|a| a == name)?;
        raw.remove(i);
        (i < raw.len()).then(|| raw.remove(i))
    };
    let bind = option("--bind").map_or(IpAddr::from([127, 0, 0, 1]), |s| {
        s.parse().unwrap_or_else(|_| usage())
    });
    let secs = |s: Option<String>, default: u64| {
        Duration::from_secs(s.map_or(default, |s| s.parse().unwrap_or_else(|_| usage())))
    };
    let warmup = secs(option("--warmup"), 5);
    let window = secs(option("--window"), 15);
    let light = if let Some(i) = raw.iter().position(|a| a == "--light") {
        raw.remove(i);
        true
    } else {
        false
    };
    let num = |s: Option<&String>| {
        s.and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| usage())
    };
    let (target, rest) = match raw.first().map(String::as_str) {
        Some("whep") if raw.len() == 4 => (
            Target::Whep {
                url: raw[1].clone(),
            },
            &raw[2..],
        ),
        Some("janus") if raw.len() == 5 => (
            Target::Janus {
                url: raw[1].clone(),
                mountpoint: num(raw.get(2)),
            },
            &raw[3..],
        ),
        _ => usage(),
    };
    Args {
        target,
        viewers: num(rest.first()) as usize,
        pid: num(rest.get(1)) as u32,
        bind,
        warmup,
        window,
        light,
    }
}

/// What one viewer has received, per media kind, shared with the reporter.
#[derive(Default)]
struct Counts {
    connected: AtomicBool,
    gone: AtomicBool,
    received: [AtomicU64; 2],
    bytes: [AtomicU64; 2],
    /// Highest extended sequence number seen (0: none yet).
    highest: [AtomicU64; 2],
}

/// Sequence tracking for the first SSRC seen of each kind; packets of that
/// kind on other SSRCs (retransmission streams) are not counted.
struct Tracks {
    kinds: Vec<(u8, usize)>,
    ssrc: [Option<u32>; 2],
    ext: [u64; 2],
}

impl Tracks {
    fn new(sdp: &str) -> Self {
        Self {
            kinds: payload_kinds(sdp),
            ssrc: [None; 2],
            ext: [0; 2],
        }
    }

    fn count(&mut self, counts: &Counts, pt: u8, ssrc: u32, seq: u16, len: usize) {
        let Some(&(_, kind)) = self.kinds.iter().find(|(p, _)| *p == pt) else {
            return;
        };
        match self.ssrc[kind] {
            None => {
                self.ssrc[kind] = Some(ssrc);
                self.ext[kind] = (1 << 20) + u64::from(seq);
            }
            Some(s) if s != ssrc => return,
            Some(_) => {
                let last = self.ext[kind];
                let delta = seq.wrapping_sub(last as u16) as i16;
                if delta > 0 {
                    self.ext[kind] = last + delta as u64;
                }
            }
        }
        counts.received[kind].fetch_add(1, Ordering::Relaxed);
        counts.bytes[kind].fetch_add(len as u64, Ordering::Relaxed);
        counts.highest[kind].store(self.ext[kind], Ordering::Relaxed);
    }
}

/// Payload type to media kind, from the m= lines of the negotiated SDP.
fn payload_kinds(sdp: &str) -> Vec<(u8, usize)> {
    let mut kinds = Vec::new();
    for line in sdp.lines().filter_map(|l| l.strip_prefix("m=")) {
        let mut words = line.split_whitespace();
        let kind = match words.next() {
            Some("video") => VIDEO,
            Some("audio") => AUDIO,
            _ => continue,
        };
        for pt in words.skip(2).filter_map(|w| w.parse::<u8>().ok()) {
            kinds.push((pt, kind));
        }
    }
    kinds
}

fn client_config() -> Rtc {
    let mut config = RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false);
    // Constrained baseline, packetization-mode 1, as the brief's viewers offer.
    config
        .codec_config()
        .add_h264(108.into(), Some(109.into()), true, 0x42e01f);
    config.build(Instant::now())
}

/// A signalled peer connection, ready to run.
struct Peer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    tracks: Tracks,
    /// How to end the session: a WHEP resource or a Janus session URL.
    hangup: Hangup,
}

enum Hangup {
    Delete(String),
    JanusDestroy(String),
}

async fn bind(ip: IpAddr) -> anyhow::Result<(UdpSocket, SocketAddr, Candidate)> {
    let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
    let local = socket.local_addr()?;
    let candidate = Candidate::host(local, "udp")?;
    Ok((socket, local, candidate))
}

async fn join_whep(http: &reqwest::Client, url: &str, ip: IpAddr) -> anyhow::Result<Peer> {
    let (socket, local, candidate) = bind(ip).await?;
    let mut rtc = client_config();
    rtc.add_local_candidate(candidate);
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
    api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    // Two media were added: there is a change to offer.
    let (offer, pending) = api.apply().expect("an offer");
    let response = http
        .post(url)
        .header("content-type", "application/sdp")
        .body(offer.to_sdp_string())
        .send()
        .await?;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let body = response.text().await?;
    anyhow::ensure!(status.as_u16() == 201, "WHEP answered {status}: {body}");
    let location = location.ok_or_else(|| anyhow::anyhow!("no Location"))?;
    let resource = reqwest::Url::parse(url)?.join(&location)?.to_string();
    rtc.sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&body)?)?;
    Ok(Peer {
        rtc,
        socket,
        local,
        tracks: Tracks::new(&body),
        hangup: Hangup::Delete(resource),
    })
}

async fn janus(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Value> {
    let mut body = body;
    body["transaction"] = json!(format!("{:x}", rand_u64()));
    let reply: Value = http.post(url).json(&body).send().await?.json().await?;
    anyhow::ensure!(
        reply["janus"] != "error",
        "Janus refused {}: {reply}",
        body["janus"]
    );
    Ok(reply)
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

async fn join_janus(
    http: &reqwest::Client,
    base: &str,
    mountpoint: u64,
    ip: IpAddr,
) -> anyhow::Result<Peer> {
    let session = janus(http, base, json!({"janus": "create"})).await?["data"]["id"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no session id"))?;
    let session_url = format!("{base}/{session}");
    let handle = janus(
        http,
        &session_url,
        json!({"janus": "attach", "plugin": "janus.plugin.streaming"}),
    )
    .await?["data"]["id"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no handle id"))?;
    let handle_url = format!("{session_url}/{handle}");
    janus(
        http,
        &handle_url,
        json!({"janus": "message", "body": {"request": "watch", "id": mountpoint}}),
    )
    .await?;
    // The offer comes as an event on the session's long poll.
    let deadline = Instant::now() + Duration::from_secs(30);
    let offer = loop {
        anyhow::ensure!(Instant::now() < deadline, "no offer from Janus");
        let events: Value = http
            .get(format!("{session_url}?maxev=10&rid={}", rand_u64()))
            .send()
            .await?
            .json()
            .await?;
        let events = if events.is_array() {
            events.as_array().cloned().unwrap_or_default()
        } else {
            vec![events]
        };
        if let Some(sdp) = events
            .iter()
            .find_map(|e| e["jsep"]["sdp"].as_str().map(str::to_string))
        {
            break sdp;
        }
    };
    let (socket, local, candidate) = bind(ip).await?;
    let mut rtc = client_config();
    rtc.add_local_candidate(candidate);
    let answer = rtc
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(&offer)?)?;
    janus(
        http,
        &handle_url,
        json!({"janus": "message", "body": {"request": "start"},
               "jsep": {"type": "answer", "sdp": answer.to_sdp_string()}}),
    )
    .await?;
    janus(
        http,
        &handle_url,
        json!({"janus": "trickle", "candidate": {"completed": true}}),
    )
    .await?;
    Ok(Peer {
        rtc,
        socket,
        local,
        tracks: Tracks::new(&offer),
        hangup: Hangup::JanusDestroy(session_url),
    })
}

/// RTP (not RTCP) by RFC 5761's payload-type rule: (pt, ssrc, seq).
fn rtp_header(data: &[u8]) -> Option<(u8, u32, u16)> {
    if data.len() < 12 || data[0] >> 6 != 2 {
        return None;
    }
    let pt = data[1] & 0x7f;
    if (64..=95).contains(&pt) {
        return None;
    }
    let seq = u16::from_be_bytes([data[2], data[3]]);
    let ssrc = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
    Some((pt, ssrc, seq))
}

/// Runs one peer until told to stop or its connection ends.
async fn run_peer(
    mut peer: Peer,
    counts: Arc<Counts>,
    light: bool,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 2048];
    loop {
        let next = loop {
            match peer.rtc.poll_output() {
                Ok(Output::Transmit(t)) => {
                    let _ = peer.socket.try_send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(event)) => match event {
                    Event::Connected => counts.connected.store(true, Ordering::Relaxed),
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        counts.gone.store(true, Ordering::Relaxed);
                        return;
                    }
                    Event::RtpPacket(p) => peer.tracks.count(
                        &counts,
                        *p.header.payload_type,
                        *p.header.ssrc,
                        p.header.sequence_number,
                        p.payload.len(),
                    ),
                    _ => {}
                },
                Ok(Output::Timeout(at)) => break at,
                Err(_) => {
                    counts.gone.store(true, Ordering::Relaxed);
                    return;
                }
            }
        };
        tokio::select! {
            received = peer.socket.recv_from(&mut buf) => {
                let Ok((n, source)) = received else { continue };
                let data = &buf[..n];
                if light && counts.connected.load(Ordering::Relaxed)
                    && let Some((pt, ssrc, seq)) = rtp_header(data)
                {
                    peer.tracks.count(&counts, pt, ssrc, seq, n);
                    continue;
                }
                let Ok(contents) = data.try_into() else { continue };
                let input = Input::Receive(Instant::now(), Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: peer.local,
                    contents,
                });
                let _ = peer.rtc.handle_input(input);
            }
            _ = tokio::time::sleep_until(next.into()) => {
                let _ = peer.rtc.handle_input(Input::Timeout(Instant::now()));
            }
            _ = stop.changed() => return,
        }
    }
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name is in brackets and may hold spaces: count after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat; 0-based 11 and 12 after the name.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident set size of a process, in MiB (`VmRSS` of `/proc/PID/status`).
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The kernel's UDP counters: (RcvbufErrors, SndbufErrors).
fn udp_errors() -> (u64, u64) {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return (0, 0);
    };
    let field = |name: &str| {
        names
            .split_whitespace()
            .position(|n| n == name)
            .and_then(|i| values.split_whitespace().nth(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("RcvbufErrors"), field("SndbufErrors"))
}

struct Snapshot {
    at: Instant,
    server_cpu: f64,
    own_cpu: f64,
    udp: (u64, u64),
    per_peer: Vec<[(u64, u64, u64); 2]>,
}

fn snapshot(pid: u32, all: &[Arc<Counts>]) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        server_cpu: cpu_seconds(pid),
        own_cpu: cpu_seconds(std::process::id()),
        udp: udp_errors(),
        per_peer: all
            .iter()
            .map(|c| {
                [VIDEO, AUDIO].map(|k| {
                    (
                        c.received[k].load(Ordering::Relaxed),
                        c.highest[k].load(Ordering::Relaxed),
                        c.bytes[k].load(Ordering::Relaxed),
                    )
                })
            })
            .collect(),
    }
}

fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

fn main() -> anyhow::Result<()> {
    let args = parse_args();
    raise_fd_limit();
    str0m::crypto::from_feature_flags().install_process_default();
    // Two workers: the machine has two cores, shared with the server.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let (stop_tx, stop) = watch::channel(false);
    let joining = Arc::new(Semaphore::new(JOINING_AT_ONCE));
    let started = Instant::now();
    let mut joins = Vec::new();
    for _ in 0..args.viewers {
        let (http, target, joining, stop) = (
            http.clone(),
            args.target.clone(),
            joining.clone(),
            stop.clone(),
        );
        let (ip, light) = (args.bind, args.light);
        joins.push(tokio::spawn(async move {
            let peer = {
                // The semaphore is never closed.
                let _permit = joining.acquire().await.expect("semaphore open");
                match &target {
                    Target::Whep { url } => join_whep(&http, url, ip).await,
                    Target::Janus { url, mountpoint } => {
                        join_janus(&http, url, *mountpoint, ip).await
                    }
                }
            };
            let peer = peer?;
            let counts = Arc::new(Counts::default());
            let hangup = match &peer.hangup {
                Hangup::Delete(u) => Hangup::Delete(u.clone()),
                Hangup::JanusDestroy(u) => Hangup::JanusDestroy(u.clone()),
            };
            let task = tokio::spawn(run_peer(peer, counts.clone(), light, stop));
            anyhow::Ok((counts, hangup, task))
        }));
    }
    let mut peers = Vec::new();
    let mut failures = Vec::new();
    for join in joins {
        match join.await? {
            Ok(peer) => peers.push(peer),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let signalled = started.elapsed();
    if let Some(first) = failures.first() {
        eprintln!("{} joins failed; first: {first}", failures.len());
    }
    tokio::time::sleep(args.warmup).await;
    let all: Vec<Arc<Counts>> = peers.iter().map(|(c, _, _)| c.clone()).collect();
    let connected = all
        .iter()
        .filter(|c| c.connected.load(Ordering::Relaxed))
        .count();
    let before = snapshot(args.pid, &all);
    tokio::time::sleep(args.window).await;
    let after = snapshot(args.pid, &all);
    let server_rss = rss_mib(args.pid);
    let gone = all
        .iter()
        .filter(|c| c.gone.load(Ordering::Relaxed))
        .count();

    let seconds = after.at.duration_since(before.at).as_secs_f64();
    let mut expected = [0u64; 2];
    let mut received = [0u64; 2];
    let mut bytes = [0u64; 2];
    for (b, a) in before.per_peer.iter().zip(&after.per_peer) {
        for k in [VIDEO, AUDIO] {
            received[k] += a[k].0 - b[k].0;
            bytes[k] += a[k].2 - b[k].2;
            // Before any packet of a kind, highest is 0: no advance to count.
            if b[k].1 > 0 {
                expected[k] = expected[k].max(a[k].1 - b[k].1);
            }
        }
    }
    let n = args.viewers as f64;
    let want: f64 = expected.iter().map(|&e| e as f64 * n).sum();
    let got: f64 = received.iter().map(|&r| r as f64).sum();
    let loss = if want > 0.0 {
        (1.0 - got / want).max(0.0) * 100.0
    } else {
        100.0
    };
    let server_cpu = (after.server_cpu - before.server_cpu) / seconds * 100.0;
    let own_cpu = (after.own_cpu - before.own_cpu) / seconds * 100.0;
    let per_viewer_kbps = (bytes[VIDEO] + bytes[AUDIO]) as f64 * 8.0 / seconds / 1000.0 / n;
    let pps = (expected[VIDEO] + expected[AUDIO]) as f64 / seconds;
    println!(
        "RESULT viewers={} joined={} connected={} gone={} signalling_s={:.1} \
         server_cpu_pct={:.1} server_rss_mib={:.0} generator_cpu_pct={:.1} loss_pct={:.3} \
         video_loss_pct={:.3} audio_loss_pct={:.3} kbps_per_viewer={:.0} pkts_per_s={:.0} \
         udp_rcvbuf_errors={} udp_sndbuf_errors={}",
        args.viewers,
        peers.len(),
        connected,
        gone,
        signalled.as_secs_f64(),
        server_cpu,
        server_rss,
        own_cpu,
        loss,
        kind_loss(expected[VIDEO], received[VIDEO], n),
        kind_loss(expected[AUDIO], received[AUDIO], n),
        per_viewer_kbps,
        pps,
        after.udp.0 - before.udp.0,
        after.udp.1 - before.udp.1,
    );

    // Hang up, so the server is empty for the next step.
    let _ = stop_tx.send(true);
    let hangups = peers.into_iter().map(|(_, hangup, task)| {
        let http = http.clone();
        let joining = joining.clone();
        async move {
            let _ = task.await;
            let _permit = joining.acquire().await.expect("semaphore open");
            let _ = match hangup {
                Hangup::Delete(url) => http.delete(url).send().await.map(drop),
                Hangup::JanusDestroy(url) => {
                    janus(&http, &url, json!({"janus": "destroy"}))
                        .await
                        .map(drop)
                        .map_err(|_| ())
                        .ok();
                    Ok(())
                }
            };
        }
    });
    let hangups: Vec<_> = hangups.map(tokio::spawn).collect();
    for h in hangups {
        let _ = h.await;
    }
    Ok(())
}

fn kind_loss(expected: u64, received: u64, n: f64) -> f64 {
    let want = expected as f64 * n;
    if want > 0.0 {
        (1.0 - received as f64 / want).max(0.0) * 100.0
    } else {
        100.0
    }
}
