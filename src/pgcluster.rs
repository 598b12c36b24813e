//! A private PostgreSQL cluster under a data folder, started from `initdb` and `pg_ctl`. `hauth dev` uses it
//! so the service runs with nothing but the Postgres binaries installed, and the test suite uses it when no
//! server answers on 127.0.0.1:5432. Postgres refuses to run as root, so when the caller is root the
//! cluster runs as the `postgres` system user, which then owns the data folder.
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// A running private cluster.
#[derive(Debug, Clone)]
pub struct PrivateCluster {
    pub data_dir: PathBuf,
    pub port: u16,
}

/// Where `initdb` and `pg_ctl` live: on PATH, else `pg_config --bindir`, else Debian's versioned folders.
fn postgres_bin_dir() -> anyhow::Result<Option<PathBuf>> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join("initdb").is_file()))
        .unwrap_or(false);
    if on_path {
        return Ok(None);
    }
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if dir.join("initdb").is_file() {
            return Ok(Some(dir));
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|dir| dir.join("initdb").is_file());
    versions.sort();
    versions.pop().map(Some).ok_or_else(|| {
        anyhow::anyhow!("initdb and pg_ctl not found: install PostgreSQL server binaries (e.g. postgresql-15)")
    })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Builds a command for a Postgres binary, as the `postgres` user when we are root.
fn postgres_command(bin_dir: &Option<PathBuf>, program: &str, as_postgres: bool) -> Command {
    let program = bin_dir.as_ref().map(|dir| dir.join(program)).unwrap_or_else(|| PathBuf::from(program));
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("cannot run {what}"))?;
    if !output.status.success() {
        bail!("{what} failed: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&address, Duration::from_millis(300)).is_ok()
}

impl PrivateCluster {
    /// Initialises `data_dir` if needed and starts the cluster on 127.0.0.1:`port` (or finds it running).
    /// `throwaway` turns durability off (tests only).
    pub fn start(data_dir: &Path, port: u16, throwaway: bool) -> anyhow::Result<Self> {
        Self::start_with_settings(data_dir, port, throwaway, &[])
    }

    /// [`PrivateCluster::start`] with further server settings (`-c name=value`), e.g. TLS files that were
    /// put in `data_dir` (the cluster's user then owns them).
    pub fn start_with_settings(
        data_dir: &Path,
        port: u16,
        throwaway: bool,
        settings: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let cluster = PrivateCluster { data_dir: data_dir.clone(), port };
        if port_open(port) {
            return Ok(cluster);
        }
        let bin_dir = postgres_bin_dir()?;
        let as_postgres = is_root();
        let pgdata = data_dir.join("pgdata");
        let socket_dir = data_dir.join("socket");
        std::fs::create_dir_all(&socket_dir)?;
        if as_postgres {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(&data_dir);
                    c
                },
                "chown of the cluster folder",
            )?;
            let reachable = Command::new("runuser")
                .args(["-u", "postgres", "--", "test", "-w"])
                .arg(&data_dir)
                .status()
                .is_ok_and(|status| status.success());
            if !reachable {
                bail!(
                    "the postgres user cannot reach {}: choose a data folder it can enter (e.g. under /tmp)",
                    data_dir.display()
                );
            }
        }
        if !pgdata.join("PG_VERSION").is_file() {
            let mut initdb = postgres_command(&bin_dir, "initdb", as_postgres);
            initdb.arg("-D").arg(&pgdata).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"]);
            run(initdb, "initdb")?;
        }
        let mut options =
            format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300", socket_dir.display());
        if throwaway {
            options.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        for (name, value) in settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let mut pg_ctl = postgres_command(&bin_dir, "pg_ctl", as_postgres);
        pg_ctl
            .arg("-D")
            .arg(&pgdata)
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(data_dir.join("postgres.log"))
            .args(["-w", "-t", "60", "start"]);
        run(pg_ctl, "pg_ctl start")?;
        Ok(cluster)
    }

    /// Stops the cluster (fast shutdown).
    pub fn stop(&self) -> anyhow::Result<()> {
        let bin_dir = postgres_bin_dir()?;
        let mut pg_ctl = postgres_command(&bin_dir, "pg_ctl", is_root());
        pg_ctl.arg("-D").arg(self.data_dir.join("pgdata")).args(["-m", "fast", "-w", "stop"]);
        run(pg_ctl, "pg_ctl stop")
    }

    /// A superuser URL for the given database.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}
