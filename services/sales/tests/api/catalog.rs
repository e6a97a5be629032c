use crm_auth::Role;
use crm_proto::sales::v1 as pb;
use crm_testkit::{Backend, authed, backend_tests, token};
use tonic::Code;

use crate::helpers::{Suite, mask, money, violated};

async fn products_price_books_and_prices(backend: Backend) {
    let suite = Suite::start(backend).await;
    let laptop = suite.product("LAP-14", "hardware").await;
    assert_eq!(laptop.etag, "1");
    let dup = suite
        .catalog
        .clone()
        .create_product(suite.req(pb::CreateProductRequest {
            product: Some(pb::Product {
                sku: "LAP-14".into(),
                name: "Again".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    let bad = suite
        .catalog
        .clone()
        .create_product(suite.req(pb::CreateProductRequest {
            product: Some(pb::Product {
                sku: "lower case".into(),
                ..Default::default()
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&bad), vec!["product.sku", "product.name"]);

    let patch = pb::Product {
        id: laptop.id.clone(),
        etag: "1".into(),
        active: false,
        name: "ignored".into(),
        ..Default::default()
    };
    let updated = suite
        .catalog
        .clone()
        .update_product(suite.req(pb::UpdateProductRequest {
            product: Some(patch.clone()),
            update_mask: mask(&["active"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert!(!updated.active);
    assert_eq!(updated.name, laptop.name);
    let stale = suite
        .catalog
        .clone()
        .update_product(suite.req(pb::UpdateProductRequest {
            product: Some(patch),
            update_mask: mask(&["active"]),
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);

    let usd = suite.price_book("List USD", "USD").await;
    suite.set_price(&usd, &laptop, 129_900).await;
    let wrong_currency = suite
        .catalog
        .clone()
        .set_price(suite.req(pb::SetPriceRequest {
            price: Some(pb::Price {
                price_book_id: usd.id.clone(),
                product_id: laptop.id.clone(),
                unit_price: money(1, "EUR"),
            }),
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&wrong_currency), vec!["price.unit_price.currency_code"]);
    let prices = suite
        .catalog
        .clone()
        .list_prices(suite.req(pb::ListPricesRequest {
            price_book_id: usd.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .prices;
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0].unit_price.as_ref().unwrap().amount_minor, 129_900);

    // Partner users may read the catalog but not change it.
    let partner = token("p-user", &[Role::PartnerUser]);
    let listed = suite
        .catalog
        .clone()
        .list_products(authed(pb::ListProductsRequest::default(), &partner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.products.len(), 1);
    let denied = suite
        .catalog
        .clone()
        .create_product(authed(
            pb::CreateProductRequest {
                product: Some(pb::Product {
                    sku: "X".into(),
                    name: "X".into(),
                    ..Default::default()
                }),
            },
            &partner,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        suite.sales_event_types().await,
        vec!["product.changed", "product.changed"]
    );
}

backend_tests!(products_price_books_and_prices);
