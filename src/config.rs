//! Typed configuration: one struct, every key with a documented default.
//!
//! Read from an optional TOML file, then overridden by environment variables
//! (`CLASSCAST_SECTION__KEY`, and `DATABASE_URL` for the database). Every key
//! is shown with its default in `classcast.example.toml`; keep the two in step.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod library;
pub use library::{JobsConfig, LibraryConfig, StorageConfig, StorageKind, UploadsConfig};

pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_RTMP_ADDR: &str = "127.0.0.1:1935";
pub const DEFAULT_SRT_ADDR: &str = "127.0.0.1:8890";
pub const DEFAULT_DATABASE_URL: &str = "postgres://classcast:classcast@127.0.0.1:5432/classcast";
pub const DEFAULT_MEDIA_DIR: &str = "./data/media";
pub const DEFAULT_WEB_DIR: &str = "./web/dist";
pub const DEFAULT_SEGMENT_SECONDS: u64 = 2;
pub const DEFAULT_LIVE_PLAYLIST_SEGMENTS: usize = 6;
pub const DEFAULT_GRACE_SECONDS: u64 = 30;
pub const DEFAULT_RECONNECT_MAX_SECONDS: u64 = 10;
pub const DEFAULT_SIGNAL_TIMEOUT_SECONDS: u64 = 3;
pub const DEFAULT_DEMO_RECORDING_WINDOW_SECONDS: u64 = 600;
pub const DEFAULT_X264_PRESET: &str = "veryfast";
pub const DEFAULT_SESSION_HOURS: u64 = 12;
pub const DEFAULT_MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const DEFAULT_MAX_FAILURES_PER_ADDRESS: i64 = 30;
pub const DEFAULT_FAILURE_WINDOW_MINUTES: i64 = 15;
/// Playback tokens are short-lived: the player asks for a fresh one while
/// access lasts, so a viewer whose access ends is cut off within minutes
/// even before the revocation list reaches a node.
pub const DEFAULT_PLAYBACK_TTL_SECONDS: i64 = 5 * 60;
/// Every node rereads the revocation list this often, besides hearing of
/// each change at once (LISTEN/NOTIFY): a missed notification is healed here.
pub const DEFAULT_REVOCATION_RELOAD_SECONDS: u64 = 5;
/// Password hashes (argon2id, 19 MiB and ~20 ms each) allowed at once; 0
/// means one per CPU core.
pub const DEFAULT_MAX_PARALLEL_HASHES: usize = 0;
/// How long a sign-in waits for a free hashing slot before it is told the
/// server is busy (503, Retry-After).
pub const DEFAULT_HASH_WAIT_MS: u64 = 2_000;
/// A client must send a complete request head within this time of
/// connecting or of its previous response; a kept-alive connection idle for
/// as long is closed too (hyper counts both with one timer).
pub const DEFAULT_HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
/// Connections open at once. At the cap, the oldest connection that is not
/// in the middle of a request (idle, or still sending its head) makes room.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Request bodies larger than this are refused with 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_MAX_DB_CONNECTIONS: u32 = 10;
/// How long a request waits for a database connection before it is
/// answered 503: during a database outage the API fails fast.
pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 1_500;
/// Every WebRTC peer's media on one UDP port (ICE multiplexing), so a
/// school firewall needs one rule.
pub const DEFAULT_WEBRTC_UDP_ADDR: &str = "127.0.0.1:8189";
/// And the same port over TCP, for school firewalls that block UDP.
pub const DEFAULT_WEBRTC_TCP_ADDR: &str = "127.0.0.1:8189";
/// WebRTC viewers served at once by this node; beyond, WHEP answers 503.
pub const DEFAULT_MAX_WEBRTC_VIEWERS: usize = 1000;
/// `classcast serve` runs a job worker itself, one job at a time: a
/// transcode takes both cores of a small server.
pub const DEFAULT_JOBS_IN_PROCESS: bool = true;
pub const DEFAULT_JOB_CONCURRENCY: usize = 1;
/// A worker holds a job this long without a heartbeat (it sends one every
/// third of it); a worker that died is replaced after at most this.
pub const DEFAULT_JOB_LEASE_SECONDS: u64 = 30;
pub const DEFAULT_JOB_POLL_MS: u64 = 1_000;
pub const DEFAULT_JOB_MAX_ATTEMPTS: i32 = 3;
/// A failed attempt is retried after 30 s, then 60 s, 120 s, … at most 10 min.
pub const DEFAULT_JOB_RETRY_BASE_SECONDS: u64 = 30;
pub const DEFAULT_JOB_RETRY_MAX_SECONDS: u64 = 600;
/// Media objects (uploads, later processed lessons) in a local directory
/// unless object storage is chosen.
pub const DEFAULT_STORAGE_KIND: StorageKind = StorageKind::Local;
pub const DEFAULT_S3_REGION: &str = "us-east-1";
/// The largest upload accepted: a long lesson in 1080p.
pub const DEFAULT_UPLOAD_MAX_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Unfinished uploads one person may have at once.
pub const DEFAULT_UPLOADS_PER_USER: i64 = 3;
/// An unfinished upload nobody added to for this long is deleted.
pub const DEFAULT_UPLOAD_EXPIRY_SECONDS: u64 = 24 * 3600;
/// How often abandoned uploads are looked for.
pub const DEFAULT_UPLOAD_CLEANUP_SECONDS: u64 = 300;
/// The largest lesson attachment (task sheet, slides, exercises): a slide
/// deck full of photos, not a video.
pub const DEFAULT_ATTACHMENT_MAX_BYTES: u64 = 50 * 1024 * 1024;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub ingest: IngestConfig,
    pub live: LiveConfig,
    pub media: MediaConfig,
    pub demo: DemoConfig,
    pub auth: AuthConfig,
    pub sso: SsoConfig,
    pub webrtc: WebRtcConfig,
    pub jobs: JobsConfig,
    pub storage: StorageConfig,
    pub uploads: UploadsConfig,
    pub library: LibraryConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct WebRtcConfig {
    /// The one UDP socket all WebRTC media goes through. Port 0 picks a
    /// free port (tests).
    pub udp_addr: SocketAddr,
    /// ICE over TCP (RFC 6544) for networks that block UDP: one listener
    /// for every peer. Port 0 picks a free port (tests).
    pub tcp_addr: SocketAddr,
    /// Addresses browsers reach that socket by, when it is not the bound
    /// address (public IPs or host names behind 1:1 NAT). Empty: the bound
    /// address, or every interface's address when bound to 0.0.0.0.
    pub announce: Vec<String>,
    /// STUN/TURN servers handed to browsers in WHEP/WHIP `Link` headers,
    /// e.g. "stun:stun.school.edu.cn:3478".
    pub ice_servers: Vec<String>,
    /// WebRTC viewers at once; beyond, new viewers get 503.
    pub max_viewers: usize,
}

