//! The connection to the gateway (or a service) and the caller's token on every call.

use clap::Args;
use crm_transfer::{Authed, Bearer};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Endpoint;

/// Where to send the calls and as whom.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The gateway (or a service) to talk to.
    #[arg(long, env = "CRM_URL", default_value = "http://127.0.0.1:50056")]
    pub url: String,
    /// Bearer token of the caller (an administrator or a data steward for imports).
    #[arg(long, env = "CRM_TOKEN", hide_env_values = true)]
    pub token: String,
}

impl Connection {
    /// Connects (failing with one clear line when nothing answers).
    pub async fn connect(&self) -> anyhow::Result<Authed> {
        let endpoint = Endpoint::from_shared(self.url.clone())
            .map_err(|e| anyhow::anyhow!("--url {}: {e}", self.url))?;
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", self.url))?;
        let token =
            Bearer::new(&self.token).ok_or_else(|| anyhow::anyhow!("--token is not a valid header value"))?;
        Ok(InterceptedService::new(channel, token))
    }
}

/// A gRPC error as one line.
pub fn status_line(status: &tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}
