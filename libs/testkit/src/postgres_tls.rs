//! A PostgreSQL server of the test's own that speaks TLS with a certificate of a test CA: for
//! tests of `sslmode=verify-full`, which the shared server (its certificate made for another
//! name, or none) cannot show.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A PostgreSQL server in a temporary directory, on its own port, stopped when dropped.
#[derive(Debug)]
pub struct TlsPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl TlsPostgres {
    /// Initialises and starts a server whose certificate is `cert_pem` (with `key_pem`), trust
    /// authentication for `postgres` on 127.0.0.1. `None` when PostgreSQL's server programs
    /// are not installed.
    pub fn start(cert_pem: &str, key_pem: &str) -> Option<Self> {
        let bin = server_bin()?;
        let dir = tempfile::tempdir().expect("temp dir");
        // initdb refuses to run as root: the server then runs as the postgres account.
        let as_postgres = is_root();
        let server = Self {
            dir,
            bin,
            port: crate::free_port(),
            as_postgres,
        };
        let data = server.data();
        if as_postgres {
            chown_postgres(server.dir.path());
        }
        server.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        std::fs::write(data.join("server.crt"), cert_pem).expect("writing the certificate");
        std::fs::write(data.join("server.key"), key_pem).expect("writing the key");
        let config = format!(
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n",
            server.port,
            path(server.dir.path()),
        );
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).expect("postgresql.conf");
        text.push_str(&config);
        std::fs::write(&conf, text).expect("writing postgresql.conf");
        // The server reads its key only when only its owner can.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600))
            .expect("key mode");
        if as_postgres {
            chown_postgres(&data);
        }
        let log = server.dir.path().join("postgres.log");
        server.run("pg_ctl", &["-D", path(&data), "-l", path(&log), "-w", "start"]);
        Some(server)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
        assert!(
            output.status.success(),
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run("pg_ctl", &["-D", path(&data), "-m", "immediate", "-w", "stop"]);
        }));
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Where `initdb` and `pg_ctl` are: `pg_config --bindir`, or Debian's versioned directories.
fn server_bin() -> Option<PathBuf> {
    let configured = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let debian = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|dirs| {
        let mut found: Vec<PathBuf> = dirs.flatten().map(|d| d.path().join("bin")).collect();
        found.sort();
        found.pop()
    });
    [configured, debian]
        .into_iter()
        .flatten()
        .find(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn chown_postgres(dir: &Path) {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .expect("chown");
    assert!(status.success(), "chown {} to postgres", dir.display());
}
