//! Products, price books and prices.

use crm_proto::common::v1::Money;
use crm_proto::sales::v1 as pb;
use crm_storage::{Conn, SqlBuilder};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::{new_id, timestamp};

const PRODUCT_COLUMNS: &str = "id, sku, name, description, product_line, category, unit, active, version, updated_at, cost_minor, cost_currency";

fn product(row: &AnyRow) -> sqlx::Result<pb::Product> {
    Ok(pb::Product {
        id: row.try_get("id")?,
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        product_line: row.try_get("product_line")?,
        category: row.try_get("category")?,
        unit: row.try_get("unit")?,
        active: row.try_get::<i64, _>("active")? != 0,
        update_time: Some(timestamp(row.try_get("updated_at")?)),
        etag: row.try_get::<i64, _>("version")?.to_string(),
        unit_cost: row
            .try_get::<Option<i64>, _>("cost_minor")?
            .map(|amount_minor| -> sqlx::Result<Money> {
                Ok(Money {
                    amount_minor,
                    currency_code: row.try_get("cost_currency")?,
                })
            })
            .transpose()?,
    })
}

/// The (amount, currency) columns of a product's unit cost.
fn cost_columns(p: &pb::Product) -> (Option<i64>, String) {
    p.unit_cost.as_ref().map_or((None, String::new()), |m| {
        (Some(m.amount_minor), m.currency_code.clone())
    })
}

/// Inserts a product (id set here); a duplicate SKU is a unique violation.
pub async fn insert_product(conn: &mut Conn, p: &mut pb::Product, now: i64) -> sqlx::Result<()> {
    p.id = new_id();
    sqlx::query(
        "INSERT INTO products (id, sku, name, description, product_line, category, unit, active, version, updated_at, \
         cost_minor, cost_currency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11)",
    )
    .bind(&p.id)
    .bind(&p.sku)
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.product_line)
    .bind(&p.category)
    .bind(&p.unit)
    .bind(i64::from(p.active))
    .bind(now)
    .bind(cost_columns(p).0)
    .bind(cost_columns(p).1)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes a product if its version is still `expected`.
pub async fn update_product(conn: &mut Conn, p: &pb::Product, expected: i64, now: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE products SET name = $1, description = $2, product_line = $3, category = $4, unit = $5, active = $6, \
         version = version + 1, updated_at = $7, cost_minor = $8, cost_currency = $9 WHERE id = $10 AND version = $11",
    )
    .bind(&p.name)
    .bind(&p.description)
    .bind(&p.product_line)
    .bind(&p.category)
    .bind(&p.unit)
    .bind(i64::from(p.active))
    .bind(now)
    .bind(cost_columns(p).0)
    .bind(cost_columns(p).1)
    .bind(&p.id)
    .bind(expected)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// One product.
