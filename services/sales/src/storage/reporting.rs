//! Reads for reports: opportunities with their stage history, and orders in a period.

use std::collections::HashMap;

use crm_proto::sales::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use super::{lines, opportunities};

/// Which opportunities and orders a report covers.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// One owner.
    pub owner_id: String,
    /// Some teams (None: any).
    pub team_ids: Option<Vec<String>>,
    /// One territory.
    pub territory_id: String,
}

/// Opportunities in scope with their stage history.
pub async fn opportunities(conn: &mut Conn, scope: &Scope) -> sqlx::Result<Vec<pb::Opportunity>> {
    let mut out = Vec::new();
    let mut after = String::new();
    loop {
        let page = opportunities::list(conn, "", &scope.owner_id, "", 0, &after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        let full = page.len() == 1000;
        out.extend(page.into_iter().filter(|o| {
            (scope.territory_id.is_empty() || o.territory_id == scope.territory_id)
                && scope
                    .team_ids
                    .as_ref()
                    .is_none_or(|teams| teams.contains(&o.team_id))
        }));
        if !full {
            break;
        }
    }
    let mut histories: HashMap<String, Vec<pb::StageHistoryEntry>> = HashMap::new();
    for chunk in out.chunks(500) {
        let mut q = SqlBuilder::new(
            "SELECT opportunity_id, stage_code, entered_at, left_at, planned_leave_date FROM stage_history WHERE opportunity_id IN (",
        );
        let list = q.in_list(chunk.iter().map(|o| o.id.clone()));
        q.push(&list).push(") ORDER BY opportunity_id, seq");
        for r in q.build().fetch_all(&mut *conn).await? {
            histories
                .entry(r.try_get("opportunity_id")?)
                .or_default()
                .push(pb::StageHistoryEntry {
                    stage_code: r.try_get("stage_code")?,
                    enter_time: Some(super::timestamp(r.try_get("entered_at")?)),
                    leave_time: r.try_get::<Option<i64>, _>("left_at")?.map(super::timestamp),
                    planned_leave_date: r.try_get("planned_leave_date")?,
                });
        }
    }
    for o in &mut out {
        o.stage_history = histories.remove(&o.id).unwrap_or_default();
    }
    Ok(out)
}

/// A counted order (placed or fulfilled) for attainment.
#[derive(Debug, Clone)]
pub struct WonOrder {
    /// Selling rep.
    pub owner_id: String,
    /// Their team at the time.
    pub team_id: String,
    /// Total after discounts.
    pub total_minor: i64,
    /// Currency.
    pub currency_code: String,
    /// Line nets by product line.
    pub by_product_line: HashMap<String, i64>,
}

/// Orders placed in [from, to) that still count (not cancelled or returned).
pub async fn won_orders(conn: &mut Conn, from: i64, to: i64) -> sqlx::Result<Vec<WonOrder>> {
    let rows = sqlx::query(
        "SELECT owner_id, team_id, total_minor, currency_code, lines FROM orders \
         WHERE placed_at >= $1 AND placed_at < $2 AND status IN ($3, $4)",
    )
    .bind(from)
    .bind(to)
    .bind(pb::OrderStatus::Placed as i64)
    .bind(pb::OrderStatus::Fulfilled as i64)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let currency: String = r.try_get("currency_code")?;
            let mut by_product_line: HashMap<String, i64> = HashMap::new();
            for line in lines::from_json(&r.try_get::<String, _>("lines")?, &currency) {
                *by_product_line.entry(line.product_line).or_default() +=
                    line.net.map(|m| m.amount_minor).unwrap_or_default();
            }
            Ok(WonOrder {
                owner_id: r.try_get("owner_id")?,
                team_id: r.try_get("team_id")?,
                total_minor: r.try_get("total_minor")?,
                currency_code: currency,
                by_product_line,
            })
        })
        .collect()
}
