//! `classcast serve`: connect, migrate, recover, start the classrooms and
//! the listeners, and shut down cleanly on SIGTERM.

use std::sync::Arc;

use anyhow::Context as _;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;
use tracing::info;

use crate::catalog::ledger::Ledger;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::live::{Live, LiveContext};

/// Connects, creating the database first if the server has none by that name.
pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = config.database.url.parse().context("database.url")?;
    // A request waits at most `acquire_timeout` for a connection: during
    // a database outage the API answers 503 in a second or two instead of
    // hanging until PostgreSQL is back.
    let pool_options = || {
        PgPoolOptions::new()
            .max_connections(config.database.max_connections)
            .acquire_timeout(config.acquire_timeout())
    };
    let pool = pool_options().connect_with(options.clone()).await;
    match pool {
        Ok(pool) => Ok(pool),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            let name = options.get_database().unwrap_or("classcast").to_string();
            info!(database = name, "creating database");
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone().database("postgres"))
                .await
                .context("connecting to create the database")?;
            sqlx::query(&format!("CREATE DATABASE \"{}\"", name.replace('"', "")))
                .execute(&admin)
                .await?;
            Ok(pool_options().connect_with(options).await?)
        }
        Err(e) => Err(e).context("connecting to PostgreSQL (is it running? see README)"),
    }
}

pub fn node_name() -> String {
    std::env::var("CLASSCAST_NODE")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "classcast".into())
}

/// Raises this process's open-file limit to the hard limit: the soft
/// default (often 1024) is below `http.max_connections`, and accept would
/// start failing long before the cap takes effect.
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("cannot raise the open-file limit");
            }
        }
    }
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    crate::auth::password::return_large_blocks_to_the_system();
    raise_open_file_limit();
    crate::media::init().context("initialising GStreamer")?;
    let metrics = crate::metrics::install()?;
    let config = Arc::new(config);
    let db = connect(&config).await?;
    sqlx::migrate!("./migrations")
        .run(&db)
        .await
        .context("migrations")?;
    std::fs::create_dir_all(config.recordings_dir()).context("creating media directory")?;

    let storage = crate::storage::MediaStore::from_config(&config).context("media storage")?;
    crate::library::uploads::probe::init();
    tokio::spawn(crate::library::uploads::sweep_expired(
        db.clone(),
        storage.clone(),
        config.upload_cleanup_interval(),
    ));

    let node = node_name();
    let (stop_jobs, jobs_stopping) = tokio::sync::watch::channel(false);
    let jobs = config.jobs.in_process.then(|| {
        tokio::spawn(crate::library::jobs::runner::run(
            db.clone(),
            crate::library::jobs::runner::RunnerSettings::from_config(&config, &node),
            crate::library::job_kinds(&config, &storage),
            jobs_stopping,
        ))
    });
    let recovered = crate::recording::recover(
        &db,
        &config.recordings_dir(),
        config.segment_duration(),
        &node,
    )
    .await?;
    let closed = crate::catalog::lessons::close_orphans(&db, &node).await?;
    if closed + recovered as u64 > 0 {
        info!(closed, recovered, "cleaned up after an unclean stop");
    }
    if config.demo.enabled {
        crate::demo::ensure(&db, config.demo.recording_window_seconds).await?;
    }

    // Bind first: a port in use is reported before any classroom starts.
    let rtmp = TcpListener::bind(config.ingest.rtmp_addr)
        .await
        .with_context(|| format!("binding RTMP {}", config.ingest.rtmp_addr))?;
    let (srt_listener, srt_incoming) = crate::ingest::srt::bind(config.ingest.srt_addr)
        .await
        .with_context(|| format!("binding SRT {}", config.ingest.srt_addr))?;
    let http_listener = TcpListener::bind(config.http.addr)
        .await
        .with_context(|| format!("binding HTTP {}", config.http.addr))?;
    // Loaded before serving, so a restarted node never accepts a revoked token.
    let (revocations_tx, revocations) = tokio::sync::watch::channel(Arc::new(
        crate::catalog::accounts::revocations::load(&db).await?,
    ));
    let (webrtc, rtp) = crate::webrtc::WebRtc::start(
        &config.webrtc,
        revocations.clone(),
        config.segment_duration(),
    )?;
    let (gate, publish_requests) = crate::ingest::gate::channel();
    let live = Live::start(
        LiveContext {
            db: db.clone(),
            config: config.clone(),
            node,
            ledger: Ledger::start(db.clone()),
            rtp: Some(rtp),
        },
        publish_requests,
    )
    .await?;

    tokio::spawn(crate::ingest::rtmp::serve(rtmp, gate.clone()));
    tokio::spawn(crate::ingest::srt::serve(
        srt_listener,
        srt_incoming,
        gate.clone(),
    ));

    let playback = crate::auth::playback::PlaybackKey::new(
        crate::catalog::accounts::secrets::shared_secret(&db, "playback_key").await?,
    );
    // The segmenter's dictionary loads in the background, not on the first search.
    tokio::task::spawn_blocking(crate::library::search::warm);
    let renamed = crate::catalog::accounts::users::normalise_stored_usernames(&db).await?;
    if renamed > 0 {
        info!(renamed, "usernames brought to their normalised form");
    }
    tokio::spawn(crate::catalog::accounts::revocations::follow(
        db.clone(),
        config.revocation_reload(),
        revocations_tx,
    ));
    tokio::spawn(crate::webrtc::interactive::follow(
        db.clone(),
        webrtc.clone(),
        crate::webrtc::interactive::FOLLOW_EVERY,
    ));
    let state = AppState {
        db,
        config: config.clone(),
        live: live.clone(),
        metrics,
        playback,
        revocations,
        hashing: crate::auth::password::HashingSlots::new(
            config.parallel_hashes(),
            std::time::Duration::from_millis(config.auth.hash_wait_ms),
        ),
        webrtc: Some(webrtc.clone()),
        ingest: gate.clone(),
        storage,
    };
    if !config.auth.enabled {
        tracing::warn!(
            "auth.enabled is false: every classroom and recording is open to anyone who can reach this server"
        );
    } else if let Some(code) = http::users::setup_code(&state).await? {
        // No default password ever exists: the first admin is made with
        // this code (or `classcast admin create`), and then it stops working.
        info!(
            "no users yet: create the first admin at http://{}/#/setup?code={code}",
            config.http.addr
        );
    }
    info!(
        http = %config.http.addr, rtmp = %config.ingest.rtmp_addr, srt = %config.ingest.srt_addr,
        webrtc_udp = %webrtc.udp,
        "classcast is serving on http://{}", config.http.addr
    );
    let limits = http::serve::Limits {
        header_read_timeout: config.header_read_timeout(),
        max_connections: config.http.max_connections,
    };
    http::serve::serve(
        http_listener,
        http::router(state),
        limits,
        shutdown_signal(),
    )
    .await;
    info!("finishing live lessons and recordings");
    let _ = stop_jobs.send(true);
    live.shutdown().await;
    if let Some(jobs) = jobs {
        // A running job is handed back to the queue for another worker.
        let _ = jobs.await;
    }
    info!("stopped");
    Ok(())
}

pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}
