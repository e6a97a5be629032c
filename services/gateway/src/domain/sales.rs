//! What the 360 derives from a customer's orders and opportunities: the quota owner and the
//! opportunities open and recently closed (sales adds up the orders themselves).

use crm_proto::sales::v1::{Opportunity, OpportunityStatus};

fn micros(t: Option<&prost_types::Timestamp>) -> i64 {
    t.map_or(i64::MIN, |t| t.seconds * 1_000_000 + i64::from(t.nanos / 1000))
}

/// Open opportunities, and closed ones most recently closed first.
pub fn split_opportunities(opportunities: Vec<Opportunity>) -> (Vec<Opportunity>, Vec<Opportunity>) {
    let (open, mut closed): (Vec<_>, Vec<_>) = opportunities
        .into_iter()
        .partition(|o| o.status == OpportunityStatus::Open as i32);
    closed.sort_by(|a, b| {
        micros(b.close_time.as_ref())
            .cmp(&micros(a.close_time.as_ref()))
            .then_with(|| b.id.cmp(&a.id))
    });
    (open, closed)
}

/// The rep whose quota the customer's business counts toward: the owner of the newest order
/// that counts (`latest_order_owner`, as sales reports it), else of the newest opportunity.
pub fn quota_owner(latest_order_owner: &str, opportunities: &[Opportunity]) -> String {
    if !latest_order_owner.is_empty() {
        return latest_order_owner.to_string();
    }
    opportunities
        .iter()
        .filter(|o| !o.owner_id.is_empty())
        .max_by_key(|o| (micros(o.create_time.as_ref()), o.id.clone()))
        .map(|o| o.owner_id.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_order_names_the_quota_owner_else_the_newest_opportunity() {
        let opp = |id: &str, at: i64, status: OpportunityStatus| Opportunity {
            id: id.into(),
            owner_id: format!("rep-{id}"),
            status: status as i32,
            create_time: Some(prost_types::Timestamp {
                seconds: at,
                nanos: 0,
            }),
            close_time: Some(prost_types::Timestamp {
                seconds: at + 10,
                nanos: 0,
            }),
            ..Default::default()
        };
        let all = vec![
            opp("x", 1, OpportunityStatus::Won),
            opp("y", 5, OpportunityStatus::Open),
            opp("z", 3, OpportunityStatus::Lost),
        ];
        assert_eq!(quota_owner("rep-d", &all), "rep-d");
        assert_eq!(quota_owner("", &all), "rep-y");
        let (open, closed) = split_opportunities(all);
        assert_eq!(open.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["y"]);
        assert_eq!(
            closed.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            ["z", "x"]
        );
    }
}
