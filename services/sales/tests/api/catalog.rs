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

/// A quote's product chooser: products by the start of their name, in any case, or of their
/// SKU, and the prices of just those products.
async fn products_are_found_by_the_start_of_their_name_or_sku(backend: Backend) {
    let suite = Suite::start(backend).await;
    let create = |sku: &'static str, name: &'static str| {
        let catalog = suite.catalog.clone();
        let req = suite.req(pb::CreateProductRequest {
            product: Some(pb::Product {
                sku: sku.into(),
                name: name.into(),
                active: true,
                ..Default::default()
            }),
        });
        async move {
            let mut catalog = catalog;
            catalog
                .create_product(req)
                .await
                .unwrap()
                .into_inner()
                .product
                .unwrap()
        }
    };
    let book = create("LAP-14", "ThinkBook 14").await;
    let dock = create("DOCK-1", "Laptop dock").await;
    let monitor = create("MON-27", "監視器 27").await;
    let found = |query: &'static str, active_only: bool| {
        let catalog = suite.catalog.clone();
        let req = suite.req(pb::ListProductsRequest {
            query: query.into(),
            active_only,
            ..Default::default()
        });
        async move {
            let mut catalog = catalog;
            let products = catalog.list_products(req).await.unwrap().into_inner().products;
            products.into_iter().map(|p| p.sku).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found("lap", false).await,
        ["LAP-14", "DOCK-1"],
        "by SKU and by name"
    );
    assert_eq!(found("  LAPTOP ", false).await, ["DOCK-1"]);
    assert_eq!(found("lap-1", false).await, ["LAP-14"]);
    assert_eq!(found("監視", false).await, ["MON-27"]);
    assert_eq!(found("dock", false).await, ["DOCK-1"], "the start, not any word");
    assert!(found("book", false).await.is_empty(), "the start, not anywhere");
    assert!(found("%", false).await.is_empty(), "a wildcard is a character");
    assert!(found("_", false).await.is_empty());
    suite
        .catalog
        .clone()
        .update_product(suite.req(pb::UpdateProductRequest {
            product: Some(pb::Product {
                id: book.id.clone(),
                etag: book.etag.clone(),
                active: false,
                ..Default::default()
            }),
            update_mask: mask(&["active"]),
        }))
        .await
        .unwrap();
    assert_eq!(found("lap", true).await, ["DOCK-1"], "inactive ones left out");
    let long = suite
        .catalog
        .clone()
        .list_products(suite.req(pb::ListProductsRequest {
            query: "x".repeat(201),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(violated(&long), vec!["query"]);

    let usd = suite.price_book("List USD", "USD").await;
    for (product, amount) in [(&book, 129_900), (&dock, 19_900), (&monitor, 34_900)] {
        suite.set_price(&usd, product, amount).await;
    }
    let priced = |ids: Vec<String>| {
        let catalog = suite.catalog.clone();
        let req = suite.req(pb::ListPricesRequest {
            price_book_id: usd.id.clone(),
            product_ids: ids,
            ..Default::default()
        });
        async move {
            let mut catalog = catalog;
            catalog.list_prices(req).await
        }
    };
    let mut prices: Vec<(String, i64)> = priced(vec![dock.id.clone(), monitor.id.clone()])
        .await
        .unwrap()
        .into_inner()
        .prices
        .into_iter()
        .map(|p| (p.product_id, p.unit_price.unwrap().amount_minor))
        .collect();
    prices.sort();
    let mut expected = vec![(dock.id.clone(), 19_900), (monitor.id.clone(), 34_900)];
    expected.sort();
    assert_eq!(prices, expected);
    let too_many = priced((0..501).map(|i| format!("p{i}")).collect())
        .await
        .unwrap_err();
    assert_eq!(violated(&too_many), vec!["product_ids"]);
}

backend_tests!(
    products_price_books_and_prices,
    products_are_found_by_the_start_of_their_name_or_sku,
);
