//! Scorecard inputs (complaints, returns), evaluations and settings.

use crm_proto::partners::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;

use super::partners::{Reach, tree};
use super::timestamp;
use crate::domain::scorecard::Settings;

/// Records a complaint once per reference.
pub async fn record_complaint(
    conn: &mut Conn,
    partner_id: &str,
    reference: &str,
    on: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query("INSERT INTO complaints (partner_id, reference, occurred_on) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(partner_id)
        .bind(reference)
        .bind(on)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// Complaints about a partner and everything below it in `[from, to)` (days).
pub async fn complaints(conn: &mut Conn, partner_id: &str, from: &str, to: &str) -> sqlx::Result<i64> {
    let mut q = SqlBuilder::new("");
    let tree = tree(&mut q, Reach::Tree(partner_id)).unwrap_or_default();
    q.push(&format!(
        "WITH RECURSIVE {tree} SELECT COUNT(*) AS n FROM complaints c JOIN tree t ON t.id = c.partner_id WHERE 1 = 1"
    ));
    q.and("c.occurred_on >= {}", from).and("c.occurred_on < {}", to);
    q.build().fetch_one(&mut *conn).await?.try_get("n")
}

/// Records a returned order on a partner's channel.
pub async fn record_return(
    conn: &mut Conn,
    order_id: &str,
    partner_id: &str,
    amount: i64,
    currency: &str,
    on: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO partner_returns (order_id, partner_id, amount_minor, currency_code, returned_on) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id)
    .bind(partner_id)
    .bind(amount)
    .bind(currency)
    .bind(on)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What was returned on the channels of a partner and everything below it in `[from, to)`
/// (days), in `currency`.
pub async fn returned(
    conn: &mut Conn,
    partner_id: &str,
    from: &str,
    to: &str,
    currency: &str,
) -> sqlx::Result<i64> {
    let mut q = SqlBuilder::new("");
    let tree = tree(&mut q, Reach::Tree(partner_id)).unwrap_or_default();
    q.push(&format!(
        "WITH RECURSIVE {tree} SELECT CAST(COALESCE(SUM(r.amount_minor), 0) AS BIGINT) AS n \
         FROM partner_returns r JOIN tree t ON t.id = r.partner_id WHERE 1 = 1"
    ));
    q.and("r.returned_on >= {}", from).and("r.returned_on < {}", to);
    q.and("r.currency_code = {}", currency);
    q.build().fetch_one(&mut *conn).await?.try_get("n")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredKpi {
    name: String,
    value: i64,
    score: i32,
    weight_bps: i32,
}

/// Keeps an evaluation in the history.
pub async fn insert(conn: &mut Conn, s: &pb::Scorecard, now: i64) -> sqlx::Result<()> {
    let next: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM scorecards WHERE partner_id = $1")
            .bind(&s.partner_id)
            .fetch_one(&mut *conn)
            .await?;
    let kpis: Vec<StoredKpi> = s
        .kpis
        .iter()
        .map(|k| StoredKpi {
            name: k.name.clone(),
            value: k.value,
            score: k.score,
            weight_bps: k.weight_bps,
        })
        .collect();
    sqlx::query(
        "INSERT INTO scorecards (partner_id, seq, period, kpis, score, recommendation, evaluated_at, evaluator_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&s.partner_id)
    .bind(next)
    .bind(&s.period)
    .bind(serde_json::to_string(&kpis).unwrap_or_default())
    .bind(i64::from(s.score))
    .bind(i64::from(s.recommendation))
    .bind(now)
    .bind(&s.evaluator_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` of a partner's evaluations with their sequence numbers, newest first, before
/// the sequence number `before`.
pub async fn history(
    conn: &mut Conn,
    partner_id: &str,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, pb::Scorecard)>> {
    let mut q = SqlBuilder::new(
        "SELECT seq, partner_id, period, kpis, score, recommendation, evaluated_at, evaluator_id FROM scorecards \
         WHERE 1 = 1",
    );
    q.and("partner_id = {}", partner_id);
    q.before("seq", before.map(|seq| vec![seq]));
    q.order_limit("seq DESC", limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            let kpis: Vec<StoredKpi> =
                serde_json::from_str(&r.try_get::<String, _>("kpis")?).unwrap_or_default();
            Ok((
                r.try_get("seq")?,
                pb::Scorecard {
                    partner_id: r.try_get("partner_id")?,
                    period: r.try_get("period")?,
                    kpis: kpis
                        .into_iter()
                        .map(|k| pb::Kpi {
                            name: k.name,
                            value: k.value,
                            score: k.score,
                            weight_bps: k.weight_bps,
                        })
                        .collect(),
                    score: r.try_get::<i64, _>("score")? as i32,
                    recommendation: r.try_get::<i64, _>("recommendation")? as i32,
                    evaluate_time: Some(timestamp(r.try_get("evaluated_at")?)),
                    evaluator_id: r.try_get("evaluator_id")?,
                },
            ))
        })
        .collect()
}

const SETTINGS_KEY: &str = "scorecard_settings";

/// The scorecard settings (defaults until changed).
pub async fn settings(conn: &mut Conn) -> sqlx::Result<Settings> {
    let stored: Option<String> = sqlx::query_scalar("SELECT value FROM partner_settings WHERE key = $1")
        .bind(SETTINGS_KEY)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(stored
        .and_then(|s| serde_json::from_str::<[i32; 6]>(&s).ok())
        .map(|[a, g, c, r, p, d]| Settings {
            attainment_weight_bps: a,
            growth_weight_bps: g,
            complaints_weight_bps: c,
            returns_weight_bps: r,
            promote_at: p,
            demote_below: d,
        })
        .unwrap_or_default())
}

/// Stores the scorecard settings.
pub async fn set_settings(conn: &mut Conn, s: &Settings) -> sqlx::Result<()> {
    let value = [
        s.attainment_weight_bps,
        s.growth_weight_bps,
        s.complaints_weight_bps,
        s.returns_weight_bps,
        s.promote_at,
        s.demote_below,
    ];
    sqlx::query("INSERT INTO partner_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(SETTINGS_KEY)
        .bind(serde_json::to_string(&value).unwrap_or_default())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
