//! Co-purchase counts kept as purchases arrive: the distinct products of each customer's counted
//! orders, the customers per product and per ordered pair of products.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crm_storage::{Arg, Conn, SqlBuilder, insert_chunks};
use sqlx::Row as _;

use crate::domain::affinity;

/// Parties per statement.
const PARTIES_PER_STATEMENT: usize = 500;

/// The products of `party_ids`' counted purchases, from the purchases themselves.
pub async fn bought(
    conn: &mut Conn,
    party_ids: &[String],
) -> sqlx::Result<HashMap<String, BTreeSet<String>>> {
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for chunk in party_ids.chunks(PARTIES_PER_STATEMENT) {
        let mut q = SqlBuilder::new(
            "SELECT party_id, product_ids FROM purchases WHERE status IN ('placed', 'fulfilled') AND party_id IN (",
        );
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!("{list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            let products: Vec<String> =
                serde_json::from_str(&row.try_get::<String, _>("product_ids")?).unwrap_or_default();
            out.entry(row.try_get("party_id")?).or_default().extend(products);
        }
    }
    Ok(out)
}

/// The products kept for `party_ids`.
pub async fn kept(conn: &mut Conn, party_ids: &[String]) -> sqlx::Result<HashMap<String, BTreeSet<String>>> {
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for chunk in party_ids.chunks(PARTIES_PER_STATEMENT) {
        let mut q = SqlBuilder::new("SELECT party_id, product_id FROM customer_products WHERE party_id IN (");
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!("{list})"));
        for row in q.build().fetch_all(&mut *conn).await? {
            out.entry(row.try_get("party_id")?)
                .or_default()
                .insert(row.try_get("product_id")?);
        }
    }
    Ok(out)
}

/// Brings the kept products of `party_ids` and the counts in line with their purchases.
pub async fn refresh(conn: &mut Conn, party_ids: &[String]) -> sqlx::Result<()> {
    let mut ids: Vec<String> = party_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let now = bought(conn, &ids).await?;
    let before = kept(conn, &ids).await?;
    let empty = BTreeSet::new();
    let mut buyers: BTreeMap<String, i64> = BTreeMap::new();
    let mut pairs: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut gone: Vec<(String, String)> = Vec::new();
    let mut new: Vec<(String, String)> = Vec::new();
    for id in &ids {
        let (was, is) = (before.get(id).unwrap_or(&empty), now.get(id).unwrap_or(&empty));
        if was == is {
            continue;
        }
        let (b, p) = affinity::basket_delta(was, is);
        for (product, n) in b {
            *buyers.entry(product).or_default() += n;
        }
        for (pair, n) in p {
            *pairs.entry(pair).or_default() += n;
        }
        gone.extend(was.difference(is).map(|p| (id.clone(), p.clone())));
        new.extend(is.difference(was).map(|p| (id.clone(), p.clone())));
    }
    for (party, product) in &gone {
        sqlx::query("DELETE FROM customer_products WHERE party_id = $1 AND product_id = $2")
            .bind(party)
            .bind(product)
            .execute(&mut *conn)
            .await?;
    }
    for chunk in insert_chunks(&new, 500) {
        let mut q = SqlBuilder::insert_rows(
            "customer_products (party_id, product_id)",
            chunk
                .iter()
                .map(|(party, product)| [Arg::from(party.as_str()), Arg::from(product.as_str())]),
        );
        q.push(" ON CONFLICT DO NOTHING");
        q.build().execute(&mut *conn).await?;
    }
    let buyers: Vec<(&String, &i64)> = buyers.iter().filter(|(_, n)| **n != 0).collect();
    for chunk in insert_chunks(&buyers, 500) {
        let mut q = SqlBuilder::insert_rows(
            "product_buyers (product_id, customers)",
            chunk
                .iter()
                .map(|(product, n)| [Arg::from(product.as_str()), Arg::Int(**n)]),
        );
        q.push(" ON CONFLICT (product_id) DO UPDATE SET customers = product_buyers.customers + excluded.customers");
        q.build().execute(&mut *conn).await?;
    }
    let pairs: Vec<(&(String, String), &i64)> = pairs.iter().filter(|(_, n)| **n != 0).collect();
    for chunk in insert_chunks(&pairs, 500) {
        let mut q = SqlBuilder::insert_rows(
            "product_pairs (product_a, product_b, customers)",
            chunk
                .iter()
                .map(|((a, b), n)| [Arg::from(a.as_str()), Arg::from(b.as_str()), Arg::Int(**n)]),
        );
        q.push(
            " ON CONFLICT (product_a, product_b) DO UPDATE SET customers = product_pairs.customers + excluded.customers",
        );
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Pair counts: (a, b, customers of both, of a, of b).
type PairCounts = (String, String, i64, i64, i64);

const PAIRS: &str = "SELECT pp.product_a, pp.product_b, pp.customers AS n_ab, a.customers AS n_a, b.customers AS n_b \
    FROM product_pairs pp JOIN product_buyers a ON a.product_id = pp.product_a \
    JOIN product_buyers b ON b.product_id = pp.product_b WHERE pp.customers >= ";

fn to_pairs(rows: &[sqlx::any::AnyRow]) -> sqlx::Result<Vec<PairCounts>> {
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("product_a")?,
                r.try_get("product_b")?,
                r.try_get("n_ab")?,
                r.try_get("n_a")?,
                r.try_get("n_b")?,
            ))
        })
        .collect()
}

/// The `limit` pairs bought together by at least `min` customers with the highest lift (then
/// confidence, then products), ordered in SQL.
pub async fn strongest(conn: &mut Conn, min: i64, limit: i64) -> sqlx::Result<Vec<PairCounts>> {
    let mut q = SqlBuilder::new(PAIRS);
    let min = q.arg(min);
    q.push(&min);
    let limit = q.arg(limit);
    q.push(&format!(
        " ORDER BY CAST(pp.customers AS DOUBLE PRECISION) / (CAST(a.customers AS DOUBLE PRECISION) * b.customers) DESC, \
         CAST(pp.customers AS DOUBLE PRECISION) / a.customers DESC, pp.product_a, pp.product_b LIMIT {limit}"
    ));
    to_pairs(&q.build().fetch_all(&mut *conn).await?)
}

/// The pairs leading from any of `products`, bought together by at least `min` customers.
pub async fn from_products(conn: &mut Conn, products: &[String], min: i64) -> sqlx::Result<Vec<PairCounts>> {
    let mut out = Vec::new();
    for chunk in products.chunks(PARTIES_PER_STATEMENT) {
        let mut q = SqlBuilder::new(PAIRS);
        let min = q.arg(min);
        q.push(&min);
        let list = q.in_list(chunk.iter().map(String::as_str));
        q.push(&format!(" AND pp.product_a IN ({list})"));
        out.extend(to_pairs(&q.build().fetch_all(&mut *conn).await?)?);
    }
    Ok(out)
}
