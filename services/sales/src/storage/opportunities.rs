//! Opportunities and their stage history.

use crm_proto::common::v1::Money;
use crm_proto::sales::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{new_id, timestamp};
use crate::domain::rules::VisibleRecords;

const COLUMNS: &str = "id, name, party_id, stage_code, amount_minor, currency_code, expected_close_date, owner_id, \
    team_id, territory_id, next_step, competitor_ids, products, status, lost_reason, lead_id, version, created_at, \
    closed_at";

fn from_row(row: &AnyRow) -> sqlx::Result<pb::Opportunity> {
    let products: Vec<(String, i64)> =
        serde_json::from_str(&row.try_get::<String, _>("products")?).unwrap_or_default();
    Ok(pb::Opportunity {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        party_id: row.try_get("party_id")?,
        stage_code: row.try_get("stage_code")?,
        amount: Some(Money {
            amount_minor: row.try_get("amount_minor")?,
            currency_code: row.try_get("currency_code")?,
        }),
        expected_close_date: row.try_get("expected_close_date")?,
        owner_id: row.try_get("owner_id")?,
        team_id: row.try_get("team_id")?,
        territory_id: row.try_get("territory_id")?,
        next_step: row.try_get("next_step")?,
        competitor_ids: serde_json::from_str(&row.try_get::<String, _>("competitor_ids")?)
            .unwrap_or_default(),
        products: products
            .into_iter()
            .map(|(product_id, quantity)| pb::OpportunityProduct { product_id, quantity })
            .collect(),
        status: row.try_get::<i64, _>("status")? as i32,
        lost_reason: row.try_get("lost_reason")?,
        lead_id: row.try_get("lead_id")?,
        stage_history: Vec::new(),
        create_time: Some(timestamp(row.try_get("created_at")?)),
        close_time: row.try_get::<Option<i64>, _>("closed_at")?.map(timestamp),
        etag: row.try_get::<i64, _>("version")?.to_string(),
        win_probability_bps: 0,
        competitor_names: Vec::new(),
    })
}

/// Fills the competitor names of `opportunities` with one lookup.
async fn name_competitors(conn: &mut Conn, opportunities: &mut [pb::Opportunity]) -> sqlx::Result<()> {
    let ids: Vec<&str> = opportunities
        .iter()
        .flat_map(|o| o.competitor_ids.iter().map(String::as_str))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let names = super::competitors::names(conn, &ids).await?;
    for o in opportunities {
        o.competitor_names = o
            .competitor_ids
            .iter()
            .map(|id| names.get(id).cloned().unwrap_or_default())
            .collect();
    }
    Ok(())
}

