//! A PostgreSQL cluster of a test's own: `initdb` in a temporary folder,
//! started on a free port with Debian's `pg_ctl`, so a test may stop and
//! restart the database without touching the one other tests share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct ThrowawayPostgres {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

/// Debian keeps the server binaries per version; the newest one wins.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries (make test installs postgresql)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("pg_ctl under /usr/lib/postgresql/*/bin")
}

/// PostgreSQL refuses to run as root: run its tools as `postgres` then.
fn as_postgres(program: &Path) -> Command {
    if nix::unistd::Uid::effective().is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl ThrowawayPostgres {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if nix::unistd::Uid::effective().is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["postgres:postgres"]).arg(dir.path());
                    c
                },
                "chown the cluster folder",
            );
        }
        let bin = bin_dir();
        let mut initdb = as_postgres(&bin.join("initdb"));
        initdb
            .args(["--auth=trust", "--username=classcast", "--no-sync", "-D"])
            .arg(dir.path().join("data"));
        run(initdb, "initdb");
        let cluster = Self {
            dir,
            port: super::free_tcp_port(),
            bin,
        };
        cluster.start_again();
        cluster
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://classcast@127.0.0.1:{}/{database}", self.port)
    }

    fn pg_ctl(&self, args: &[&str]) -> Command {
        let mut command = as_postgres(&self.bin.join("pg_ctl"));
        command
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(args);
        command
    }

    /// Starts (or restarts) the server and waits until it takes connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        let log = log.to_string_lossy().to_string();
        run(
            self.pg_ctl(&["-w", "-t", "30", "-l", &log, "-o", &options, "start"]),
            "pg_ctl start",
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server the way a restart does (connections cut at once).
    pub fn stop(&self) {
        run(self.pg_ctl(&["-w", "-m", "fast", "stop"]), "pg_ctl stop");
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]).output();
    }
}
