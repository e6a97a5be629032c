use clap::Args;

/// Database settings of one service.
#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `postgres://user@host/db` or `sqlite:path/to/file.db`.
    /// Empty means a SQLite file under the data directory.
    #[arg(
        id = "database_url",
        long = "database-url",
        env = "CRM_DATABASE_URL",
        default_value = ""
    )]
    pub url: String,
    /// Maximum connections in the pool.
    #[arg(
        long = "database-max-connections",
        env = "CRM_DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub max_connections: u32,
    /// Connections opened at start and kept open, so that a new instance does not meet its
    /// first load while it is still opening them (0: opened as calls need them).
    #[arg(
        long = "database-min-connections",
        env = "CRM_DATABASE_MIN_CONNECTIONS",
        default_value_t = 0
    )]
    pub min_connections: u32,
    /// PostgreSQL's TLS mode (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`),
    /// overriding the URL's `sslmode`: `verify-full` checks that the server's certificate was
    /// signed by `--database-ssl-root-cert` for the host in the URL. Useful where the URL comes
    /// from a secret the operator does not write (CloudNativePG's `uri`).
    #[arg(long = "database-ssl-mode", env = "CRM_DATABASE_SSL_MODE", value_parser = ["disable", "prefer", "require", "verify-ca", "verify-full"])]
    pub ssl_mode: Option<String>,
    /// CA (PEM) that signed the PostgreSQL server's certificate, overriding the URL's
    /// `sslrootcert`.
    #[arg(long = "database-ssl-root-cert", env = "CRM_DATABASE_SSL_ROOT_CERT")]
    pub ssl_root_cert: Option<std::path::PathBuf>,
    /// At start: `on-start` applies the migrations the database lacks (replicas take turns);
    /// `verify` applies none and refuses to start until `crm migrate` (a release's migrations
    /// Job) has. Either refuses a schema a newer release contracted, naming both versions.
    #[arg(
        long = "database-migrations",
        env = "CRM_DATABASE_MIGRATIONS",
        value_enum,
        default_value_t = crate::Migrating::OnStart
    )]
    pub migrating: crate::Migrating,
}

impl DatabaseConfig {
    /// The configured URL with the TLS settings applied, or a SQLite file named after the
    /// service under `data_dir`.
    pub fn url_or_default(&self, data_dir: &std::path::Path, service: &str) -> String {
        if self.url.is_empty() {
            return format!("sqlite:{}", data_dir.join(format!("{service}.db")).display());
        }
        let mut url = self.url.clone();
        if let Some(mode) = &self.ssl_mode {
            url = with_parameter(&url, "sslmode", mode);
        }
        if let Some(ca) = &self.ssl_root_cert {
            url = with_parameter(&url, "sslrootcert", &ca.display().to_string());
        }
        url
    }
}

/// `url` with its query parameter `name` set to `value` (replacing any it had); SQLite URLs
/// are returned as they are.
fn with_parameter(url: &str, name: &str, value: &str) -> String {
    if !url.starts_with("postgres") {
        return url.to_string();
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut parameters: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some(name))
        .map(str::to_string)
        .collect();
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    parameters.push(format!("{name}={encoded}"));
    format!("{base}?{}", parameters.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> DatabaseConfig {
        DatabaseConfig {
            url: url.into(),
            max_connections: 10,
            min_connections: 0,
            ssl_mode: Some("verify-full".into()),
            ssl_root_cert: Some("/var/run/crm/db ca/ca.crt".into()),
            migrating: crate::Migrating::Verify,
        }
    }

    #[test]
    fn tls_settings_replace_the_url_s() {
        let url = config("postgresql://app:secret@db-rw.crm:5432/app?sslmode=prefer&application_name=crm")
            .url_or_default(std::path::Path::new("."), "customers");
        assert_eq!(
            url,
            "postgresql://app:secret@db-rw.crm:5432/app?application_name=crm&sslmode=verify-full\
             &sslrootcert=/var/run/crm/db%20ca/ca.crt"
        );
        let sqlite =
            config("sqlite:data/customers.db").url_or_default(std::path::Path::new("."), "customers");
        assert_eq!(sqlite, "sqlite:data/customers.db");
    }
}
