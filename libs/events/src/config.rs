use clap::Args;

/// How to reach NATS.
#[derive(Debug, Clone, Args)]
pub struct NatsConfig {
    /// NATS server URL. `crm up` starts a local nats-server when this is not set.
    #[arg(id = "nats_url", long = "nats-url", env = "CRM_NATS_URL")]
    pub url: Option<String>,
}

/// Connects to NATS. The connection is made in the background and re-made after outages, so a
/// service starts, and keeps its outbox, while NATS is down.
pub async fn connect(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connect(url)
        .await?;
    Ok(client)
}