impl Default for WebRtcConfig {
    fn default() -> Self {
        Self {
            udp_addr: DEFAULT_WEBRTC_UDP_ADDR.parse().expect("valid default"),
            tcp_addr: DEFAULT_WEBRTC_TCP_ADDR.parse().expect("valid default"),
            announce: Vec::new(),
            ice_servers: Vec::new(),
            max_viewers: DEFAULT_MAX_WEBRTC_VIEWERS,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    /// Address the web UI, API and HLS are served on.
    pub addr: SocketAddr,
    /// Directory holding the built browser UI (`make web` fills it).
    pub web_dir: PathBuf,
    /// Reverse proxies whose `X-Forwarded-For` is believed. Behind one, set
    /// its address here, or every user shares the proxy's address (sign-in
    /// limits, audit log, viewer counts).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Seconds a client has to send a request head (and the longest a
    /// kept-alive connection stays idle).
    pub header_read_timeout_seconds: u64,
    /// Connections served at once; see `DEFAULT_MAX_CONNECTIONS`.
    pub max_connections: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// PostgreSQL connection string; `DATABASE_URL` overrides it.
    pub url: String,
    pub max_connections: u32,
    /// Milliseconds a request waits for a free connection before 503.
    pub acquire_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestConfig {
    /// RTMP listener for pushed feeds: `rtmp://HOST:PORT/live/{stream_key}`.
    pub rtmp_addr: SocketAddr,
    /// SRT listener for pushed feeds: `srt://HOST:PORT?streamid=publish:{stream_key}`.
    pub srt_addr: SocketAddr,
    /// The host name encoders reach this server by, shown in the publish
    /// URLs of pushed sources. Unset: the name the admin's browser used
    /// (the request's Host), right unless a proxy or NAT stands between.
    pub public_host: Option<String>,
    /// A feed that delivers no video for this long is treated as lost.
    pub signal_timeout_seconds: u64,
    /// Pulled cameras are retried with doubling backoff up to this delay.
    pub reconnect_max_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveConfig {
    /// Target HLS segment length. Passed-through video cuts at the camera's
    /// keyframes, so a camera should send a keyframe at least this often.
    pub segment_seconds: u64,
    /// Segments listed in a live media playlist.
    pub playlist_segments: usize,
    /// How long a classroom shows the "signal lost" slate before the lesson ends.
    pub grace_seconds: u64,
    /// x264 speed preset for transcoded renditions.
    pub x264_preset: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaConfig {
    /// Root of recordings and other media files; nothing is served from outside it.
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct DemoConfig {
    /// Create and run the demo classroom (test pattern with a clock and a tone).
    pub enabled: bool,
    /// The demo classroom keeps only this much recording, so it never fills a disk.
    pub recording_window_seconds: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            // The constant is a literal address; parsing it cannot fail.
            addr: DEFAULT_HTTP_ADDR.parse().expect("valid default address"),
            web_dir: DEFAULT_WEB_DIR.into(),
            trusted_proxies: Vec::new(),
            header_read_timeout_seconds: DEFAULT_HEADER_READ_TIMEOUT_SECONDS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_DATABASE_URL.into(),
            max_connections: DEFAULT_MAX_DB_CONNECTIONS,
            acquire_timeout_ms: DEFAULT_ACQUIRE_TIMEOUT_MS,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            // Literal addresses; parsing cannot fail.
            rtmp_addr: DEFAULT_RTMP_ADDR.parse().expect("valid default address"),
            srt_addr: DEFAULT_SRT_ADDR.parse().expect("valid default address"),
            public_host: None,
            signal_timeout_seconds: DEFAULT_SIGNAL_TIMEOUT_SECONDS,
            reconnect_max_seconds: DEFAULT_RECONNECT_MAX_SECONDS,
        }
    }
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            segment_seconds: DEFAULT_SEGMENT_SECONDS,
            playlist_segments: DEFAULT_LIVE_PLAYLIST_SEGMENTS,
            grace_seconds: DEFAULT_GRACE_SECONDS,
            x264_preset: DEFAULT_X264_PRESET.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// Require sign-in for the API and media. Off only on a closed test bench.
    pub enabled: bool,
    /// Mark the session cookie `Secure`: on whenever the site is served over HTTPS.
    pub secure_cookies: bool,
    /// A browser session lasts this long from sign-in.
    pub session_hours: u64,
    /// Failed sign-ins allowed per account, and per client address, within the window.
    pub max_failures_per_account: i64,
    pub max_failures_per_address: i64,
    pub failure_window_minutes: i64,
    /// Playback tokens (in HLS URLs for players without the cookie) last
    /// this long; players refresh them while access lasts.
    pub playback_ttl_seconds: i64,
    /// Seconds between full rereads of the playback revocation list.
    pub revocation_reload_seconds: u64,
    /// Password hashes computed at once (0: one per core).
    pub max_parallel_hashes: usize,
    /// Milliseconds a sign-in waits for a hashing slot before 503.
    pub hash_wait_ms: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            secure_cookies: false,
            session_hours: DEFAULT_SESSION_HOURS,
            max_failures_per_account: DEFAULT_MAX_FAILURES_PER_ACCOUNT,
            max_failures_per_address: DEFAULT_MAX_FAILURES_PER_ADDRESS,
            failure_window_minutes: DEFAULT_FAILURE_WINDOW_MINUTES,
            playback_ttl_seconds: DEFAULT_PLAYBACK_TTL_SECONDS,
            revocation_reload_seconds: DEFAULT_REVOCATION_RELOAD_SECONDS,
            max_parallel_hashes: DEFAULT_MAX_PARALLEL_HASHES,
            hash_wait_ms: DEFAULT_HASH_WAIT_MS,
        }
    }
}

/// Single sign-on with a unified identity platform (统一身份认证) over
/// OpenID Connect. Users are created on first sign-in; their school and
/// roles follow the platform's claims at every sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SsoConfig {
    pub enabled: bool,
    /// The label of the sign-in button.
    pub display_name: String,
    /// The platform's issuer URL (discovery at ISSUER/.well-known/openid-configuration).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Registered at the platform: this server's /api/sso/callback, as browsers reach it.
    pub redirect_url: String,
    /// Claim holding the school's code (matched against a school's external_id).
    pub school_claim: String,
    /// Claim holding the user's roles (a string or a list of strings).
    pub roles_claim: String,
    /// Platform role → classcast role (`teacher`, `school_admin`, `reviewer:school`, …).
    pub role_map: std::collections::BTreeMap<String, String>,
    /// Roles for a user whose claims map to none.
    pub default_roles: Vec<String>,
}

impl Default for SsoConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            display_name: "统一身份认证".into(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            redirect_url: "http://127.0.0.1:8080/api/sso/callback".into(),
            school_claim: "school".into(),
            roles_claim: "roles".into(),
            role_map: [
                ("teacher", "teacher"),
                ("student", "viewer"),
                ("parent", "viewer"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            default_roles: vec!["viewer".into()],
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            dir: DEFAULT_MEDIA_DIR.into(),
        }
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            recording_window_seconds: DEFAULT_DEMO_RECORDING_WINDOW_SECONDS,
        }
    }
}

