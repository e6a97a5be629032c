//! Roadmap, availability, e-orders and deal registrations.

use crm_proto::common::v1::Money;
use crm_proto::partners::v1 as pb;
use crm_storage::{Arg, Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::timestamp;

/// Inserts or replaces a roadmap entry (id set here when empty).
pub async fn upsert_roadmap(conn: &mut Conn, e: &mut pb::RoadmapEntry) -> sqlx::Result<()> {
    if e.id.is_empty() {
        e.id = uuid::Uuid::now_v7().to_string();
    }
    sqlx::query(
        "INSERT INTO roadmap (id, product_id, title, description, available_from) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET product_id = excluded.product_id, title = excluded.title, \
         description = excluded.description, available_from = excluded.available_from",
    )
    .bind(&e.id)
    .bind(&e.product_id)
    .bind(&e.title)
    .bind(&e.description)
    .bind(&e.available_from)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn roadmap_entry(r: &AnyRow) -> sqlx::Result<pb::RoadmapEntry> {
    Ok(pb::RoadmapEntry {
        id: r.try_get("id")?,
        product_id: r.try_get("product_id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        available_from: r.try_get("available_from")?,
    })
}

const ROADMAP_COLUMNS: &str = "r.id, r.product_id, r.title, r.description, r.available_from";

/// The roadmap entries of `products`, by product, each product's by date.
pub async fn roadmap_of(
    conn: &mut Conn,
    products: &[String],
) -> sqlx::Result<std::collections::HashMap<String, Vec<pb::RoadmapEntry>>> {
    let mut found: std::collections::HashMap<String, Vec<pb::RoadmapEntry>> =
        std::collections::HashMap::new();
    if products.is_empty() {
        return Ok(found);
    }
    let mut q = SqlBuilder::new(&format!(
        "SELECT {ROADMAP_COLUMNS} FROM roadmap r WHERE r.product_id IN ("
    ));
    let list = q.in_list(products.iter().map(String::as_str));
    q.push(&list).push(") ORDER BY r.available_from, r.id");
    for row in q.build().fetch_all(&mut *conn).await? {
        let entry = roadmap_entry(&row)?;
        found.entry(entry.product_id.clone()).or_default().push(entry);
    }
    Ok(found)
}

/// Up to `limit` roadmap entries for products not in the catalog yet, soonest first.
pub async fn upcoming(conn: &mut Conn, limit: i64) -> sqlx::Result<Vec<pb::RoadmapEntry>> {
    let mut q = SqlBuilder::new(&format!(
        "SELECT {ROADMAP_COLUMNS} FROM roadmap r WHERE (r.product_id = '' \
         OR NOT EXISTS (SELECT 1 FROM products p WHERE p.id = r.product_id))"
    ));
    q.order_limit("r.available_from, r.id", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(roadmap_entry)
        .collect()
}

/// Up to `limit` active products by name after `after` (name, id), in `category` when one is
/// given, with their availability (their roadmap is read by [`roadmap_of`]).
pub async fn catalog_page(
    conn: &mut Conn,
    category: &str,
    after: Option<&(String, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::PortalProduct>> {
    let mut q = SqlBuilder::new(
        "SELECT p.id, p.sku, p.name, p.category, a.in_stock, a.lead_time_days, a.weekly_capacity, a.updated_at \
         FROM products p LEFT JOIN availability a ON a.product_id = p.id WHERE p.active = 1",
    );
    if !category.is_empty() {
        q.and("p.category = {}", category);
    }
    q.after(
        "p.name, p.id",
        after.map(|(name, id)| vec![name.clone(), id.clone()]),
    );
    q.order_limit("p.name, p.id", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            let availability = match r.try_get::<Option<i64>, _>("in_stock")? {
                Some(in_stock) => Some(pb::Availability {
                    product_id: id.clone(),
                    in_stock,
                    lead_time_days: r.try_get::<Option<i64>, _>("lead_time_days")?.unwrap_or_default() as i32,
                    weekly_capacity: r
                        .try_get::<Option<i64>, _>("weekly_capacity")?
                        .unwrap_or_default(),
                    update_time: r.try_get::<Option<i64>, _>("updated_at")?.map(timestamp),
                }),
                None => None,
            };
            Ok(pb::PortalProduct {
                product_id: id,
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                category: r.try_get("category")?,
                availability,
                roadmap: Vec::new(),
            })
        })
        .collect()
}

/// Sets a product's availability.
pub async fn set_availability(conn: &mut Conn, a: &pb::Availability, now: i64) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO availability (product_id, in_stock, lead_time_days, weekly_capacity, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (product_id) DO UPDATE SET in_stock = excluded.in_stock, lead_time_days = excluded.lead_time_days, \
         weekly_capacity = excluded.weekly_capacity, updated_at = excluded.updated_at",
    )
    .bind(&a.product_id)
    .bind(a.in_stock)
    .bind(i64::from(a.lead_time_days))
    .bind(a.weekly_capacity)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(now)
}

const ORDER_COLUMNS: &str = "id, partner_id, external_ref, lines, currency_code, status, sales_order_id, total_minor, submitted_at, reason";

fn order(r: &AnyRow) -> sqlx::Result<pb::PartnerOrder> {
    let lines: Vec<(String, i64)> =
        serde_json::from_str(&r.try_get::<String, _>("lines")?).unwrap_or_default();
    let currency: String = r.try_get("currency_code")?;
    Ok(pb::PartnerOrder {
        id: r.try_get("id")?,
        partner_id: r.try_get("partner_id")?,
        external_ref: r.try_get("external_ref")?,
        lines: lines
            .into_iter()
            .map(|(product_id, quantity)| pb::PartnerOrderLine { product_id, quantity })
            .collect(),
        total: Some(Money {
            amount_minor: r.try_get("total_minor")?,
            currency_code: currency.clone(),
        }),
        currency_code: currency,
        status: r.try_get::<i64, _>("status")? as i32,
        sales_order_id: r.try_get("sales_order_id")?,
        submit_time: Some(timestamp(r.try_get("submitted_at")?)),
        reason: r.try_get("reason")?,
    })
}

/// Inserts an e-order (id set here); a repeated (partner, reference) is a unique violation.
pub async fn insert_order(conn: &mut Conn, o: &mut pb::PartnerOrder, now: i64) -> sqlx::Result<()> {
    o.id = uuid::Uuid::now_v7().to_string();
    o.submit_time = Some(timestamp(now));
    let lines: Vec<(&str, i64)> = o
        .lines
        .iter()
        .map(|l| (l.product_id.as_str(), l.quantity))
        .collect();
    sqlx::query(
        "INSERT INTO partner_orders (id, partner_id, external_ref, lines, currency_code, status, submitted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&o.id)
    .bind(&o.partner_id)
    .bind(&o.external_ref)
    .bind(serde_json::to_string(&lines).unwrap_or_default())
    .bind(&o.currency_code)
    .bind(i64::from(o.status))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The e-order of a partner with a reference.
pub async fn order_by_ref(
    conn: &mut Conn,
    partner_id: &str,
    external_ref: &str,
) -> sqlx::Result<Option<pb::PartnerOrder>> {
    let mut q = SqlBuilder::new(&format!("SELECT {ORDER_COLUMNS} FROM partner_orders WHERE 1 = 1"));
    q.and("partner_id = {}", partner_id)
        .and("external_ref = {}", external_ref);
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(order)
        .transpose()
}

/// A partner's e-orders, newest first.
pub async fn orders(
    conn: &mut Conn,
    partner_id: &str,
    before: Option<(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::PartnerOrder>> {
    let mut q = SqlBuilder::new(&format!("SELECT {ORDER_COLUMNS} FROM partner_orders WHERE 1 = 1"));
    q.and("partner_id = {}", partner_id);
    q.before(
        "submitted_at, id",
        before.map(|(at, id)| vec![Arg::from(at), Arg::from(id)]),
    );
    q.order_limit("submitted_at DESC, id DESC", limit);
    q.build().fetch_all(&mut *conn).await?.iter().map(order).collect()
}

/// Records what sales did with an e-order.
pub async fn settle_order(
    conn: &mut Conn,
    partner_id: &str,
    external_ref: &str,
    status: i32,
    sales_order_id: &str,
    total_minor: i64,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE partner_orders SET status = $1, sales_order_id = $2, total_minor = $3, reason = $4 \
         WHERE partner_id = $5 AND external_ref = $6",
    )
    .bind(i64::from(status))
    .bind(sales_order_id)
    .bind(total_minor)
    .bind(reason)
    .bind(partner_id)
    .bind(external_ref)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const REGISTRATION_COLUMNS: &str = "id, partner_id, company_name, contact_name, email, phone, amount_minor, currency_code, \
    expected_close_date, notes, status, review_reason, reviewer_id, registered_at";

fn registration(r: &AnyRow) -> sqlx::Result<pb::DealRegistration> {
    let currency: String = r.try_get("currency_code")?;
    Ok(pb::DealRegistration {
        id: r.try_get("id")?,
        partner_id: r.try_get("partner_id")?,
        company_name: r.try_get("company_name")?,
        contact_name: r.try_get("contact_name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        estimated_amount: (!currency.is_empty()).then(|| Money {
            amount_minor: r.try_get("amount_minor").unwrap_or_default(),
            currency_code: currency,
        }),
        expected_close_date: r.try_get("expected_close_date")?,
        notes: r.try_get("notes")?,
        status: r.try_get::<i64, _>("status")? as i32,
        review_reason: r.try_get("review_reason")?,
        reviewer_id: r.try_get("reviewer_id")?,
        register_time: Some(timestamp(r.try_get("registered_at")?)),
    })
}

/// Inserts a registration (id set here).
pub async fn insert_registration(
    conn: &mut Conn,
    d: &mut pb::DealRegistration,
    now: i64,
) -> sqlx::Result<()> {
    d.id = uuid::Uuid::now_v7().to_string();
    let amount = d.estimated_amount.clone().unwrap_or_default();
    sqlx::query(
        "INSERT INTO deal_registrations (id, partner_id, company_name, contact_name, email, phone, amount_minor, currency_code, \
         expected_close_date, notes, status, registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&d.id)
    .bind(&d.partner_id)
    .bind(&d.company_name)
    .bind(&d.contact_name)
    .bind(&d.email)
    .bind(&d.phone)
    .bind(amount.amount_minor)
    .bind(&amount.currency_code)
    .bind(&d.expected_close_date)
    .bind(&d.notes)
    .bind(i64::from(d.status))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One registration.
pub async fn registration_by_id(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::DealRegistration>> {
    let mut q = SqlBuilder::new(&format!(
        "SELECT {REGISTRATION_COLUMNS} FROM deal_registrations WHERE 1 = 1"
    ));
    q.and("id = {}", id);
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(registration)
        .transpose()
}

/// Registrations, filtered (to partners `within` a partner's tree, when given), newest first.
pub async fn registrations(
    conn: &mut Conn,
    partner_id: &str,
    within: Option<&str>,
    status: i32,
    before: Option<(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<pb::DealRegistration>> {
    let mut q = SqlBuilder::new(&format!(
        "SELECT {REGISTRATION_COLUMNS} FROM deal_registrations WHERE 1 = 1"
    ));
    if !partner_id.is_empty() {
        q.and("partner_id = {}", partner_id);
    }
    if let Some(root) = within {
        let condition = super::partners::within(&mut q, "partner_id", root);
        q.push(&format!(" AND {condition}"));
    }
    if status != 0 {
        q.and("status = {}", i64::from(status));
    }
    q.before(
        "registered_at, id",
        before.map(|(at, id)| vec![Arg::from(at), Arg::from(id)]),
    );
    q.order_limit("registered_at DESC, id DESC", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(registration)
        .collect()
}

/// Records a review if the registration is still pending; false otherwise.
pub async fn review(
    conn: &mut Conn,
    id: &str,
    status: i32,
    reason: &str,
    reviewer: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE deal_registrations SET status = $1, review_reason = $2, reviewer_id = $3 WHERE id = $4 AND status = $5",
    )
    .bind(i64::from(status))
    .bind(reason)
    .bind(reviewer)
    .bind(id)
    .bind(pb::RegistrationStatus::Pending as i64)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}
