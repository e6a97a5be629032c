//! Parties with their contact points and tags.

use std::collections::HashMap;

use crm_proto::common::v1::Money;
use crm_proto::customers::v1::{self as pb, PartyStatus};
use crm_storage::imports::{NewRowKey, RowKeys};
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{name_search, new_id, timestamp};
use crate::domain::party as rules;

const COLUMNS: &str = "id, kind, display_name, given_name, family_name, organization_name, industry, company_size, \
    region_code, attributes, owner_id, team_id, source, birth_date, lifecycle_stage, status, merged_into_id, \
    lifetime_revenue_minor, trailing_12m_revenue_minor, currency_code, contribution_rank, tier, version, \
    created_at, updated_at, verified_at, external_id, window_contribution_minor, lifetime_contribution_minor, \
    window_cost_to_serve_minor, window_revenue_minor";

fn from_row(row: &AnyRow) -> sqlx::Result<pb::Party> {
    let currency: String = row.try_get("currency_code")?;
    let attributes: String = row.try_get("attributes")?;
    let money = |amount: i64| {
        Some(Money {
            amount_minor: amount,
            currency_code: currency.clone(),
        })
    };
    Ok(pb::Party {
        id: row.try_get("id")?,
        kind: row.try_get::<i64, _>("kind")? as i32,
        display_name: row.try_get("display_name")?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        organization_name: row.try_get("organization_name")?,
        contact_points: Vec::new(),
        industry: row.try_get("industry")?,
        company_size: row.try_get::<i64, _>("company_size")? as i32,
        region_code: row.try_get("region_code")?,
        tags: Vec::new(),
        attributes: serde_json::from_str(&attributes).unwrap_or_default(),
        owner_id: row.try_get("owner_id")?,
        team_id: row.try_get("team_id")?,
        source: row.try_get("source")?,
        lifecycle_stage: row.try_get::<i64, _>("lifecycle_stage")? as i32,
        value: Some(pb::PartyValue {
            lifetime_revenue: money(row.try_get("lifetime_revenue_minor")?),
            trailing_12m_revenue: money(row.try_get("trailing_12m_revenue_minor")?),
            contribution_rank: row.try_get("contribution_rank")?,
            tier: row.try_get("tier")?,
            window_contribution: money(row.try_get("window_contribution_minor")?),
            lifetime_contribution: money(row.try_get("lifetime_contribution_minor")?),
            window_cost_to_serve: money(row.try_get("window_cost_to_serve_minor")?),
            window_revenue: money(row.try_get("window_revenue_minor")?),
        }),
        status: row.try_get::<i64, _>("status")? as i32,
        merged_into_id: row
            .try_get::<Option<String>, _>("merged_into_id")?
            .unwrap_or_default(),
        create_time: Some(timestamp(row.try_get("created_at")?)),
        update_time: Some(timestamp(row.try_get("updated_at")?)),
        verify_time: Some(timestamp(row.try_get("verified_at")?)),
        etag: row.try_get::<i64, _>("version")?.to_string(),
        birth_date: row.try_get("birth_date")?,
        external_id: row.try_get("external_id")?,
    })
}

/// Inserts a new party (id, version and timestamps are set here) with its contact points and
/// tags, and indexes its name for search.
pub async fn insert(conn: &mut Conn, party: &mut pb::Party, currency: &str, now: i64) -> sqlx::Result<()> {
    insert_many(conn, std::slice::from_mut(party), &[now], &[], currency).await?;
    name_search::index(conn, &[(party.id.as_str(), rules::name_key(party).as_str())]).await
}

/// The import keys of parties (kept on their rows).
pub const IMPORT_KEYS: RowKeys = RowKeys::new("parties");

