//! The `crm` binary's library: the command line, the services it can run, and the whole suite
//! in one process (used by `crm up` and by the end-to-end tests).

pub mod cli;
pub mod dlq;
pub mod events;
mod local_nats;
pub mod nats_users;
mod operator;
pub mod services;
pub mod settings_doc;
pub mod suite;
pub mod transfer;

#[cfg(test)]
mod tests {
    /// The service desk assumes customers' default pyramid until customers announces one (it
    /// cannot depend on the customers crate): the two must not drift apart.
    #[test]
    fn the_desk_assumes_the_default_pyramid_customers_ranks_by() {
        let customers: Vec<(String, i64)> = crm_customers::domain::pyramid::default_tiers()
            .into_iter()
            .map(|t| (t.name, i64::from(t.customer_share_bps)))
            .collect();
        let desk: Vec<(String, i64)> = crm_servicedesk::domain::priority::DEFAULT_PYRAMID
            .iter()
            .map(|(name, bps)| (name.to_string(), *bps))
            .collect();
        assert_eq!(desk, customers);
    }
}
