//! Who may call what through the gateway. Every call must carry a valid token; what the caller
//! may see or change is decided by the service that answers, with the same token.

use crm_auth::{Access, Policy};

use crate::upstream::FORWARDED;

const GATEWAY: &str = "crm.gateway.v1.GatewayService";

/// The gateway's access table.
pub fn policy() -> Policy {
    let policy = Policy::new()
        .rpc(GATEWAY, "GetCustomer360", Access::Authenticated)
        .rpc(GATEWAY, "ScreenPop", Access::Authenticated);
    FORWARDED.iter().fold(policy, |policy, prefix| {
        policy.prefix(prefix, Access::Authenticated)
    })
}
