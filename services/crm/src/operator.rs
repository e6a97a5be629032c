//! What an operator's commands (`crm dlq`, `crm events`) reach NATS with.

use clap::Args;

/// The NATS server and the operator's user.
#[derive(Debug, Args)]
pub struct OperatorNats {
    /// NATS server URL.
    #[arg(
        long = "nats-url",
        env = "CRM_NATS_URL",
        default_value = "nats://127.0.0.1:4222",
        global = true
    )]
    url: String,
    /// TLS and the operator's NATS user.
    #[command(flatten)]
    security: crm_events::NatsSecurity,
}

impl OperatorNats {
    /// A JetStream context on a connection named `client_name`, once the server has answered.
    pub async fn jetstream(&self, client_name: &str) -> anyhow::Result<async_nats::jetstream::Context> {
        let client = crm_events::connect(&self.url, client_name, &self.security).await?;
        crm_events::check_server(&client, &self.url, std::time::Duration::from_secs(5)).await?;
        Ok(async_nats::jetstream::new(client))
    }
}