pub async fn product_by_id(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::Product>> {
    let mut q = SqlBuilder::new(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE 1 = 1"));
    q.and("id = {}", id);
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(product)
        .transpose()
}

/// The product with a SKU.
pub async fn product_by_sku(conn: &mut Conn, sku: &str) -> sqlx::Result<Option<pb::Product>> {
    let mut q = SqlBuilder::new(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE 1 = 1"));
    q.and("sku = {}", sku);
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(product)
        .transpose()
}

/// Products by SKU, for the SKUs that exist.
pub async fn products_by_skus(
    conn: &mut Conn,
    skus: &[String],
) -> sqlx::Result<std::collections::HashMap<String, pb::Product>> {
    let mut found = std::collections::HashMap::new();
    for chunk in skus.chunks(1000) {
        let mut q = SqlBuilder::new(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE 1 = 1"));
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND sku IN ({list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            let p = product(&row)?;
            found.insert(p.sku.clone(), p);
        }
    }
    Ok(found)
}

/// Products after `after` by id, filtered.
pub async fn list_products(
    conn: &mut Conn,
    filter: &ProductFilter<'_>,
    after: &str,
    limit: i64,
) -> sqlx::Result<Vec<pb::Product>> {
    let mut q = SqlBuilder::new(&format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE 1 = 1"));
    q.and("id > {}", after);
    if !filter.product_line.is_empty() {
        q.and("product_line = {}", filter.product_line);
    }
    if !filter.category.is_empty() {
        q.and("category = {}", filter.category);
    }
    if filter.active_only {
        q.push(" AND active = 1");
    }
    if !filter.query.is_empty() {
        // The start of the lowered name or of the (upper-case) SKU, each read through its
        // index: PostgreSQL's pattern operator class serves a LIKE prefix; SQLite's indexes a
        // range, compared byte by byte.
        let name = filter.query.to_lowercase();
        let sku = filter.query.to_uppercase();
        let (name, sku) = if conn.backend_name() == "PostgreSQL" {
            let name = q.arg(format!("{}%", crm_storage::escape_like(&name)));
            let sku = q.arg(format!("{}%", crm_storage::escape_like(&sku)));
            (
                format!("lower(name) LIKE {name} ESCAPE '\\'"),
                format!("sku LIKE {sku} ESCAPE '\\'"),
            )
        } else {
            let [name_from, name_to, sku_from, sku_to] = [
                q.arg(name.clone()),
                q.arg(format!("{name}\u{10FFFF}")),
                q.arg(sku.clone()),
                q.arg(format!("{sku}\u{10FFFF}")),
            ];
            (
                format!("lower(name) >= {name_from} AND lower(name) < {name_to}"),
                format!("sku >= {sku_from} AND sku < {sku_to}"),
            )
        };
        q.push(&format!(" AND (({name}) OR ({sku}))"));
    }
    let limit = q.arg(limit);
    q.push(&format!(" ORDER BY id LIMIT {limit}"));
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(product)
        .collect()
}

/// Which products [`list_products`] reads.
#[derive(Debug, Default)]
pub struct ProductFilter<'a> {
    /// Only this product line (empty: any).
    pub product_line: &'a str,
    /// Only this category (empty: any).
    pub category: &'a str,
    /// Only active products.
    pub active_only: bool,
    /// Only products whose name or SKU starts with this, in any case (empty: any).
    pub query: &'a str,
}

fn price_book(row: &AnyRow) -> sqlx::Result<pb::PriceBook> {
    Ok(pb::PriceBook {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        currency_code: row.try_get("currency_code")?,
        is_default: row.try_get::<i64, _>("is_default")? != 0,
    })
}

/// Inserts a price book; a default book replaces the previous default of its currency.
pub async fn insert_price_book(conn: &mut Conn, b: &mut pb::PriceBook) -> sqlx::Result<()> {
    b.id = new_id();
    if b.is_default {
        sqlx::query("UPDATE price_books SET is_default = 0 WHERE currency_code = $1")
            .bind(&b.currency_code)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("INSERT INTO price_books (id, name, currency_code, is_default) VALUES ($1, $2, $3, $4)")
        .bind(&b.id)
        .bind(&b.name)
        .bind(&b.currency_code)
        .bind(i64::from(b.is_default))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const BOOK_COLUMNS: &str = "id, name, currency_code, is_default";

/// The first price book `q` (selecting [`BOOK_COLUMNS`]) reads.
async fn first_book(conn: &mut Conn, q: SqlBuilder) -> sqlx::Result<Option<pb::PriceBook>> {
    q.build()
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(price_book)
        .transpose()
}

/// The price books whose `column` is `value`.
fn books_where(column: &str, value: &str) -> SqlBuilder {
    let mut q = SqlBuilder::new(&format!("SELECT {BOOK_COLUMNS} FROM price_books WHERE 1 = 1"));
    q.and(&format!("{column} = {{}}"), value);
    q
}

/// One price book.
pub async fn price_book_by_id(conn: &mut Conn, id: &str) -> sqlx::Result<Option<pb::PriceBook>> {
    first_book(conn, books_where("id", id)).await
}

/// Up to `limit` price books by name, after the name `after`.
pub async fn list_price_books(
    conn: &mut Conn,
    after: Option<String>,
    limit: i64,
) -> sqlx::Result<Vec<pb::PriceBook>> {
    let mut q = SqlBuilder::new(&format!("SELECT {BOOK_COLUMNS} FROM price_books WHERE 1 = 1"));
    q.after("name", after.map(|name| vec![name]));
    q.order_limit("name", limit);
    q.build()
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(price_book)
        .collect()
}

/// The price book named `name`.
pub async fn price_book_by_name(conn: &mut Conn, name: &str) -> sqlx::Result<Option<pb::PriceBook>> {
    first_book(conn, books_where("name", name)).await
}

/// The default price book of a currency.
pub async fn default_price_book(conn: &mut Conn, currency_code: &str) -> sqlx::Result<Option<pb::PriceBook>> {
    let mut q = books_where("currency_code", currency_code);
    q.push(" AND is_default = 1 ORDER BY name LIMIT 1");
    first_book(conn, q).await
}

/// Sets a product's price in a book.
pub async fn set_price(
    conn: &mut Conn,
    book: &str,
    product: &str,
    unit_price_minor: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO prices (price_book_id, product_id, unit_price_minor) VALUES ($1, $2, $3) \
         ON CONFLICT (price_book_id, product_id) DO UPDATE SET unit_price_minor = excluded.unit_price_minor",
    )
    .bind(book)
    .bind(product)
    .bind(unit_price_minor)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A product's unit price in a book.
pub async fn price(conn: &mut Conn, book: &str, product: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT unit_price_minor FROM prices WHERE price_book_id = $1 AND product_id = $2")
        .bind(book)
        .bind(product)
        .fetch_optional(&mut *conn)
        .await
}

/// Up to `limit` prices of a book by product id, after the product `after`.
pub async fn list_prices(
    conn: &mut Conn,
    book: &pb::PriceBook,
    products: &[String],
    after: Option<String>,
    limit: i64,
) -> sqlx::Result<Vec<pb::Price>> {
    let mut q = SqlBuilder::new("SELECT product_id, unit_price_minor FROM prices WHERE 1 = 1");
    q.and("price_book_id = {}", book.id.as_str());
    if !products.is_empty() {
        let placeholders: Vec<String> = products.iter().map(|id| q.arg(id.as_str())).collect();
        q.push(&format!(" AND product_id IN ({})", placeholders.join(", ")));
    }
    q.after("product_id", after.map(|id| vec![id]));
    q.order_limit("product_id", limit);
    let rows = q.build().fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(pb::Price {
                price_book_id: book.id.clone(),
                product_id: r.try_get("product_id")?,
                unit_price: Some(Money {
                    amount_minor: r.try_get("unit_price_minor")?,
                    currency_code: book.currency_code.clone(),
                }),
            })
        })
        .collect()
}