/// Inserts new parties with multi-row statements; `created_at[i]` is the creation time of
/// `parties[i]` (an import keeps the source system's) and `keys[i]`, when given, its import key.
/// Ids, status, versions, times and the (empty) value are set here, so that each party is left
/// as [`load`] would read it back. Their names are not indexed for search here: an import leaves
/// that to the duplicate check job (see `duplicates::check_due`), as it does the checks.
pub async fn insert_many(
    conn: &mut Conn,
    parties: &mut [pb::Party],
    created_at: &[i64],
    keys: &[NewRowKey<'_>],
    currency: &str,
) -> sqlx::Result<()> {
    for (party, at) in parties.iter_mut().zip(created_at) {
        party.id = new_id();
        party.status = PartyStatus::Active as i32;
        party.merged_into_id.clear();
        for cp in &mut party.contact_points {
            cp.id = new_id();
        }
        let zero = Some(Money {
            amount_minor: 0,
            currency_code: currency.to_string(),
        });
        party.value = Some(pb::PartyValue {
            lifetime_revenue: zero.clone(),
            trailing_12m_revenue: zero.clone(),
            contribution_rank: 0,
            tier: String::new(),
            window_contribution: zero.clone(),
            lifetime_contribution: zero.clone(),
            window_cost_to_serve: zero.clone(),
            window_revenue: zero,
        });
        let time = Some(timestamp(*at));
        (party.create_time, party.update_time, party.verify_time) = (time, time, time);
        party.etag = "1".into();
    }
    let rows: Vec<(&pb::Party, i64)> = parties.iter().zip(created_at.iter().copied()).collect();
    let mut offset = 0;
    for chunk in crm_storage::insert_chunks(&rows, 500) {
        let keys = keys.get(offset..).unwrap_or_default();
        offset += chunk.len();
        SqlBuilder::insert_rows(
            &format!(
                "parties (id, kind, display_name, name_key, given_name, family_name, organization_name, industry, \
                 company_size, region_code, attributes, owner_id, team_id, source, birth_date, lifecycle_stage, \
                 status, currency_code, version, created_at, updated_at, verified_at, external_id, {})",
                RowKeys::COLUMNS
            ),
            chunk.iter().enumerate().map(|(i, (party, at))| {
                [
                    Arg::from(party.id.as_str()),
                    Arg::Int(i64::from(party.kind)),
                    Arg::from(party.display_name.as_str()),
                    Arg::from(rules::name_key(party)),
                    Arg::from(party.given_name.as_str()),
                    Arg::from(party.family_name.as_str()),
                    Arg::from(party.organization_name.as_str()),
                    Arg::from(party.industry.as_str()),
                    Arg::Int(i64::from(party.company_size)),
                    Arg::from(party.region_code.as_str()),
                    Arg::from(attributes_json(party)),
                    Arg::from(party.owner_id.as_str()),
                    Arg::from(party.team_id.as_str()),
                    Arg::from(party.source.as_str()),
                    Arg::from(party.birth_date.as_str()),
                    Arg::Int(i64::from(party.lifecycle_stage)),
                    Arg::Int(i64::from(party.status)),
                    Arg::from(currency),
                    Arg::Int(1),
                    Arg::Int(*at),
                    Arg::Int(*at),
                    Arg::Int(*at),
                    Arg::from(party.external_id.as_str()),
                ]
                .into_iter()
                .chain(RowKeys::args(keys.get(i)))
            }),
        )
        .build()
        .execute(&mut *conn)
        .await?;
        let points: Vec<(&str, usize, &pb::ContactPoint)> = chunk
            .iter()
            .flat_map(|(p, _)| {
                p.contact_points
                    .iter()
                    .enumerate()
                    .map(move |(i, cp)| (p.id.as_str(), i, cp))
            })
            .collect();
        for points in crm_storage::insert_chunks(&points, 1000) {
            SqlBuilder::insert_rows(
                "contact_points (id, party_id, kind, value, normalized, label, is_primary, position)",
                points.iter().map(|(party_id, position, cp)| {
                    [
                        Arg::from(cp.id.as_str()),
                        Arg::from(*party_id),
                        Arg::Int(i64::from(cp.kind)),
                        Arg::from(cp.value.as_str()),
                        Arg::from(cp.normalized.as_str()),
                        Arg::from(cp.label.as_str()),
                        Arg::Int(i64::from(cp.primary)),
                        Arg::Int(*position as i64),
                    ]
                }),
            )
            .build()
            .execute(&mut *conn)
            .await?;
        }
        let tags: Vec<(&str, &str)> = chunk
            .iter()
            .flat_map(|(p, _)| p.tags.iter().map(move |t| (p.id.as_str(), t.as_str())))
            .collect();
        for tags in crm_storage::insert_chunks(&tags, 1000) {
            SqlBuilder::insert_rows(
                "party_tags (party_id, tag)",
                tags.iter()
                    .map(|(party_id, tag)| [Arg::from(*party_id), Arg::from(*tag)]),
            )
            .build()
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

fn attributes_json(party: &pb::Party) -> String {
    let sorted: std::collections::BTreeMap<_, _> = party.attributes.iter().collect();
    serde_json::to_string(&sorted).unwrap_or_else(|_| "{}".into())
}

/// Replaces a party's contact points and tags with those of `party`, keeping known ids.
async fn replace_children(conn: &mut Conn, party: &mut pb::Party) -> sqlx::Result<()> {
    let existing: Vec<String> = sqlx::query_scalar("SELECT id FROM contact_points WHERE party_id = $1")
        .bind(&party.id)
        .fetch_all(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM contact_points WHERE party_id = $1")
        .bind(&party.id)
        .execute(&mut *conn)
        .await?;
    for (position, cp) in party.contact_points.iter_mut().enumerate() {
        if cp.id.is_empty() || !existing.contains(&cp.id) {
            cp.id = new_id();
        }
        sqlx::query(
            "INSERT INTO contact_points (id, party_id, kind, value, normalized, label, is_primary, position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&cp.id)
        .bind(&party.id)
        .bind(i64::from(cp.kind))
        .bind(&cp.value)
        .bind(&cp.normalized)
        .bind(&cp.label)
        .bind(i64::from(cp.primary))
        .bind(position as i64)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("DELETE FROM party_tags WHERE party_id = $1")
        .bind(&party.id)
        .execute(&mut *conn)
        .await?;
    for tag in &party.tags {
        sqlx::query("INSERT INTO party_tags (party_id, tag) VALUES ($1, $2)")
            .bind(&party.id)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Writes the client-settable fields of `party` if its stored version is still
/// `expected_version`; returns false when it is not (a concurrent change). Bumps the version.
/// `previous` is the party as stored (its name leaves the search index if it changed).
pub async fn update(
    conn: &mut Conn,
    party: &mut pb::Party,
    previous: &pb::Party,
    expected_version: i64,
    now: i64,
) -> sqlx::Result<bool> {
    let name_key = rules::name_key(party);
    let updated = sqlx::query(
        "UPDATE parties SET display_name = $1, name_key = $2, given_name = $3, family_name = $4, \
         organization_name = $5, industry = $6, company_size = $7, region_code = $8, attributes = $9, owner_id = $10, \
         team_id = $11, source = $12, birth_date = $13, lifecycle_stage = $14, version = version + 1, updated_at = $15 \
         WHERE id = $16 AND version = $17",
    )
    .bind(&party.display_name)
    .bind(&name_key)
    .bind(&party.given_name)
    .bind(&party.family_name)
    .bind(&party.organization_name)
    .bind(&party.industry)
    .bind(i64::from(party.company_size))
    .bind(&party.region_code)
    .bind(attributes_json(party))
    .bind(&party.owner_id)
    .bind(&party.team_id)
    .bind(&party.source)
    .bind(&party.birth_date)
    .bind(i64::from(party.lifecycle_stage))
    .bind(now)
    .bind(&party.id)
    .bind(expected_version)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if updated {
        replace_children(conn, party).await?;
        name_search::reindex(conn, &party.id, &rules::name_key(previous), &name_key).await?;
    }
    Ok(updated)
}

/// Bumps the version and update time (for changes made by other statements).
pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE parties SET version = version + 1, updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Contact points and tags of the parties whose `party_id` the two filters select (one for
/// each half), one row each: `child` says which ('c' or 't'), the other columns are `child_*`
/// so that they can sit beside a party's own.
fn children_sql(contacts: &str, tags: &str) -> String {
    format!(
        "SELECT 'c' AS child, party_id, position AS child_position, id AS child_id, kind AS child_kind, \
         value AS child_value, normalized AS child_normalized, label AS child_label, \
         is_primary AS child_primary, NULL AS child_tag FROM contact_points WHERE party_id {contacts} \
         UNION ALL SELECT 't' AS child, party_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, tag \
         FROM party_tags WHERE party_id {tags}"
    )
}

/// Adds the contact point or tag of a [`children_sql`] row to `party`; a row without one (a
/// party's own row of an outer join) adds nothing.
fn add_child(party: &mut pb::Party, row: &AnyRow) -> sqlx::Result<()> {
    match row.try_get::<Option<String>, _>("child")?.as_deref() {
        Some("t") => party.tags.push(row.try_get("child_tag")?),
        Some(_) => party.contact_points.push(pb::ContactPoint {
            id: row.try_get("child_id")?,
            kind: row.try_get::<i64, _>("child_kind")? as i32,
            value: row.try_get("child_value")?,
            label: row.try_get("child_label")?,
            primary: row.try_get::<i64, _>("child_primary")? != 0,
            normalized: row.try_get("child_normalized")?,
        }),
        None => {}
    }
    Ok(())
}

/// One party with its contact points and tags, whatever its status: one statement, since a
/// party read is the commonest call of all (one row per child, the party's columns repeated).
pub async fn get(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Party>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT {COLUMNS}, k.* FROM parties LEFT JOIN ({}) k ON k.party_id = parties.id \
             WHERE parties.id = $1 ORDER BY k.child, k.child_position, k.child_tag",
            children_sql("= $1", "= $1")
        )
    });
    let rows = sqlx::query(SQL.as_str()).bind(id).fetch_all(&mut *conn).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut party = from_row(first)?;
    for row in &rows {
        add_child(&mut party, row)?;
    }
    Ok(Some(party))
}

/// Parties by id (any status), in the order asked; unknown ids are skipped.
pub async fn load(conn: &mut Conn, ids: &[String]) -> sqlx::Result<Vec<pb::Party>> {
    load_with(conn, ids, true).await
}

/// The parties among `ids` without their contact points and tags (for their figures), in the
/// order of `ids`.
pub async fn load_figures(conn: &mut Conn, ids: &[String]) -> sqlx::Result<Vec<pb::Party>> {
    load_with(conn, ids, false).await
}

async fn load_with(conn: &mut Conn, ids: &[String], children: bool) -> sqlx::Result<Vec<pb::Party>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_id: HashMap<String, pb::Party> = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut q = SqlBuilder::new(&format!("SELECT {COLUMNS} FROM parties WHERE id IN ("));
        let list = q.in_list(chunk.iter().cloned());
        q.push(&list).push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            let party = from_row(&row)?;
            by_id.insert(party.id.clone(), party);
        }
        if !children {
            continue;
        }
        // Contact points and tags in one statement: one round trip fewer on every party read.
        let mut q = SqlBuilder::new("");
        let contacts = format!("IN ({})", q.in_list(chunk.iter().cloned()));
        let tags = format!("IN ({})", q.in_list(chunk.iter().cloned()));
        q.push(&children_sql(&contacts, &tags))
            .push(" ORDER BY party_id, child, child_position, child_tag");
        for row in q.build().fetch_all(&mut *conn).await? {
            let party_id: String = row.try_get("party_id")?;
            if let Some(party) = by_id.get_mut(&party_id) {
                add_child(party, &row)?;
            }
        }
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The parties whose ids `q` selects (as `id`), in its order.
async fn load_selected(conn: &mut Conn, q: SqlBuilder) -> sqlx::Result<Vec<pb::Party>> {
    let ids: Vec<String> = q
        .build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
    load(conn, &ids).await
}

/// Filters of [`list`]; empty values match everything.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Party kind.
    pub kind: i32,
    /// Tag (lower case).
    pub tag: String,
    /// Region code.
    pub region_code: String,
    /// Industry.
    pub industry: String,
    /// Owner.
    pub owner_id: String,
    /// Team.
    pub team_id: String,
    /// Lifecycle stage.
    pub lifecycle_stage: i32,
    /// Value tier.
    pub tier: String,
    /// Only the party with this id (a customer listing their own record).
    pub only_id: Option<String>,
}

/// Active parties matching `filter` with ids after `after`, ordered by id.
pub async fn list(
    conn: &mut Conn,
    filter: &ListFilter,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Party>> {
    // Each filter has an index that yields its page in id order (`parties_<filter>_page`). A
    // tag's page walks the tag's entries instead, bounded by the page's position on both sides
    // of the join so that neither database reads the entries or parties before it.
    let (mut q, order) = if filter.tag.is_empty() {
        (SqlBuilder::new("SELECT id FROM parties WHERE 1 = 1"), "id")
    } else {
        let mut q = SqlBuilder::new(
            "SELECT parties.id FROM party_tags t JOIN parties ON parties.id = t.party_id WHERE 1 = 1",
        );
        q.and("t.tag = {}", filter.tag.as_str())
            .and("t.party_id > {}", after);
        (q, "t.party_id")
    };
    q.and("status = {}", PartyStatus::Active as i64);
    q.and("parties.id > {}", after);
    if filter.kind != 0 {
        q.and("kind = {}", i64::from(filter.kind));
    }
    for (column, value) in [
        ("region_code", &filter.region_code),
        ("industry", &filter.industry),
        ("owner_id", &filter.owner_id),
        ("team_id", &filter.team_id),
        ("tier", &filter.tier),
    ] {
        if !value.is_empty() {
            q.and(&format!("{column} = {{}}"), value.as_str());
        }
    }
    if filter.lifecycle_stage != 0 {
        q.and("lifecycle_stage = {}", i64::from(filter.lifecycle_stage));
    }
    if let Some(id) = &filter.only_id {
        q.and("parties.id = {}", id.as_str());
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY {order} LIMIT {limit}"));
    load_selected(conn, q).await
}

/// A search result's position: (name key, party id).
pub type SearchKey = (String, String);

/// Entries of the name index a page of a name search walks, at most (see [`search_name`]).
pub const NAME_ENTRIES_PER_PAGE: i64 = 20_000;

/// A page of a party search.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    /// The parties found, by name.
    pub parties: Vec<pb::Party>,
    /// Where the next page starts when this one ended short of its size having walked as many
    /// entries as it may (the last entry it walked); None when the parties say it (or nothing is
    /// left).
    pub walked_to: Option<SearchKey>,
}

/// Up to `limit` active parties whose name contains `fragment` (lower case), by name, after
/// `after`, having walked `walk` entries of the name index at most.
///
/// Walks the entries of the fragment's rarest character pair in name order, a batch at a time
/// (growing), keeping the names that contain the whole fragment, until the page is full: a
/// common name fills it from the first batch, and no statement leaves the planner a choice
/// between that walk and reading every entry of the pair to sort them. A fragment whose every
/// pair is common but which few names contain (a misspelling, a rare name of common letters)
/// would walk the whole entries of a pair that a tenth of the base holds: its page ends short
/// after `walk` entries instead, with the position to go on from.
pub async fn search_name(
    conn: &mut Conn,
    fragment: &str,
    after: Option<SearchKey>,
    limit: i64,
    walk: i64,
) -> sqlx::Result<SearchPage> {
    let Some(gram) = name_search::rarest_gram(conn, fragment).await? else {
        return Ok(SearchPage::default());
    };
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut found = Vec::new();
    let mut position = after;
    let mut walked = 0;
    // Twice the page first: a common name fills it from the first batch.
    let mut batch = (limit as i64 * 2).max(16);
    while found.len() < limit {
        let entries = name_search::entries(conn, &gram, position.as_ref(), batch).await?;
        let exhausted = (entries.len() as i64) < batch;
        walked += entries.len() as i64;
        position = entries.last().cloned().or(position);
        let ids: Vec<String> = entries
            .into_iter()
            .filter(|(name_key, _)| name_key.contains(fragment))
            .map(|(_, id)| id)
            .collect();
        if !ids.is_empty() {
            let mut parties = load(conn, &ids).await?;
            parties.retain(|p| p.status == PartyStatus::Active as i32);
            found.extend(parties);
        }
        if exhausted {
            break;
        }
        if walked >= walk && found.len() < limit {
            return Ok(SearchPage {
                parties: found,
                walked_to: position,
            });
        }
        batch = (batch * 4).min(8192);
    }
    found.truncate(limit);
    Ok(SearchPage {
        parties: found,
        walked_to: None,
    })
}

/// Active parties with a contact point of `kind` whose normalized value is `normalized`, by
/// name. Read through the contact points' (kind, value) index: a handful of rows at any size.
pub async fn search_contact(
    conn: &mut Conn,
    kind: pb::ContactPointKind,
    normalized: &str,
    after: Option<SearchKey>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Party>> {
    // CROSS JOIN: SQLite's planner, without statistics, would otherwise walk every active party
    // by status and probe its contact points; the contact point is the selective side.
    let mut q =
        SqlBuilder::new("SELECT p.id FROM contact_points c CROSS JOIN parties p WHERE p.id = c.party_id");
    q.and("c.kind = {}", kind as i64);
    q.and("c.normalized = {}", normalized);
    q.and("p.status = {}", PartyStatus::Active as i64);
    q.after("p.name_key, p.id", after.map(|(name, id)| vec![name, id]));
    let limit = q.arg(limit);
    q.push(&format!(
        " GROUP BY p.id, p.name_key ORDER BY p.name_key, p.id LIMIT {limit}"
    ));
    load_selected(conn, q).await
}

/// Active parties last verified before `cutoff`, oldest first, after the (verified_at, id) key:
/// a page read from the (status, verified_at, id) index from its position on. (The position as
/// `verified_at > a OR (verified_at = a AND id > b)` gave neither backend a place to start, so
/// each page read the index from the oldest party, or every party after it.)
pub async fn verification_due(
    conn: &mut Conn,
    cutoff: i64,
    after: Option<(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Party>> {
    let mut q = SqlBuilder::new("SELECT id FROM parties WHERE 1 = 1");
    q.and("status = {}", PartyStatus::Active as i64);
    q.and("verified_at < {}", cutoff);
    q.after(
        "verified_at, id",
        after.map(|(verified_at, id)| vec![Arg::Int(verified_at), Arg::from(id)]),
    );
    q.order_limit("verified_at, id", limit);
    load_selected(conn, q).await
}

/// Marks a party verified now; false when the version did not match.
pub async fn verify(conn: &mut Conn, id: &str, expected_version: i64, now: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE parties SET verified_at = $1, updated_at = $1, version = version + 1 WHERE id = $2 AND version = $3",
    )
    .bind(now)
    .bind(id)
    .bind(expected_version)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// Sets the revenue figures of a party.
pub async fn set_value(
    conn: &mut Conn,
    id: &str,
    lifetime: i64,
    trailing: i64,
    now: i64,
) -> sqlx::Result<()> {
    // A value set by hand knows no costs: its contribution is its revenue.
    sqlx::query(
        "UPDATE parties SET lifetime_revenue_minor = $1, trailing_12m_revenue_minor = $2, window_revenue_minor = $2, \
         window_contribution_minor = $2, lifetime_contribution_minor = $1, window_cost_to_serve_minor = 0, \
         version = version + 1, updated_at = $3 WHERE id = $4",
    )
    .bind(lifetime)
    .bind(trailing)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A party's value figures, minor units of the reporting currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueFigures {
    /// Revenue of every order that counts.
    pub lifetime_revenue: i64,
    /// Revenue of the trailing twelve months.
    pub trailing_12m_revenue: i64,
    /// Revenue within the value window.
    pub window_revenue: i64,
    /// Margin less cost to serve within the value window.
    pub window_contribution: i64,
    /// Margin less cost to serve over the whole history.
    pub lifetime_contribution: i64,
    /// Cost to serve within the value window.
    pub window_cost_to_serve: i64,
}

/// Sets the value figures of parties, `(id, figures)`, with one statement per 200 parties;
/// bumps their versions.
pub async fn set_values(conn: &mut Conn, values: &[(String, ValueFigures)], now: i64) -> sqlx::Result<()> {
    for chunk in values.chunks(200) {
        let mut q = SqlBuilder::new(
            "UPDATE parties SET lifetime_revenue_minor = v.column2, trailing_12m_revenue_minor = v.column3, \
             window_revenue_minor = v.column4, window_contribution_minor = v.column5, \
             lifetime_contribution_minor = v.column6, window_cost_to_serve_minor = v.column7, \
             version = version + 1, updated_at = ",
        );
        let now = q.arg(now);
        q.push(&now).push(" FROM (VALUES ");
        q.rows(chunk.iter().map(|(id, f)| {
            [
                Arg::from(id.as_str()),
                Arg::Int(f.lifetime_revenue),
                Arg::Int(f.trailing_12m_revenue),
                Arg::Int(f.window_revenue),
                Arg::Int(f.window_contribution),
                Arg::Int(f.lifetime_contribution),
                Arg::Int(f.window_cost_to_serve),
            ]
        }))
        .push(") AS v WHERE parties.id = v.column1");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The condition of the parties the value pyramid ranks: active, with business in the value
/// window (revenue, or a contribution such as a cost to serve).
const RANKED: &str = "status = {active} AND (window_revenue_minor > 0 OR window_contribution_minor <> 0)";

/// Active parties with business in the value window: the ones the value pyramid ranks.
pub async fn ranked_count(conn: &mut Conn) -> sqlx::Result<i64> {
    let condition = RANKED.replace("{active}", "$1");
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM parties WHERE {condition}"
    )))
    .bind(PartyStatus::Active as i64)
    .fetch_one(&mut *conn)
    .await
}

/// A party whose tier a re-ranking changes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TierChange {
    /// The party.
    #[sqlx(rename = "id")]
    pub party_id: String,
    /// Its tier before (empty when unranked).
    #[sqlx(rename = "announced_tier")]
    pub previous: String,
    /// Its tier now (empty when no longer ranked).
    pub tier: String,
    /// Its new rank (0 when unranked).
    #[sqlx(rename = "contribution_rank")]
    pub rank: i64,
}

/// `SELECT id, tier, contribution_rank, revenue, contribution, rn, n, cumulative, total,
/// new_tier` over every active party: its rank by contribution over the value window (largest
/// first, ties by id; 0 without business in the window), how many are ranked, the contribution
/// up to its rank and in all, and the tier its rank falls in.
/// `tiers` gives each tier's cumulative customer share in bps: a tier ends at rank
/// ceil(n * share / 10000), the last takes the rest (as `domain::pyramid::rank`). Everything is
/// computed in the one statement, so what it reads is one snapshot.
fn ranking(q: &mut SqlBuilder, tiers: &[(i64, &str)]) {
    let active = q.arg(PartyStatus::Active as i64);
    let mut case = String::from("CASE WHEN rn = 0 THEN ''");
    for (i, (cumulative_bps, name)) in tiers.iter().enumerate() {
        let name = q.arg(*name);
        if i + 1 == tiers.len() {
            case.push_str(&format!(" ELSE {name} END"));
        } else {
            let bps = q.arg(*cumulative_bps);
            case.push_str(&format!(" WHEN rn <= (n * {bps} + 9999) / 10000 THEN {name}"));
        }
    }
    if tiers.is_empty() {
        case.push_str(" ELSE '' END");
    }
    let ranked = RANKED.replace("{active}", &active);
    let active_again = q.arg(PartyStatus::Active as i64);
    q.push(&format!(
        "SELECT id, tier, contribution_rank, revenue, contribution, rn, n, cumulative, total, {case} AS new_tier FROM (\
         SELECT id, tier, contribution_rank, window_revenue_minor AS revenue, window_contribution_minor AS contribution, \
         ROW_NUMBER() OVER (ORDER BY window_contribution_minor DESC, id) AS rn, \
         COUNT(*) OVER () AS n, \
         SUM(window_contribution_minor) OVER (ORDER BY window_contribution_minor DESC, id ROWS UNBOUNDED PRECEDING) AS cumulative, \
         SUM(window_contribution_minor) OVER () AS total \
         FROM parties WHERE {ranked} \
         UNION ALL SELECT id, tier, contribution_rank, window_revenue_minor AS revenue, window_contribution_minor, 0, 0, 0, 0 \
         FROM parties WHERE status = {active_again} AND window_revenue_minor <= 0 AND window_contribution_minor = 0) ranked"
    ));
}

/// Re-ranks every active party under `tiers` (see [`ranking`]) in one statement and stores the
/// tier and rank of each party whose tier moved; ranks that merely shifted are left to the next
/// re-ranking of every rank ([`stage_moves`]). The moves are then read with [`unannounced_tiers`].
pub async fn rerank_tier_moves(conn: &mut Conn, tiers: &[(i64, &str)]) -> sqlx::Result<()> {
    let mut q = SqlBuilder::new("WITH target AS (");
    ranking(&mut q, tiers);
    q.push(
        ") UPDATE parties SET contribution_rank = target.rn, tier = target.new_tier FROM target \
         WHERE parties.id = target.id AND parties.tier <> target.new_tier",
    );
    q.build().execute(&mut *conn).await?;
    Ok(())
}

/// Stages the ranks and tiers a re-ranking of every active party under `tiers` (see [`ranking`])
/// moves, in `tier_ranking_moves`, in one statement that locks no party; they are then stored a
/// range at a time by [`store_staged_moves`]. Returns how many were staged.
pub async fn stage_moves(conn: &mut Conn, tiers: &[(i64, &str)]) -> sqlx::Result<i64> {
    let mut q = SqlBuilder::new(
        "INSERT INTO tier_ranking_moves (party_id, contribution_rank, tier) SELECT id, rn, new_tier FROM (",
    );
    ranking(&mut q, tiers);
    q.push(") target WHERE tier <> new_tier OR contribution_rank <> rn");
    let staged = q.build().execute(&mut *conn).await?.rows_affected();
    Ok(i64::try_from(staged).unwrap_or(i64::MAX))
}

/// Stores the staged moves of the parties after `after` up to `upto` (by id) on those still
/// active; the tier moves are then read with [`unannounced_tiers`].
pub async fn store_staged_moves(conn: &mut Conn, after: &str, upto: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE parties SET contribution_rank = m.contribution_rank, tier = m.tier FROM tier_ranking_moves m \
         WHERE parties.id = m.party_id AND m.party_id > $1 AND m.party_id <= $2 AND parties.status = $3",
    )
    .bind(after)
    .bind(upto)
    .bind(PartyStatus::Active as i64)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` parties after id `after` (up to `upto`, when given) whose tier moved since it
/// was last announced, by id.
///
/// The caller pages with the last id it got: marking a page announced inside the same transaction
/// leaves the old row versions in the partial index until they are vacuumed, and a scan from the
/// start would step over all of them again on every page.
pub async fn unannounced_tiers(
    conn: &mut Conn,
    after: &str,
    upto: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<TierChange>> {
    sqlx::query_as(
        "SELECT id, announced_tier, tier, contribution_rank FROM parties WHERE tier <> announced_tier \
         AND id > $1 AND ($2 IS NULL OR id <= $2) ORDER BY id LIMIT $3",
    )
    .bind(after)
    .bind(upto)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
}

/// Notes that the tiers of `ids` were announced.
pub async fn mark_tiers_announced(conn: &mut Conn, ids: &[String]) -> sqlx::Result<()> {
    for chunk in ids.chunks(1000) {
        let mut q = SqlBuilder::new("UPDATE parties SET announced_tier = tier WHERE 1 = 1");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND id IN ({list})"));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Revenue and contribution figures of the ranking under `tiers` (see [`ranking`]), aggregated
/// in SQL from one snapshot.
#[derive(Debug, Clone, Default)]
pub struct RankingTotals {
    /// Parties ranked.
    pub ranked: i64,
    /// Revenue of each tier of `tiers`, in its order.
    pub tier_revenue: Vec<i64>,
    /// Contribution of each tier of `tiers`, in its order.
    pub tier_contribution: Vec<i64>,
    /// Revenue of the top 20% of ranks (ceil(n / 5)).
    pub top_20_percent_revenue: i64,
    /// Contribution of the top 20% of ranks.
    pub top_20_percent_contribution: i64,
    /// The smallest rank by which the cumulative contribution reaches 80% of the total; 0 when
    /// the total is not positive.
    pub rank_reaching_80_percent: i64,
}

/// Ranked parties, revenue per tier and of the top 20%, and the rank reaching 80% of all
/// revenue, in one statement.
pub async fn ranking_totals(conn: &mut Conn, tiers: &[(i64, &str)]) -> sqlx::Result<RankingTotals> {
    // cumulative >= 80% of the total, in integers so that no rounding decides the cut.
    let mut q = SqlBuilder::new(
        "SELECT new_tier, COUNT(*) AS customers, CAST(SUM(revenue) AS BIGINT) AS revenue, \
         CAST(SUM(contribution) AS BIGINT) AS contribution, \
         CAST(SUM(CASE WHEN rn <= (n + 4) / 5 THEN revenue ELSE 0 END) AS BIGINT) AS top, \
         CAST(SUM(CASE WHEN rn <= (n + 4) / 5 THEN contribution ELSE 0 END) AS BIGINT) AS top_contribution, \
         MIN(CASE WHEN total > 0 AND cumulative * 10 >= total * 8 THEN rn END) AS reaching FROM (",
    );
    ranking(&mut q, tiers);
    q.push(") target WHERE rn > 0 GROUP BY new_tier");
    let mut by_tier = HashMap::new();
    let mut totals = RankingTotals::default();
    for row in q.build().fetch_all(&mut *conn).await? {
        totals.ranked += row.try_get::<i64, _>("customers")?;
        totals.top_20_percent_revenue = totals.top_20_percent_revenue.saturating_add(row.try_get("top")?);
        totals.top_20_percent_contribution = totals
            .top_20_percent_contribution
            .saturating_add(row.try_get("top_contribution")?);
        if let Some(rank) = row.try_get::<Option<i64>, _>("reaching")? {
            let best = totals.rank_reaching_80_percent;
            totals.rank_reaching_80_percent = if best == 0 { rank } else { best.min(rank) };
        }
        by_tier.insert(
            row.try_get::<String, _>("new_tier")?,
            (
                row.try_get::<i64, _>("revenue")?,
                row.try_get::<i64, _>("contribution")?,
            ),
        );
    }
    totals.tier_revenue = tiers
        .iter()
        .map(|(_, name)| by_tier.get(*name).map_or(0, |t| t.0))
        .collect();
    totals.tier_contribution = tiers
        .iter()
        .map(|(_, name)| by_tier.get(*name).map_or(0, |t| t.1))
        .collect();
    Ok(totals)
}

/// Sets the lifecycle stages of distinct parties, (id, stage) each, with multi-row statements.
pub async fn set_lifecycles(conn: &mut Conn, stages: &[(String, i32)], now: i64) -> sqlx::Result<()> {
    for chunk in stages.chunks(300) {
        let mut q = SqlBuilder::new(
            "UPDATE parties SET lifecycle_stage = v.column2, version = version + 1, updated_at = ",
        );
        let now = q.arg(now);
        q.push(&now).push(" FROM (VALUES ");
        q.rows(
            chunk
                .iter()
                .map(|(id, stage)| [Arg::from(id.as_str()), Arg::Int(i64::from(*stage))]),
        )
        .push(") AS v WHERE parties.id = v.column1");
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Sets the lifecycle stage (derived from orders) and bumps the version.
pub async fn set_lifecycle(conn: &mut Conn, id: &str, stage: i32, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE parties SET lifecycle_stage = $1, version = version + 1, updated_at = $2 WHERE id = $3",
    )
    .bind(i64::from(stage))
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Turns `id` into a redirect to `survivor`.
pub async fn mark_merged(conn: &mut Conn, id: &str, survivor: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE parties SET status = $1, merged_into_id = $2, version = version + 1, updated_at = $3 WHERE id = $4",
    )
    .bind(PartyStatus::Merged as i64)
    .bind(survivor)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    // Earlier redirects to the merged party now point at the survivor.
    sqlx::query("UPDATE parties SET merged_into_id = $1 WHERE merged_into_id = $2")
        .bind(survivor)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Moves contact points and tags of `from` to `to`, skipping ones `to` already has.
pub async fn move_children(conn: &mut Conn, from: &str, to: &str) -> sqlx::Result<()> {
    sqlx::query(
        "DELETE FROM contact_points WHERE party_id = $1 AND normalized <> '' AND EXISTS \
         (SELECT 1 FROM contact_points s WHERE s.party_id = $2 AND s.kind = contact_points.kind \
          AND s.normalized = contact_points.normalized)",
    )
    .bind(from)
    .bind(to)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE contact_points SET party_id = $1, is_primary = 0, position = position + 1000 WHERE party_id = $2")
        .bind(to)
        .bind(from)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO party_tags (party_id, tag) SELECT $1, tag FROM party_tags WHERE party_id = $2 \
         ON CONFLICT DO NOTHING",
    )
    .bind(to)
    .bind(from)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM party_tags WHERE party_id = $1")
        .bind(from)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Removes personal data and leaves a tombstone.
pub async fn erase(conn: &mut Conn, id: &str, now: i64) -> sqlx::Result<i64> {
    let name_key: Option<String> = sqlx::query_scalar("SELECT name_key FROM parties WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    name_search::unindex(conn, id, &name_key.unwrap_or_default()).await?;
    sqlx::query("DELETE FROM contact_points WHERE party_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM party_tags WHERE party_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE parties SET display_name = '', name_key = '', given_name = '', family_name = '', \
         organization_name = '', industry = '', attributes = '{}', source = '', birth_date = '', status = $1, \
         erased_at = $2, updated_at = $2, version = version + 1 WHERE id = $3",
    )
    .bind(PartyStatus::Erased as i64)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(now)
}

/// Up to `limit` ids of parties merged into `id`, after `after`, in id order.
pub async fn merged_into(conn: &mut Conn, id: &str, after: &str, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT id FROM parties WHERE merged_into_id = $1 AND id > $2 ORDER BY id LIMIT $3")
        .bind(id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
}

/// Status and merge target of each of `ids` that exists, their rows locked for the transaction
/// in id order (PostgreSQL; SQLite has one writer at a time).
pub async fn lock_statuses(conn: &mut Conn, ids: &[String]) -> sqlx::Result<HashMap<String, (i32, String)>> {
    let mut found = HashMap::with_capacity(ids.len());
    let lock = if conn.backend_name() == "PostgreSQL" {
        " ORDER BY id FOR UPDATE"
    } else {
        ""
    };
    for chunk in ids.chunks(500) {
        let mut q = SqlBuilder::new("SELECT id, status, merged_into_id FROM parties WHERE id IN (");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&list).push(")").push(lock);
        for r in q.build().fetch_all(&mut *conn).await? {
            found.insert(
                r.try_get("id")?,
                (
                    i32::try_from(r.try_get::<i64, _>("status")?).unwrap_or_default(),
                    r.try_get::<Option<String>, _>("merged_into_id")?
                        .unwrap_or_default(),
                ),
            );
        }
    }
    Ok(found)
}

/// Those of `ids` not locked by another transaction (now locked by this one, PostgreSQL), and
/// those that are no party at all: what a background refresh can settle without waiting. A
/// party the order consumer holds is left for a later run (its orders mark it again), and no
/// lock cycle can form between the consumer and the refresh.
pub async fn lock_unless_busy(conn: &mut Conn, ids: &[String]) -> sqlx::Result<(Vec<String>, Vec<String>)> {
    if conn.backend_name() != "PostgreSQL" {
        return Ok((ids.to_vec(), Vec::new()));
    }
    let ids_where = |suffix: &str, chunk: &[String]| {
        let mut q = SqlBuilder::new("SELECT id FROM parties WHERE id IN (");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&list).push(")").push(suffix);
        q
    };
    let (mut locked, mut existing) = (Vec::new(), std::collections::HashSet::new());
    for chunk in ids.chunks(500) {
        let free = ids_where(" ORDER BY id FOR UPDATE SKIP LOCKED", chunk);
        for r in free.build().fetch_all(&mut *conn).await? {
            locked.push(r.try_get::<String, _>("id")?);
        }
        for r in ids_where("", chunk).build().fetch_all(&mut *conn).await? {
            existing.insert(r.try_get::<String, _>("id")?);
        }
    }
    let missing = ids.iter().filter(|id| !existing.contains(*id)).cloned().collect();
    Ok((locked, missing))
}

/// Locks the party's row until the transaction ends, so that two writers deriving a change
/// from what they read (the order consumer and the value sweeper) take turns instead of both
/// announcing it. SQLite write transactions are exclusive already.
pub async fn lock(conn: &mut Conn, id: &str) -> sqlx::Result<()> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT 1 FROM parties WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    }
    Ok(())
}
