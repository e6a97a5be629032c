//! Departments, teams, reps, territories with account assignment, and quotas.

use crm_proto::common::v1::Money;
use crm_proto::sales::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::new_id;

/// Inserts a department (id set here).
pub async fn insert_department(conn: &mut Conn, d: &mut pb::Department) -> sqlx::Result<()> {
    d.id = new_id();
    sqlx::query("INSERT INTO departments (id, name, parent_id) VALUES ($1, $2, $3)")
        .bind(&d.id)
        .bind(&d.name)
        .bind(&d.parent_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every department by name.
pub async fn departments(conn: &mut Conn) -> sqlx::Result<Vec<pb::Department>> {
    let rows = sqlx::query("SELECT id, name, parent_id FROM departments ORDER BY name")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Department {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                parent_id: r.try_get("parent_id")?,
            })
        })
        .collect()
}

/// Inserts a team (id set here).
pub async fn insert_team(conn: &mut Conn, t: &mut pb::Team) -> sqlx::Result<()> {
    t.id = new_id();
    sqlx::query("INSERT INTO teams (id, name, department_id, manager_user_id) VALUES ($1, $2, $3, $4)")
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.department_id)
        .bind(&t.manager_user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every team by name.
pub async fn teams(conn: &mut Conn) -> sqlx::Result<Vec<pb::Team>> {
    let rows = sqlx::query("SELECT id, name, department_id, manager_user_id FROM teams ORDER BY name")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Team {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                department_id: r.try_get("department_id")?,
                manager_user_id: r.try_get("manager_user_id")?,
            })
        })
        .collect()
}

/// Inserts or updates a rep.
pub async fn upsert_rep(conn: &mut Conn, rep: &pb::Rep) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO reps (user_id, display_name, team_id, active) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, team_id = excluded.team_id, \
         active = excluded.active",
    )
    .bind(&rep.user_id)
    .bind(&rep.display_name)
    .bind(&rep.team_id)
    .bind(i64::from(rep.active))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Every rep by user id.
pub async fn reps(conn: &mut Conn) -> sqlx::Result<Vec<pb::Rep>> {
    let rows = sqlx::query("SELECT user_id, display_name, team_id, active FROM reps ORDER BY user_id")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Rep {
                user_id: r.try_get("user_id")?,
                display_name: r.try_get("display_name")?,
                team_id: r.try_get("team_id")?,
                active: r.try_get::<i64, _>("active")? != 0,
            })
        })
        .collect()
}

