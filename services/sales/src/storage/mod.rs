//! SQL for the sales database, the same statements on PostgreSQL and SQLite. Functions take
//! the connection (or transaction) they run in.

pub mod accounts;
pub mod activities;
pub mod alerts;
pub mod catalog;
pub mod channel_partners;
pub mod competitors;
pub mod leads;
pub mod opportunities;
pub mod orders;
pub mod org;
pub mod quotes;
pub mod reassignment;
pub mod reporting;
pub mod stages;
pub mod tasks;

pub use crm_platform::time::{micros, new_id, timestamp};

use crm_storage::{Arg, SqlBuilder};

use crate::domain::rules::VisibleRecords;

/// The statement of a list page: up to `limit` rows (`columns`) of `table` with ids after
/// `after`, each `filters` column equal to its value and each of `conditions` (SQL without
/// arguments) true, that `visible` admits, in id order. With a
/// scope narrower than all, each of its keys (the user, a team, a territory) is read in id order
/// from its own (key, id) index up to `limit`, and the union is cut to `limit`: a seller's page
/// holds a page of their records, however few of the base they are. None when nothing is visible.
pub fn visible_page(
    columns: &str,
    table: &str,
    filters: &[(&str, Arg)],
    conditions: &[&str],
    visible: &VisibleRecords,
    after: &str,
    limit: i64,
) -> Option<SqlBuilder> {
    let keys: Vec<Option<(&str, &str)>> = match visible {
        VisibleRecords::All => vec![None],
        VisibleRecords::Where(keys) if keys.is_empty() => return None,
        VisibleRecords::Where(keys) => keys.iter().map(|(c, v)| Some((*c, v.as_str()))).collect(),
    };
    let mut q = SqlBuilder::new("");
    let mut selects = Vec::with_capacity(keys.len());
    for key in keys {
        let mut wheres = vec![format!("id > {}", q.arg(after))];
        for (column, value) in filters {
            wheres.push(format!("{column} = {}", q.arg(value.clone())));
        }
        wheres.extend(conditions.iter().map(|c| c.to_string()));
        if let Some((column, value)) = key {
            wheres.push(format!("{column} = {}", q.arg(value)));
        }
        let limit = q.arg(limit);
        selects.push(format!(
            "SELECT {columns} FROM {table} WHERE {} ORDER BY id LIMIT {limit}",
            wheres.join(" AND ")
        ));
    }
    if let [only] = selects.as_slice() {
        q.push(only);
    } else {
        let branches: Vec<String> = selects
            .iter()
            .enumerate()
            .map(|(i, select)| format!("SELECT * FROM ({select}) AS key_{i}"))
            .collect();
        let limit = q.arg(limit);
        // UNION, not UNION ALL: a record may be both the user's own and their team's.
        q.push(&format!(
            "SELECT {columns} FROM ({}) AS visible ORDER BY id LIMIT {limit}",
            branches.join(" UNION ")
        ));
    }
    Some(q)
}

/// Line items stored as JSON (always read and written whole with their quote or order).
pub mod lines {
    use crm_proto::common::v1::Money;
    use crm_proto::sales::v1 as pb;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    struct Line {
        product_id: String,
        quantity: i64,
        unit_price_minor: i64,
        discount_bps: i32,
        net_minor: i64,
        product_line: String,
        description: String,
        // Lines stored before products had costs have none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit_cost_minor: Option<i64>,
    }

    /// JSON of `lines`.
    pub fn to_json(lines: &[pb::LineItem]) -> String {
        let rows: Vec<Line> = lines
            .iter()
            .map(|l| Line {
                product_id: l.product_id.clone(),
                quantity: l.quantity,
                unit_price_minor: l.unit_price.as_ref().map(|m| m.amount_minor).unwrap_or_default(),
                discount_bps: l.discount_bps,
                net_minor: l.net.as_ref().map(|m| m.amount_minor).unwrap_or_default(),
                product_line: l.product_line.clone(),
                description: l.description.clone(),
                unit_cost_minor: l.unit_cost.as_ref().map(|m| m.amount_minor),
            })
            .collect();
        serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
    }

    /// Lines from JSON, with amounts in `currency`.
    pub fn from_json(json: &str, currency: &str) -> Vec<pb::LineItem> {
        let rows: Vec<Line> = serde_json::from_str(json).unwrap_or_default();
        let money = |amount_minor| {
            Some(Money {
                amount_minor,
                currency_code: currency.to_string(),
            })
        };
        rows.into_iter()
            .map(|l| pb::LineItem {
                product_id: l.product_id,
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor),
                discount_bps: l.discount_bps,
                net: money(l.net_minor),
                product_line: l.product_line,
                description: l.description,
                unit_cost: l.unit_cost_minor.and_then(money),
            })
            .collect()
    }

    /// What the goods of `lines` cost: quantity x unit cost over the lines with a cost.
    pub fn cost_minor(lines: &[pb::LineItem]) -> i64 {
        lines
            .iter()
            .filter_map(|l| Some(l.quantity.saturating_mul(l.unit_cost.as_ref()?.amount_minor)))
            .fold(0i64, i64::saturating_add)
    }
}
