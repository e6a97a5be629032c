//! Records a test sets up through the public APIs (as an administrator would), and the checks
//! tests of several services share: the events a service published, a row count reached.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use crm_events::CloudEvent;
use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as cpb;
use crm_proto::customers::v1::customers_service_client::CustomersServiceClient;
use crm_proto::sales::v1 as spb;
use crm_proto::sales::v1::catalog_service_client::CatalogServiceClient;
use crm_proto::sales::v1::order_service_client::OrderServiceClient;
use crm_storage::Db;
use futures::StreamExt as _;
use tonic::transport::Channel;

use crate::{TestNats, authed, eventually};

/// `amount_minor` in `currency`.
pub fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: currency.into(),
    })
}

/// A field mask of `paths`.
pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// An organization called `name`, not yet stored.
pub fn organization(name: &str) -> cpb::Party {
    cpb::Party {
        kind: cpb::PartyKind::Organization as i32,
        organization_name: name.into(),
        ..Default::default()
    }
}

/// A person, not yet stored.
pub fn person(given: &str, family: &str) -> cpb::Party {
    cpb::Party {
        kind: cpb::PartyKind::Person as i32,
        given_name: given.into(),
        family_name: family.into(),
        ..Default::default()
    }
}

/// A contact point of `kind` with `value`.
pub fn contact(kind: cpb::ContactPointKind, value: &str) -> cpb::ContactPoint {
    cpb::ContactPoint {
        kind: kind as i32,
        value: value.into(),
        ..Default::default()
    }
}

/// Stores `party` through `customers` with `token`.
pub async fn create_party(
    mut customers: CustomersServiceClient<Channel>,
    token: &str,
    party: cpb::Party,
) -> cpb::Party {
    customers
        .create_party(authed(
            cpb::CreatePartyRequest {
                party: Some(party),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("party created")
        .into_inner()
        .party
        .expect("party returned")
}

/// An active product, not yet stored.
pub fn product(sku: &str) -> spb::Product {
    spb::Product {
        sku: sku.into(),
        name: format!("Product {sku}"),
        active: true,
        ..Default::default()
    }
}

/// Stores `product` in the sales `catalog` with `token`.
pub async fn create_product(
    mut catalog: CatalogServiceClient<Channel>,
    token: &str,
    product: spb::Product,
) -> spb::Product {
    catalog
        .create_product(authed(
            spb::CreateProductRequest {
                product: Some(product),
            },
            token,
        ))
        .await
        .expect("product created")
        .into_inner()
        .product
        .expect("product returned")
}

/// A default price book called `name` in `currency`, stored in the sales `catalog`.
pub async fn create_price_book(
    mut catalog: CatalogServiceClient<Channel>,
    token: &str,
    name: &str,
    currency: &str,
) -> spb::PriceBook {
    let book = spb::PriceBook {
        name: name.into(),
        currency_code: currency.into(),
        is_default: true,
        ..Default::default()
    };
    catalog
        .create_price_book(authed(
            spb::CreatePriceBookRequest {
                price_book: Some(book),
            },
            token,
        ))
        .await
        .expect("price book created")
        .into_inner()
        .price_book
        .expect("price book returned")
}

/// Prices `product` at `amount_minor` in `book`'s currency.
pub async fn set_price(
    mut catalog: CatalogServiceClient<Channel>,
    token: &str,
    book: &spb::PriceBook,
    product: &spb::Product,
    amount_minor: i64,
) {
    let price = spb::Price {
        price_book_id: book.id.clone(),
        product_id: product.id.clone(),
        unit_price: money(amount_minor, &book.currency_code),
    };
    catalog
        .set_price(authed(spb::SetPriceRequest { price: Some(price) }, token))
        .await
        .expect("price set");
}

/// A draft quote for `opportunity` of `quantity` × `product`, priced from `book`, created with
/// `token`.
pub async fn create_quote(
    mut orders: OrderServiceClient<Channel>,
    token: &str,
    opportunity: &spb::Opportunity,
    book: &spb::PriceBook,
    product: &spb::Product,
    quantity: i64,
) -> spb::Quote {
    let quote = spb::Quote {
        opportunity_id: opportunity.id.clone(),
        price_book_id: book.id.clone(),
        lines: vec![spb::LineItem {
            product_id: product.id.clone(),
            quantity,
            ..Default::default()
        }],
        ..Default::default()
    };
    orders
        .create_quote(authed(spb::CreateQuoteRequest { quote: Some(quote) }, token))
        .await
        .expect("quote created")
        .into_inner()
        .quote
        .expect("quote returned")
}

/// Every event of `stream` (e.g. `CRM_SALES`) once the outbox of `db`, the service publishing
/// to it, is drained.
pub async fn published_events(nats: &TestNats, db: &Db, stream: &str) -> Vec<CloudEvent> {
    eventually(Duration::from_secs(20), "outbox drained", || async {
        let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crm_outbox WHERE sent_at IS NULL")
            .fetch_one(db.pool())
            .await
            .ok()?;
        (unsent == 0).then_some(())
    })
    .await;
    let js = jetstream::new(nats.client().await);
    let Ok(mut stream) = js.get_stream(stream).await else {
        return Vec::new();
    };
    let count = stream.info().await.expect("stream info").state.messages as usize;
    if count == 0 {
        return Vec::new();
    }
    let consumer = stream
        .create_consumer(pull::Config::default())
        .await
        .expect("consumer created");
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while out.len() < count {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("event within 10 s")
            .expect("stream open")
            .expect("message");
        out.push(CloudEvent::from_message(m.headers.as_ref(), m.payload.clone()).expect("a CloudEvent"));
    }
    out
}

/// Event types of `events` without the `crm.<service>.` prefix and `.v1` suffix.
pub fn short_types(events: Vec<CloudEvent>, service: &str) -> Vec<String> {
    let prefix = format!("crm.{service}.");
    events
        .into_iter()
        .map(|e| {
            e.event_type
                .trim_start_matches(&prefix)
                .trim_end_matches(".v1")
                .to_string()
        })
        .collect()
}

/// Waits until `count_sql` (a `SELECT COUNT(*)` with the optional text argument `arg` as `$1`)
/// counts `n` rows in `db` (an event having arrived, usually).
pub async fn rows_reach(db: &Db, count_sql: &'static str, arg: Option<&str>, n: i64, what: &str) {
    eventually(Duration::from_secs(30), what, || async {
        let mut query = sqlx::query_scalar::<_, i64>(count_sql);
        if let Some(arg) = arg {
            query = query.bind(arg.to_owned());
        }
        (query.fetch_one(db.pool()).await.ok()? == n).then_some(())
    })
    .await;
}
