//! `classcast worker`: the job runner of `classcast serve`, alone —
//! connect, migrate, run jobs until SIGTERM, hand back what is running.

use anyhow::Context as _;
use tracing::info;

use crate::config::Config;
use crate::library::jobs::runner::{self, RunnerSettings};

pub async fn work(config: Config) -> anyhow::Result<()> {
    crate::media::init().context("initialising GStreamer")?;
    let db = crate::server::connect(&config).await?;
    sqlx::migrate!("./migrations")
        .run(&db)
        .await
        .context("migrations")?;
    let store = crate::storage::MediaStore::from_config(&config).context("media storage")?;
    let settings = RunnerSettings::from_config(&config, &crate::server::node_name());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let jobs = tokio::spawn(runner::run(
        db,
        settings,
        crate::library::job_kinds(&config, &store),
        stopping,
    ));
    crate::server::shutdown_signal().await;
    info!("stopping: handing back running jobs");
    let _ = stop.send(true);
    jobs.await.context("job runner")?;
    Ok(())
}
