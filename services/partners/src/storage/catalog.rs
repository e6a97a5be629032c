//! The read copy of the sales catalog.

use crm_proto::sales::v1 as sales;
use crm_storage::Conn;
use sqlx::Row as _;

/// What partners keep about a product.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Product {
    /// Id.
    pub id: String,
    /// SKU.
    pub sku: String,
    /// Name.
    pub name: String,
    /// Category (targets and drill-down).
    pub category: String,
    /// Product line.
    pub product_line: String,
    /// Sellable.
    pub active: bool,
}

/// Inserts or refreshes a product from a sales event.
pub async fn upsert(conn: &mut Conn, p: &sales::Product) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO products (id, sku, name, category, product_line, active) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, name = excluded.name, category = excluded.category, \
         product_line = excluded.product_line, active = excluded.active",
    )
    .bind(&p.id)
    .bind(&p.sku)
    .bind(&p.name)
    .bind(&p.category)
    .bind(&p.product_line)
    .bind(i64::from(p.active))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The products among `ids` that are known, by id.
pub async fn by_ids(
    conn: &mut Conn,
    ids: &[String],
) -> sqlx::Result<std::collections::HashMap<String, Product>> {
    let mut found = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let mut q = crm_storage::SqlBuilder::new(
            "SELECT id, sku, name, category, product_line, active FROM products WHERE id IN (",
        );
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&list).push(")");
        for row in q.build().fetch_all(&mut *conn).await? {
            let product = from_row(&row)?;
            found.insert(product.id.clone(), product);
        }
    }
    Ok(found)
}

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<Product> {
    Ok(Product {
        id: r.try_get("id")?,
        sku: r.try_get("sku")?,
        name: r.try_get("name")?,
        category: r.try_get("category")?,
        product_line: r.try_get("product_line")?,
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

/// The category of each of `ids` that is known.
pub async fn categories(
    conn: &mut Conn,
    ids: &[String],
) -> sqlx::Result<std::collections::HashMap<String, String>> {
    let found = by_ids(conn, ids).await?;
    Ok(found.into_iter().map(|(id, p)| (id, p.category)).collect())
}

/// The name of each of `ids` that is known.
pub async fn names(
    conn: &mut Conn,
    ids: &[String],
) -> sqlx::Result<std::collections::HashMap<String, String>> {
    let found = by_ids(conn, ids).await?;
    Ok(found.into_iter().map(|(id, p)| (id, p.name)).collect())
}
