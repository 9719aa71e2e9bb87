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
    /// Run background jobs (lesson transcodes) without the HTTP server:
    /// more transcode capacity on another machine sharing the database
    /// and the media directory.
    Worker {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Rewrite every micro-lesson's search words, after an upgrade that
    /// changed the Chinese segmenter or its subject vocabulary. Safe while
    /// servers run; running it again is harmless.
    ReindexLibrary {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Administer accounts from the server's shell.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a system administrator. The password is read from standard
    /// input, so it never shows in the process list or shell history.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
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
        Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    password_stdin,
                    config,
                },
        } => {
            anyhow::ensure!(
                password_stdin,
                "pass the password on standard input with --password-stdin"
            );
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            let config = classcast::config::Config::load(config.as_deref())?;
            let db = classcast::server::connect(&config).await?;
            sqlx::migrate!("./migrations").run(&db).await?;
            let user = classcast::catalog::accounts::users::NewUser {
                school_id: None,
                username,
                display_name: String::new(),
                password: Some(password.clone()),
                roles: vec![classcast::auth::RoleGrant {
                    role: classcast::auth::Role::SystemAdmin,
                    review_level: None,
                    subject_id: None,
                }],
            };
            classcast::catalog::accounts::users::validate_new(&user)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = classcast::auth::password::hash(&password);
            let created = classcast::catalog::accounts::users::create(&db, &user, Some(hash))
                .await
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", user.username))?;
            classcast::catalog::accounts::audit::audit(
                &db,
                classcast::catalog::accounts::audit::NewAuditEntry {
                    actor: None,
                    address: None,
                    action: "user_created",
                    target: Some(("user", created.id.to_string())),
                    detail: serde_json::json!({"username": created.username, "via": "cli"}),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("system admin {} created ({})", created.username, created.id);
            Ok(())
        }
        Command::Worker { config } => {
            let config = classcast::config::Config::load(config.as_deref())?;
            classcast::worker::work(config).await
        }
        Command::Migrate { config } => {
            let config = classcast::config::Config::load(config.as_deref())?;
            let db = classcast::server::connect(&config).await?;
            sqlx::migrate!("./migrations").run(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::ReindexLibrary { config } => {
            let config = classcast::config::Config::load(config.as_deref())?;
            let db = classcast::server::connect(&config).await?;
            let done = classcast::catalog::library::search_index::reindex_all(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("search words rewritten for {done} micro-lessons");
            Ok(())
        }
    }
}
