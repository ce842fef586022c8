//! A private PostgreSQL + pgvector server on loopback, for the tests that need a real one.
//!
//! `make test` installs PostgreSQL 15 and builds pgvector (`scripts/install-postgres.sh`). Each
//! [`PgServer`] runs `initdb` in a temporary folder, starts the server on a free port of
//! 127.0.0.1 and stops it, by its data folder, when dropped. [`PgServer::init`] and
//! [`PgServer::launch`] split the two, for servers with TLS or other settings. Without the
//! binaries the tests fail with a message that says how to install them: they never skip.

use std::cell::Cell;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running server; stopped on drop.
#[derive(Debug)]
pub struct PgServer {
    dir: tempfile::TempDir,
    /// Chosen free before the start, and chosen again if another program took it meanwhile.
    port: Cell<u16>,
    as_postgres: bool,
}

impl PgServer {
    /// Initialises and starts a server, with the `vector` extension available.
    pub fn start() -> PgServer {
        let server = PgServer::init();
        server.launch(&[]);
        server
    }

    /// Initialises a server (`initdb`) without starting it, so that files (certificates, an
    /// `pg_hba.conf`) can be put in [`PgServer::dir`] first.
    pub fn init() -> PgServer {
        let bin = Path::new(PG_BIN);
        assert!(
            bin.join("initdb").exists()
                && Path::new("/usr/share/postgresql/15/extension/vector.control").exists(),
            "PostgreSQL 15 with pgvector is not installed: run scripts/install-postgres.sh \
             (make test does)"
        );
        let server = PgServer::fresh();
        let data = server.data();
        run(server.pg("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]));
        server
    }

    /// A temporary folder and a free port, no data folder yet.
    fn fresh() -> PgServer {
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("lookalike-pg")
            .tempdir()
            .expect("a temporary folder");
        if as_postgres {
            // initdb refuses to run as root: the data folder belongs to the postgres user.
            run(Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path()));
        }
        PgServer {
            dir,
            port: Cell::new(free_port()),
            as_postgres,
        }
    }

    /// A streaming standby of `primary` (`pg_basebackup -R`: a base backup and the settings to
    /// follow it), started with extra `-c` settings (`recovery_min_apply_delay`, say).
    pub fn standby_of(primary: &PgServer, settings: &[(&str, &str)]) -> PgServer {
        let server = PgServer::fresh();
        run(server
            .pg("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port().to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(server.data())
            .args(["-R", "-X", "stream", "--no-sync"]));
        server.launch(settings);
        server
    }

    /// Starts the server with extra `-c NAME=VALUE` settings.
    ///
    /// The port was free when it was chosen, but another test's server or client may bind it
    /// before this one does; the server then stops with "could not bind", and the start is
    /// tried again on another port. Any other failure panics with the server's log.
    pub fn launch(&self, settings: &[(&str, &str)]) {
        let log = self.dir.path().join("log");
        for attempt in 1.. {
            let mut options = format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
                self.port(),
                self.dir.path().display()
            );
            for (k, v) in settings {
                options.push_str(&format!(" -c {k}={v}"));
            }
            let mut cmd = self.pg("pg_ctl");
            cmd.arg("-D")
                .arg(self.data())
                .args(["-w", "-t", "120", "-l"])
                .arg(&log)
                .args(["-o", &options, "start"]);
            let out = cmd.output().expect("pg_ctl runs");
            if out.status.success() {
                return;
            }
            let logged = std::fs::read_to_string(&log).unwrap_or_default();
            if attempt < 5 && logged.contains("could not bind") {
                self.port.set(free_port());
                continue;
            }
            panic!(
                "{cmd:?} failed:\n{}{}\nserver log:\n{logged}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Stops the server now (a shard going away).
    pub fn stop(&self) {
        run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"]));
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        self.url_as("127.0.0.1")
    }

    /// The URL with another host name for this server (e.g. `localhost`).
    pub fn url_as(&self, host: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres", self.port())
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port.get()
    }

    /// Its temporary folder (the data folder is `data/` inside).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Makes a file in [`PgServer::dir`] the server's own, readable by it alone (a key file).
    pub fn hand_over(&self, file: &Path) {
        run(Command::new("chmod").arg("600").arg(file));
        if self.as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(file));
        }
    }

    /// PostgreSQL's client program `tool` (`pg_dump`, `pg_restore`), run as the calling user,
    /// with its output; it connects as any other client would.
    pub fn client(&self, tool: &str, args: &[&str]) -> std::process::Output {
        Command::new(Path::new(PG_BIN).join(tool))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"))
    }

    /// Runs `sql` with psql as the superuser and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(Path::new(PG_BIN).join("psql"))
            .args([
                "-X",
                "-At",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-p", &self.port().to_string(), "-c", sql])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg(&self, tool: &str) -> Command {
        let exe = Path::new(PG_BIN).join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A port that binds now, below Linux's ephemeral range (32768 and up), so that the kernel
/// never hands it to an outgoing connection (the clients of other tests' servers) meanwhile.
fn free_port() -> u16 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().rotate_left(16);
    let mut x = seed | 1;
    for _ in 0..1000 {
        // xorshift32: a spread of candidates between 20000 and 32767.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let port = 20_000 + (x % 12_768) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between 20000 and 32767")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("PostgreSQL tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
