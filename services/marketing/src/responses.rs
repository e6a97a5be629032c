//! Campaign responses: recorded once per contacted member and announced, whether a marketer
//! recorded them or the customer redeemed the campaign's code in an order.

use crm_proto::marketing::v1 as pb;
use crm_proto::marketing::v1::events as ev;
use crm_storage::Tx;

use crate::events;
use crate::storage::{campaigns, profiles};

/// A member's response.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The member.
    pub party_id: &'a str,
    /// Its own id (a coupon code, an order id), kept with it.
    pub response_id: &'a str,
    /// The order that carried the campaign's code, when it was a purchase.
    pub order_id: &'a str,
}

/// Records `r` for campaign `c` if the member was contacted and has not responded yet, and
/// announces it (`campaign.response`; sales makes a lead of it unless it was an order). False
/// when nothing was recorded.
pub async fn record(tx: &mut Tx, c: &pb::Campaign, r: &Response<'_>, now: i64) -> sqlx::Result<bool> {
    if !campaigns::respond(tx, &c.id, r.party_id, r.response_id, now).await? {
        return Ok(false);
    }
    let name = profiles::get(tx, r.party_id)
        .await?
        .map(|p| p.display_name)
        .unwrap_or_default();
    events::publish_about(
        tx,
        ev::CAMPAIGN_RESPONSE,
        r.party_id,
        r.party_id,
        &pb::CampaignResponse {
            campaign_id: c.id.clone(),
            campaign_name: c.name.clone(),
            party_id: r.party_id.to_string(),
            response_id: r.response_id.to_string(),
            display_name: name,
            order_id: r.order_id.to_string(),
        },
    )
    .await?;
    Ok(true)
}
