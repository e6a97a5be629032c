//! Customer base analysis over time: tier migration, cohorts and retention, churn, new and
//! returning buyers, results by acquisition source, and penetration by region and industry.
//! Each answer is aggregated in SQL.

use chrono::NaiveDate;
use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::time::micros;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1::{self as pb, PartyStatus};

use super::CustomersApi;
use crate::domain::analysis::{Move, base_months, classify, month_boundaries, month_code, share_bps};
use crate::error::Result;
use crate::storage::{analysis, settings};

/// The most months one cohort table follows.
const MAX_MONTHS: u32 = 36;

impl CustomersApi {
    fn money(&self, amount_minor: i64) -> Option<Money> {
        Some(Money {
            amount_minor,
            currency_code: self.config.reporting_currency.clone(),
        })
    }

    pub(super) async fn handle_get_tier_migration(
        &self,
        _p: &Principal,
        req: pb::GetTierMigrationRequest,
    ) -> Result<pb::GetTierMigrationResponse> {
        let (from, to) = (
            req.from_time.as_ref().map(micros),
            req.to_time.as_ref().map(micros),
        );
        let mut v = Violations::new();
        v.check(from.is_none(), "from_time", "required");
        v.check(to.is_none(), "to_time", "required");
        v.check(
            from.zip(to).is_some_and(|(f, t)| t <= f),
            "to_time",
            "after from_time",
        );
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let order: Vec<String> = settings::value_tiers(&mut conn)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        let rows = analysis::tier_moves(&mut conn, from.unwrap_or_default(), to.unwrap_or_default()).await?;
        let mut out = pb::GetTierMigrationResponse::default();
        for (from_tier, to_tier, customers) in rows {
            let counter = match classify(&from_tier, &to_tier, &order) {
                Move::Up => &mut out.moved_up,
                Move::Down => &mut out.moved_down,
                Move::In => &mut out.moved_in,
                Move::Out => &mut out.moved_out,
                Move::Unchanged => &mut out.unchanged,
            };
            *counter += customers;
            if !(from_tier.is_empty() && to_tier.is_empty()) {
                out.moves.push(pb::TierMove {
                    from_tier,
                    to_tier,
                    customers,
                });
            }
        }
        Ok(out)
    }

    pub(super) async fn handle_get_cohort_retention(
        &self,
        _p: &Principal,
        req: pb::GetCohortRetentionRequest,
    ) -> Result<pb::GetCohortRetentionResponse> {
        let first = NaiveDate::parse_from_str(&format!("{}-01", req.from_month.trim()), "%Y-%m-%d").ok();
        let months = if req.months == 0 { 12 } else { req.months };
        let mut v = Violations::new();
        v.check(first.is_none(), "from_month", "a month such as 2026-01");
        v.check(!(1..=MAX_MONTHS as i32).contains(&months), "months", "1 to 36");
        v.finish()?;
        let months = u32::try_from(months).unwrap_or(12);
        let bounds = month_boundaries(first.unwrap_or_default(), months);
        let rows = analysis::cohorts(&mut *self.store.conn().await?, &bounds).await?;
        let mut cohorts: Vec<pb::Cohort> = bounds[..bounds.len() - 1]
            .iter()
            .enumerate()
            .map(|(i, start)| pb::Cohort {
                month: month_code(*start),
                active: vec![0; months as usize - i],
                ..Default::default()
            })
            .collect();
        for (cohort, month, customers) in rows {
            let (Ok(c), Ok(m)) = (usize::try_from(cohort), usize::try_from(month)) else {
                continue;
            };
            if let Some(slot) = cohorts
                .get_mut(c)
                .and_then(|row| m.checked_sub(c).and_then(|k| row.active.get_mut(k)))
            {
                *slot = customers;
            }
        }
        for cohort in &mut cohorts {
            cohort.customers = cohort.active.first().copied().unwrap_or(0);
            cohort.retention_bps = cohort
                .active
                .iter()
                .map(|a| share_bps(*a, cohort.customers))
                .collect();
        }
        Ok(pb::GetCohortRetentionResponse { cohorts })
    }

    pub(super) async fn handle_get_base_trends(
        &self,
        _p: &Principal,
        req: pb::GetBaseTrendsRequest,
    ) -> Result<pb::GetBaseTrendsResponse> {
        let period = crm_calendar::Period::parse(req.period.trim());
        let mut v = Violations::new();
        v.check(
            period.is_none(),
            "period",
            "a year, quarter or month such as 2026, 2026-Q4 or 2026-11",
        );
        v.finish()?;
        let period = period.expect("checked");
        let months = u32::try_from(period.months().len()).unwrap_or(1);
        let bounds = month_boundaries(period.start, months);
        let lost_after = i64::try_from(self.config.lost_after.as_micros()).unwrap_or(i64::MAX);
        let currency = &self.config.reporting_currency;
        let mut conn = self.store.conn().await?;
        let rows = analysis::trend_rows(&mut conn, &bounds, lost_after, currency).await?;
        let mut out = pb::GetBaseTrendsResponse::default();
        for (start, m) in bounds.iter().zip(base_months(&rows, bounds.len() - 1)) {
            out.months.push(pb::BaseMonth {
                month: month_code(*start),
                active_at_start: m.active_at_start,
                churned: m.churned,
                churn_rate_bps: share_bps(m.churned, m.active_at_start),
                new_customers: m.new_customers,
                returning_customers: m.returning_customers,
                revenue: self.money(m.revenue),
            });
        }
        let (start, end) = (bounds[0], bounds[bounds.len() - 1]);
        let active = PartyStatus::Active as i64;
        out.by_source = analysis::by_source(&mut conn, start, end, currency, active)
            .await?
            .into_iter()
            .map(
                |(source, parties, buyers, new_customers, revenue)| pb::SourceResult {
                    source,
                    parties,
                    buyers,
                    new_customers,
                    revenue: self.money(revenue),
                },
            )
            .collect();
        Ok(out)
    }

    pub(super) async fn handle_get_penetration(
        &self,
        _p: &Principal,
        _req: pb::GetPenetrationRequest,
    ) -> Result<pb::GetPenetrationResponse> {
        let mut conn = self.store.conn().await?;
        let active = PartyStatus::Active as i64;
        let rows = |found: Vec<(String, i64, i64, i64)>| {
            found
                .into_iter()
                .map(|(key, customers, prospects, lost)| pb::PenetrationRow {
                    key,
                    customers,
                    prospects,
                    lost,
                    penetration_bps: share_bps(customers, customers + prospects),
                })
                .collect()
        };
        Ok(pb::GetPenetrationResponse {
            by_region: rows(analysis::penetration(&mut conn, "region_code", active).await?),
            by_industry: rows(analysis::penetration(&mut conn, "industry", active).await?),
        })
    }
}