fn products_json(o: &pb::Opportunity) -> String {
    let list: Vec<(&str, i64)> = o
        .products
        .iter()
        .map(|p| (p.product_id.as_str(), p.quantity))
        .collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

fn amount(o: &pb::Opportunity) -> (i64, String) {
    o.amount
        .as_ref()
        .map(|m| (m.amount_minor, m.currency_code.clone()))
        .unwrap_or_default()
}

/// Inserts an opportunity in `o.stage_code` (id set here) and opens its first stage visit.
pub async fn insert(conn: &mut Conn, o: &mut pb::Opportunity, now: i64) -> sqlx::Result<()> {
    insert_at(conn, o, now, now).await
}

/// Inserts an opportunity created at `created_at` (an import keeps the source's time) with its
/// status, close time and lost reason, in a stage visit entered at `stage_entered_at`.
pub async fn insert_at(
    conn: &mut Conn,
    o: &mut pb::Opportunity,
    created_at: i64,
    stage_entered_at: i64,
) -> sqlx::Result<()> {
    o.id = new_id();
    let (amount_minor, currency) = amount(o);
    sqlx::query(
        "INSERT INTO opportunities (id, name, party_id, stage_code, amount_minor, currency_code, expected_close_date, \
         owner_id, team_id, territory_id, next_step, competitor_ids, products, status, lead_id, version, created_at, \
         lost_reason, closed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $17, $18)",
    )
    .bind(&o.id)
    .bind(&o.name)
    .bind(&o.party_id)
    .bind(&o.stage_code)
    .bind(amount_minor)
    .bind(currency)
    .bind(&o.expected_close_date)
    .bind(&o.owner_id)
    .bind(&o.team_id)
    .bind(&o.territory_id)
    .bind(&o.next_step)
    .bind(serde_json::to_string(&o.competitor_ids).unwrap_or_default())
    .bind(products_json(o))
    .bind(i64::from(o.status))
    .bind(&o.lead_id)
    .bind(created_at)
    .bind(&o.lost_reason)
    .bind(o.close_time.as_ref().map(super::micros))
    .execute(&mut *conn)
    .await?;
    enter_stage(conn, &o.id, &o.stage_code, "", stage_entered_at).await
}

/// One opportunity with its history.
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Opportunity>> {
    let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM opportunities WHERE 1 = 1"));
    q.and("id = {}", id);
    let Some(row) = q.build().fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let mut o = from_row(&row)?;
    o.stage_history = history(conn, id).await?;
    name_competitors(conn, std::slice::from_mut(&mut o)).await?;
    Ok(Some(o))
}

/// Who holds each of `ids` that exists, by id: (owner, team, territory), what the read rules
/// look at. One statement for a page of quotes, however many opportunities they belong to.
pub async fn holders(
    conn: &mut Conn,
    ids: &[&str],
) -> sqlx::Result<std::collections::HashMap<String, (String, String, String)>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let mut q =
        SqlBuilder::new("SELECT id, owner_id, team_id, territory_id FROM opportunities WHERE id IN (");
    let list = q.in_list(ids.iter().copied());
    q.push(&format!("{list})"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                (
                    r.try_get("owner_id")?,
                    r.try_get("team_id")?,
                    r.try_get("territory_id")?,
                ),
            ))
        })
        .collect()
}

/// The stage visits of an opportunity, oldest first.
pub async fn history(conn: &mut Conn, id: &str) -> sqlx::Result<Vec<pb::StageHistoryEntry>> {
    let rows = sqlx::query(
        "SELECT stage_code, entered_at, left_at, planned_leave_date FROM stage_history WHERE opportunity_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::StageHistoryEntry {
                stage_code: r.try_get("stage_code")?,
                enter_time: Some(timestamp(r.try_get("entered_at")?)),
                leave_time: r.try_get::<Option<i64>, _>("left_at")?.map(timestamp),
                planned_leave_date: r.try_get("planned_leave_date")?,
            })
        })
        .collect()
}

/// What ListOpportunities and ExportOpportunities filter by (empty or 0: any).
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter<'a> {
    /// Of one party.
    pub party_id: &'a str,
    /// Of one owner.
    pub owner_id: &'a str,
    /// At one stage.
    pub stage_code: &'a str,
    /// In one status.
    pub status: i32,
}

