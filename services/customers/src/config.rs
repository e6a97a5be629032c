//! Settings of the customers service.

use std::time::Duration;

use clap::Args;
use crm_platform::config::{parse_currency, parse_duration};

use crate::domain::contribution::CaseCosts;

/// The customers service's own settings (`crm serve customers --help`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Customers")]
pub struct CustomersSettings {
    /// Records not verified for this long are due for verification: customer data is confirmed
    /// every quarter by default (a customer confirming or correcting their own contact data
    /// counts).
    #[arg(long, env = "CRM_VERIFICATION_PERIOD", default_value = "90d", value_parser = parse_duration)]
    pub verification_period: Duration,
    /// Currency of the value figures (lifetime and trailing-12-month revenue) and of marketing's
    /// monetary figures. Orders in other currencies are recorded but not added up.
    #[arg(long, env = "CRM_REPORTING_CURRENCY", default_value = "USD", value_parser = parse_currency)]
    pub reporting_currency: String,
    /// Orders within twelve months that make a customer loyal.
    #[arg(long, env = "CRM_LOYAL_MIN_ORDERS", default_value_t = 3)]
    pub loyal_min_orders: i64,
    /// Silence after the last order after which a customer is lost: at least 31d, as churn is
    /// reported by month.
    #[arg(long, env = "CRM_LOST_AFTER", default_value = "365d", value_parser = parse_lost_after)]
    pub lost_after: Duration,
    /// How often tiers are re-ranked after order events changed values.
    #[arg(long, env = "CRM_VALUE_REFRESH_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub value_refresh_interval: Duration,
    /// How long RecomputeValueTiers goes on storing the ranks and tiers it moves, a range of
    /// parties per transaction, before answering with the re-ranking still under way (within
    /// half the caller's deadline; GetValuePyramid follows it, and a job on the value refresh
    /// interval finishes it).
    #[arg(long, env = "CRM_RANKING_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub ranking_wait: Duration,
    /// How often every party with orders is refreshed (trailing revenue decays with time).
    #[arg(long = "value-sweep-interval", env = "CRM_VALUE_SWEEP_INTERVAL", default_value = "6h",
          value_parser = parse_duration)]
    pub full_value_sweep_interval: Duration,
    /// The window value is ranked over: the pyramid and the tiers follow each customer's
    /// contribution (gross margin less cost to serve) within it; lifetime figures are kept beside.
    #[arg(long, env = "CRM_VALUE_WINDOW", default_value = "365d", value_parser = parse_duration)]
    pub value_window: Duration,
    /// The cost to serve: what one service case costs by its priority, in the reporting
    /// currency, e.g. `1=120.00,2=60.00,3=25.00,4=10.00`. Unset: unknown, and contribution is
    /// the gross margin alone.
    #[arg(long, env = "CRM_CASE_COST", default_value = "", value_parser = CaseCosts::parse)]
    pub case_cost: CaseCosts,
    /// How often parties written in bulk (imports) are checked for duplicates.
    #[arg(long, env = "CRM_DUPLICATE_CHECK_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub duplicate_check_interval: Duration,
}

/// A lost-after silence of at least a month: the base trends count the customers lost within
/// each month from spells of activity, and a spell shorter than a month could begin and end
/// unseen between two month starts.
fn parse_lost_after(s: &str) -> Result<Duration, String> {
    let silence = parse_duration(s)?;
    if silence < Duration::from_secs(31 * 86_400) {
        return Err(format!("{s:?} is shorter than a month: use 31d or more"));
    }
    Ok(silence)
}

impl Default for CustomersSettings {
    /// The documented defaults.
    fn default() -> Self {
        crm_platform::config::defaults()
    }
}

impl CustomersSettings {
    /// The lifecycle rules.
    pub fn lifecycle_rules(&self) -> crate::domain::lifecycle::LifecycleRules {
        crate::domain::lifecycle::LifecycleRules {
            loyal_min_orders: self.loyal_min_orders,
            lost_after_micros: self.lost_after.as_micros() as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_is_lost_after_a_month_or_more() {
        assert_eq!(parse_lost_after("31d"), Ok(Duration::from_secs(31 * 86_400)));
        assert!(parse_lost_after("30d").unwrap_err().contains("31d or more"));
        assert!(parse_lost_after("a year").is_err());
    }
}
