//! The channels to the domain services, and which proto packages each one serves.

use std::time::Duration;

use crm_platform::client::balanced_channel;
use crm_platform::config::TlsConfig;
use tonic::transport::Channel;

use crate::config::UpstreamUrls;

/// One balanced, reconnecting channel per domain service.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub customers: Channel,
    pub sales: Channel,
    pub partners: Channel,
    pub marketing: Channel,
    pub servicedesk: Channel,
}

impl Upstreams {
    /// Channels to `urls`, re-resolving host names every `refresh`, `https://` ones over TLS
    /// as `tls` says.
    pub fn connect(urls: &UpstreamUrls, refresh: Duration, tls: &TlsConfig) -> anyhow::Result<Self> {
        let channel = |name: &str, urls: &[String]| {
            balanced_channel(urls, refresh, tls)
                .map_err(|e| e.context(format!("the {name} service's address")))
        };
        Ok(Self {
            customers: channel("customers", &urls.customers)?,
            sales: channel("sales", &urls.sales)?,
            partners: channel("partners", &urls.partners)?,
            marketing: channel("marketing", &urls.marketing)?,
            servicedesk: channel("servicedesk", &urls.servicedesk)?,
        })
    }

    /// The forwarding table: gRPC path prefix (the proto package) to the service owning it.
    pub fn routes(&self) -> Vec<(&'static str, Channel)> {
        vec![
            (CUSTOMERS, self.customers.clone()),
            (SALES, self.sales.clone()),
            (PARTNERS, self.partners.clone()),
            (MARKETING, self.marketing.clone()),
            (SERVICEDESK, self.servicedesk.clone()),
        ]
    }
}

/// Path prefixes of the domain packages.
pub const CUSTOMERS: &str = "/crm.customers.v1.";
pub const SALES: &str = "/crm.sales.v1.";
pub const PARTNERS: &str = "/crm.partners.v1.";
pub const MARKETING: &str = "/crm.marketing.v1.";
pub const SERVICEDESK: &str = "/crm.servicedesk.v1.";

/// Every forwarded package.
pub const FORWARDED: [&str; 5] = [CUSTOMERS, SALES, PARTNERS, MARKETING, SERVICEDESK];
