//! The `classcast` binary: parse the command line, load config, run.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "classcast",
    version,
    about = "Server for school recording classrooms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web UI, API, HLS, and the RTMP/SRT listeners.
    Serve {
        /// TOML config file; see classcast.example.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if std::env::var("CLASSCAST_LOG_FORMAT").as_deref() == Ok("json") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => {
            let config = classcast::config::Config::load(config.as_deref())?;
            classcast::server::serve(config).await
        }
        Command::Migrate { config } => {
            let config = classcast::config::Config::load(config.as_deref())?;
            let db = classcast::server::connect(&config).await?;
            sqlx::migrate!("./migrations").run(&db).await?;
            println!("migrations applied");
            Ok(())
        }
    }
}