impl Config {
    /// Defaults, then the TOML file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::prefixed("CLASSCAST_").split("__"))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            );
        figment.extract().map_err(Box::new)
    }

    pub fn segment_duration(&self) -> Duration {
        Duration::from_secs(self.live.segment_seconds.max(1))
    }

    pub fn grace_period(&self) -> Duration {
        Duration::from_secs(self.live.grace_seconds)
    }

    pub fn signal_timeout(&self) -> Duration {
        Duration::from_secs(self.ingest.signal_timeout_seconds.max(1))
    }

    pub fn reconnect_max(&self) -> Duration {
        Duration::from_secs(self.ingest.reconnect_max_seconds.max(1))
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.http.header_read_timeout_seconds.max(1))
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.database.acquire_timeout_ms.max(50))
    }

    /// Playback tokens live at least a second and at most a day (revocation
    /// entries are kept as long).
    pub fn playback_ttl_seconds(&self) -> i64 {
        self.auth.playback_ttl_seconds.clamp(1, 24 * 3600)
    }

    pub fn revocation_reload(&self) -> Duration {
        Duration::from_secs(self.auth.revocation_reload_seconds.max(1))
    }

    /// Hashing slots: the configured number, or one per core.
    pub fn parallel_hashes(&self) -> usize {
        match self.auth.max_parallel_hashes {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }

    pub fn job_lease(&self) -> Duration {
        Duration::from_secs(self.jobs.lease_seconds.max(1))
    }

    pub fn job_poll(&self) -> Duration {
        Duration::from_millis(self.jobs.poll_ms.max(50))
    }

    pub fn job_retry(&self) -> crate::library::jobs::RetryPolicy {
        let base = Duration::from_secs(self.jobs.retry_base_seconds);
        crate::library::jobs::RetryPolicy {
            base,
            max: Duration::from_secs(self.jobs.retry_max_seconds).max(base),
            max_attempts: self.jobs.max_attempts.max(1),
        }
    }

    /// The local object storage directory (`storage.kind = "local"`).
    pub fn objects_dir(&self) -> PathBuf {
        self.storage
            .dir
            .clone()
            .unwrap_or_else(|| self.media.dir.join("objects"))
    }

    pub fn upload_expiry(&self) -> Duration {
        Duration::from_secs(self.uploads.expiry_seconds.max(1))
    }

    pub fn upload_cleanup_interval(&self) -> Duration {
        Duration::from_secs(self.uploads.cleanup_interval_seconds.max(1))
    }

    pub fn recordings_dir(&self) -> PathBuf {
        self.media.dir.join("recordings")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ports() {
        let config = Config::default();
        assert_eq!(config.http.addr.port(), 8080);
        assert_eq!(config.ingest.rtmp_addr.port(), 1935);
        assert_eq!(config.ingest.srt_addr.port(), 8890);
        assert!(config.http.addr.ip().is_loopback());
    }

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("classcast.example.toml");
        let from_file: Config = Figment::new()
            .merge(Toml::file_exact(&path))
            .extract()
            .expect("example config parses");
        let defaults = Config::default();
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(&defaults).unwrap(),
            "classcast.example.toml must show every default"
        );
        // `#[serde(default)]` fills a key deleted from the example back in,
        // so the values alone cannot tell: compare the keys themselves.
        let text = std::fs::read_to_string(&path).unwrap();
        let written: toml_keys::Table = toml_keys::parse(&text);
        let mut in_file = Vec::new();
        toml_keys::collect("", &written, &mut in_file);
        let mut in_defaults = Vec::new();
        json_keys(
            "",
            &serde_json::to_value(&defaults).unwrap(),
            &mut in_defaults,
        );
        // A key unset by default (null) cannot be written in TOML: the
        // example shows it commented out, `# key = example`, in its section.
        let (unset, mut in_defaults): (Vec<String>, Vec<String>) = in_defaults
            .into_iter()
            .partition(|k| defaults_json_is_null(&defaults, k));
        for key in unset {
            let (section, leaf) = key.split_once('.').expect("keys have a section");
            let shown = text.split(&format!("[{section}]")).nth(1).is_some_and(|s| {
                s.split("\n[")
                    .next()
                    .unwrap_or("")
                    .contains(&format!("# {leaf} = "))
            });
            assert!(
                shown,
                "classcast.example.toml must show unset key {key} as '# {leaf} = ...'"
            );
        }
        in_file.sort();
        in_defaults.sort();
        assert_eq!(
            in_file, in_defaults,
            "classcast.example.toml must list exactly the keys of Config"
        );
    }

    fn defaults_json_is_null(defaults: &Config, key: &str) -> bool {
        let value = serde_json::to_value(defaults).unwrap();
        key.split('.')
            .try_fold(&value, |v, k| v.get(k))
            .is_some_and(|v| v.is_null())
    }

    /// Dotted key paths of a serialized config; maps whose keys are data
    /// (the SSO role map) count as one key.
    fn json_keys(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) if prefix != "sso.role_map" => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    json_keys(&path, v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }

    /// The example's keys as TOML wrote them, through figment's own parser.
    mod toml_keys {
        pub type Table = figment::value::Dict;

        pub fn parse(text: &str) -> Table {
            use figment::providers::{Format, Toml};
            figment::Figment::from(Toml::string(text))
                .extract()
                .expect("example config parses")
        }

        pub fn collect(prefix: &str, table: &Table, out: &mut Vec<String>) {
            for (k, v) in table {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    figment::value::Value::Dict(_, inner) if path != "sso.role_map" => {
                        collect(&path, inner, out)
                    }
                    _ => out.push(path),
                }
            }
        }
    }
}