/// Up to `limit` opportunities matching `filter` that `visible` admits, after the id `after`, in
/// id order (see [`super::visible_page`]).
pub async fn list(
    conn: &mut Conn,
    filter: ListFilter<'_>,
    visible: &VisibleRecords,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Opportunity>> {
    let filters: Vec<(&str, Arg)> = [
        ("party_id", filter.party_id),
        ("owner_id", filter.owner_id),
        ("stage_code", filter.stage_code),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(column, value)| (column, Arg::from(value)))
    .chain((filter.status != 0).then(|| ("status", Arg::Int(i64::from(filter.status)))))
    .collect();
    let Some(q) = super::visible_page(COLUMNS, "opportunities", &filters, &[], visible, after, limit) else {
        return Ok(Vec::new());
    };
    let mut page = q
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    name_competitors(conn, &mut page).await?;
    Ok(page)
}

/// Writes the editable fields, stage, status and close data if the version is still `expected`.
pub async fn update(
    conn: &mut Conn,
    o: &pb::Opportunity,
    expected: i64,
    closed_at: Option<i64>,
) -> sqlx::Result<bool> {
    let (amount_minor, currency) = amount(o);
    Ok(sqlx::query(
        "UPDATE opportunities SET name = $1, stage_code = $2, amount_minor = $3, currency_code = $4, \
         expected_close_date = $5, owner_id = $6, team_id = $7, territory_id = $8, next_step = $9, competitor_ids = $10, \
         products = $11, status = $12, lost_reason = $13, closed_at = $14, version = version + 1 \
         WHERE id = $15 AND version = $16",
    )
    .bind(&o.name)
    .bind(&o.stage_code)
    .bind(amount_minor)
    .bind(currency)
    .bind(&o.expected_close_date)
    .bind(&o.owner_id)
    .bind(&o.team_id)
    .bind(&o.territory_id)
    .bind(&o.next_step)
    .bind(serde_json::to_string(&o.competitor_ids).unwrap_or_default())
    .bind(products_json(o))
    .bind(i64::from(o.status))
    .bind(&o.lost_reason)
    .bind(closed_at)
    .bind(&o.id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Closes the current stage visit and opens one for `stage` (with an optional plan), which the
/// opportunity keeps as its current visit.
pub async fn enter_stage(conn: &mut Conn, id: &str, stage: &str, planned: &str, at: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE stage_history SET left_at = $1 WHERE opportunity_id = $2 AND left_at IS NULL")
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let next: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM stage_history WHERE opportunity_id = $1")
            .bind(id)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query(
        "INSERT INTO stage_history (opportunity_id, seq, stage_code, entered_at, planned_leave_date) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(next)
    .bind(stage)
    .bind(at)
    .bind(planned)
    .execute(&mut *conn)
    .await?;
    // The current visit, kept on the opportunity too: the alert job finds the late deals by it.
    sqlx::query("UPDATE opportunities SET stage_entered_at = $1, stage_plan = $2 WHERE id = $3")
        .bind(at)
        .bind(planned)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Sets the planned leave date of the latest visit of `stage` (or of a future visit: the plan is
/// kept on the open visit when the opportunity is in that stage, otherwise recorded for later).
pub async fn set_plan(conn: &mut Conn, id: &str, stage: &str, planned: &str) -> sqlx::Result<()> {
    let latest: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(seq) FROM stage_history WHERE opportunity_id = $1 AND stage_code = $2",
    )
    .bind(id)
    .bind(stage)
    .fetch_one(&mut *conn)
    .await?;
    match latest {
        Some(seq) => {
            sqlx::query(
                "UPDATE stage_history SET planned_leave_date = $1 WHERE opportunity_id = $2 AND seq = $3",
            )
            .bind(planned)
            .bind(id)
            .bind(seq)
            .execute(&mut *conn)
            .await?;
            // The latest visit of the opportunity's own stage is its current visit.
            sqlx::query("UPDATE opportunities SET stage_plan = $1 WHERE id = $2 AND stage_code = $3")
                .bind(planned)
                .bind(id)
                .bind(stage)
                .execute(&mut *conn)
                .await?;
        }
        None => {
            // Not visited yet: keep the plan in a placeholder visit with no times, picked up on entry.
            sqlx::query(
                "INSERT INTO stage_plans_pending (opportunity_id, stage_code, planned_leave_date) VALUES ($1, $2, $3) \
                 ON CONFLICT (opportunity_id, stage_code) DO UPDATE SET planned_leave_date = excluded.planned_leave_date",
            )
            .bind(id)
            .bind(stage)
            .bind(planned)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// A plan recorded for a stage not visited yet.
pub async fn pending_plan(conn: &mut Conn, id: &str, stage: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT planned_leave_date FROM stage_plans_pending WHERE opportunity_id = $1 AND stage_code = $2",
    )
    .bind(id)
    .bind(stage)
    .fetch_optional(&mut *conn)
    .await
}