fn list(json: String) -> Vec<String> {
    serde_json::from_str(&json).unwrap_or_default()
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn territory(r: &AnyRow) -> sqlx::Result<pb::Territory> {
    Ok(pb::Territory {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        industries: list(r.try_get("industries")?),
        region_codes: list(r.try_get("region_codes")?),
        product_lines: list(r.try_get("product_lines")?),
        priority: r.try_get::<i64, _>("priority")? as i32,
        team_id: r.try_get("team_id")?,
        etag: r.try_get::<i64, _>("version")?.to_string(),
    })
}

const TERRITORY_COLUMNS: &str =
    "id, name, industries, region_codes, product_lines, priority, team_id, version";

/// Inserts a territory (id set here).
pub async fn insert_territory(conn: &mut Conn, t: &mut pb::Territory) -> sqlx::Result<()> {
    t.id = new_id();
    sqlx::query(
        "INSERT INTO territories (id, name, industries, region_codes, product_lines, priority, team_id, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1)",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(json(&t.industries))
    .bind(json(&t.region_codes))
    .bind(json(&t.product_lines))
    .bind(i64::from(t.priority))
    .bind(&t.team_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes a territory if its version is still `expected`.
pub async fn update_territory(conn: &mut Conn, t: &pb::Territory, expected: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE territories SET name = $1, industries = $2, region_codes = $3, product_lines = $4, priority = $5, \
         team_id = $6, version = version + 1 WHERE id = $7 AND version = $8",
    )
    .bind(&t.name)
    .bind(json(&t.industries))
    .bind(json(&t.region_codes))
    .bind(json(&t.product_lines))
    .bind(i64::from(t.priority))
    .bind(&t.team_id)
    .bind(&t.id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Deletes a territory; false when it did not exist.
pub async fn delete_territory(conn: &mut Conn, id: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM territories WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        == 1)
}

/// One territory.
pub async fn territory_by_id(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Territory>> {
    let mut q = SqlBuilder::new(&format!(
        "SELECT {TERRITORY_COLUMNS} FROM territories WHERE 1 = 1"
    ));
    q.and("id = {}", id);
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(territory)
        .transpose()
}

/// Every territory by name: account assignment applies them all (an organisation has tens to
/// hundreds).
pub async fn territories(conn: &mut Conn) -> sqlx::Result<Vec<pb::Territory>> {
    territories_page(conn, None, i64::MAX).await
}

/// Up to `limit` territories by name, after the name `after`.
pub async fn territories_page(
    conn: &mut Conn,
    after: Option<String>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Territory>> {
    let mut q = SqlBuilder::new(&format!(
        "SELECT {TERRITORY_COLUMNS} FROM territories WHERE 1 = 1"
    ));
    q.after("name", after.map(|name| vec![name]));
    q.order_limit("name", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(territory)
        .collect()
}

/// (party id, industry, region code, territory id) of up to `limit` active accounts after
/// `after`, by party id: all, or those of the parties `only` names.
pub async fn accounts_for_assignment(
    conn: &mut Conn,
    only: Option<&[String]>,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<(String, String, String, String)>> {
    let mut q = SqlBuilder::new(
        "SELECT party_id, industry, region_code, territory_id FROM accounts WHERE status = 'active'",
    );
    if let Some(ids) = only {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = q.in_list(ids.iter().map(String::as_str));
        q.push(&format!(" AND party_id IN ({list})"));
    }
    q.and("party_id > {}", after);
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY party_id LIMIT {limit}"));
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("party_id")?,
                r.try_get("industry")?,
                r.try_get("region_code")?,
                r.try_get("territory_id")?,
            ))
        })
        .collect()
}

/// Moves accounts to territories, `(party, territory)`, with one statement per 500.
pub async fn assign_many(conn: &mut Conn, moves: &[(String, String)]) -> sqlx::Result<()> {
    for chunk in crm_storage::insert_chunks(moves, 500) {
        let mut q = SqlBuilder::new("UPDATE accounts SET territory_id = v.column2 FROM (VALUES ");
        q.rows(
            chunk
                .iter()
                .map(|(party, territory)| [Arg::from(party.as_str()), Arg::from(territory.as_str())]),
        )
        .push(") AS v WHERE accounts.party_id = v.column1");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The territory of an account ("" when none), None for an unknown account.
pub async fn assignment(conn: &mut Conn, party_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT territory_id FROM accounts WHERE party_id = $1")
        .bind(party_id)
        .fetch_optional(&mut *conn)
        .await
}

/// Inserts or replaces a quota.
pub async fn set_quota(conn: &mut Conn, q: &pb::Quota) -> sqlx::Result<()> {
    let amount = q.amount.clone().unwrap_or_default();
    sqlx::query(
        "INSERT INTO quotas (owner_kind, owner_id, period, product_line, amount_minor, currency_code) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner_kind, owner_id, period, product_line) \
         DO UPDATE SET amount_minor = excluded.amount_minor, currency_code = excluded.currency_code",
    )
    .bind(i64::from(q.owner_kind))
    .bind(&q.owner_id)
    .bind(&q.period)
    .bind(&q.product_line)
    .bind(amount.amount_minor)
    .bind(&amount.currency_code)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A quota's key: owner kind, owner id, period, product line.
pub type QuotaKey = (i64, String, String, String);

/// Up to `limit` quotas after `after` in key order, filtered; empty filters match everything.
pub async fn quotas(
    conn: &mut Conn,
    owner_kind: i32,
    owner_id: &str,
    period: &str,
    after: Option<QuotaKey>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Quota>> {
    let mut q = SqlBuilder::new(
        "SELECT owner_kind, owner_id, period, product_line, amount_minor, currency_code FROM quotas WHERE 1 = 1",
    );
    if owner_kind != 0 {
        q.and("owner_kind = {}", i64::from(owner_kind));
    }
    if !owner_id.is_empty() {
        q.and("owner_id = {}", owner_id);
    }
    if !period.is_empty() {
        q.and("period = {}", period);
    }
    q.after(
        "owner_kind, owner_id, period, product_line",
        after.map(|k| vec![Arg::from(k.0), Arg::from(k.1), Arg::from(k.2), Arg::from(k.3)]),
    );
    q.order_limit("owner_kind, owner_id, period, product_line", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(pb::Quota {
                owner_kind: r.try_get::<i64, _>("owner_kind")? as i32,
                owner_id: r.try_get("owner_id")?,
                period: r.try_get("period")?,
                product_line: r.try_get("product_line")?,
                amount: Some(Money {
                    amount_minor: r.try_get("amount_minor")?,
                    currency_code: r.try_get("currency_code")?,
                }),
            })
        })
        .collect()
}
