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
}

impl DatabaseConfig {
    /// The configured URL, or a SQLite file named after the service under `data_dir`.
    pub fn url_or_default(&self, data_dir: &std::path::Path, service: &str) -> String {
        if self.url.is_empty() {
            format!("sqlite:{}", data_dir.join(format!("{service}.db")).display())
        } else {
            self.url.clone()
        }
    }
}
