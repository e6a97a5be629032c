//! Products, price books and prices.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_parts, decode_token, finish_page, key_of, next_token, page_size};
use crm_proto::sales::v1 as pb;
use crm_proto::sales::v1::events as ev;

use super::{SalesApi, version};
use crate::domain::rules::{is_currency, validate_product};
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::catalog;

/// Longest product search, in characters.
const MAX_QUERY_CHARS: usize = 200;

/// Most products whose prices one ListPrices call names.
const MAX_PRICED_PRODUCTS: usize = 500;

impl SalesApi {
    pub(super) async fn handle_create_product(
        &self,
        _p: &Principal,
        req: pb::CreateProductRequest,
    ) -> Result<pb::CreateProductResponse> {
        let mut product = req.product.ok_or_else(|| invalid("product", "required"))?;
        product.name = product.name.trim().to_string();
        validate_product(&product).finish()?;
        let mut tx = self.store.begin().await?;
        catalog::insert_product(&mut tx, &mut product, self.store.now_micros())
            .await
            .map_err(|e| {
                if crm_storage::is_unique_violation(&e) {
                    Error::AlreadyExists(format!("product with SKU {}", product.sku))
                } else {
                    e.into()
                }
            })?;
        let stored = catalog::product_by_id(&mut tx, &product.id)
            .await?
            .ok_or_else(|| Error::NotFound("product".into()))?;
        events::publish(
            &mut tx,
            ev::PRODUCT_CHANGED,
            &stored.id,
            &pb::ProductChanged {
                product: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateProductResponse {
            product: Some(stored),
        })
    }

    pub(super) async fn handle_get_product(
        &self,
        _p: &Principal,
        req: pb::GetProductRequest,
    ) -> Result<pb::GetProductResponse> {
        let mut conn = self.store.conn().await?;
        let product = catalog::product_by_id(&mut conn, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("product {}", req.id)))?;
        Ok(pb::GetProductResponse {
            product: Some(product),
        })
    }

    pub(super) async fn handle_update_product(
        &self,
        _p: &Principal,
        req: pb::UpdateProductRequest,
    ) -> Result<pb::UpdateProductResponse> {
        let patch = req.product.ok_or_else(|| invalid("product", "required"))?;
        let expected = version(&patch.etag, "product.etag")?;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        let mut tx = self.store.begin().await?;
        let mut product = catalog::product_by_id(&mut tx, &patch.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("product {}", patch.id)))?;
        let mut v = Violations::new();
        v.check(paths.is_empty(), "update_mask", "name at least one field");
        for path in &paths {
            match path.as_str() {
                "name" => product.name = patch.name.trim().to_string(),
                "description" => product.description.clone_from(&patch.description),
                "product_line" => product.product_line.clone_from(&patch.product_line),
                "category" => product.category.clone_from(&patch.category),
                "unit" => product.unit.clone_from(&patch.unit),
                "active" => product.active = patch.active,
                "unit_cost" => product.unit_cost.clone_from(&patch.unit_cost),
                other => v.add("update_mask", format!("{other:?} cannot be updated")),
            }
        }
        v.finish()?;
        validate_product(&product).finish()?;
        if product.etag != expected.to_string()
            || !catalog::update_product(&mut tx, &product, expected, self.store.now_micros()).await?
        {
            return Err(Error::Stale(format!("product {}", product.id)));
        }
        let stored = catalog::product_by_id(&mut tx, &product.id)
            .await?
            .ok_or_else(|| Error::NotFound("product".into()))?;
        events::publish(
            &mut tx,
            ev::PRODUCT_CHANGED,
            &stored.id,
            &pb::ProductChanged {
                product: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::UpdateProductResponse {
            product: Some(stored),
        })
    }

    pub(super) async fn handle_list_products(
        &self,
        _p: &Principal,
        req: pb::ListProductsRequest,
    ) -> Result<pb::ListProductsResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 1000, &mut v);
        let after = decode_token(&req.page_token, &mut v);
        let query = req.query.trim();
        v.check(
            query.chars().count() > MAX_QUERY_CHARS,
            "query",
            "at most 200 characters",
        );
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let filter = catalog::ProductFilter {
            product_line: &req.product_line,
            category: &req.category,
            active_only: req.active_only,
            query,
        };
        let products = catalog::list_products(&mut conn, &filter, &after, size).await?;
        let next_page_token = next_token(products.len(), size, products.last().map(|p| p.id.clone()));
        Ok(pb::ListProductsResponse {
            products,
            next_page_token,
        })
    }

    pub(super) async fn handle_create_price_book(
        &self,
        _p: &Principal,
        req: pb::CreatePriceBookRequest,
    ) -> Result<pb::CreatePriceBookResponse> {
        let mut book = req.price_book.ok_or_else(|| invalid("price_book", "required"))?;
        book.name = book.name.trim().to_string();
        let mut v = Violations::new();
        v.check(
            book.name.is_empty() || book.name.len() > 100,
            "price_book.name",
            "1 to 100 characters",
        );
        v.check(
            !is_currency(&book.currency_code),
            "price_book.currency_code",
            "an ISO 4217 code such as USD",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        catalog::insert_price_book(&mut tx, &mut book)
            .await
            .map_err(|e| {
                if crm_storage::is_unique_violation(&e) {
                    Error::AlreadyExists(format!("price book {:?}", book.name))
                } else {
                    e.into()
                }
            })?;
        self.store.commit(tx).await?;
        Ok(pb::CreatePriceBookResponse {
            price_book: Some(book),
        })
    }

    pub(super) async fn handle_list_price_books(
        &self,
        _p: &Principal,
        req: pb::ListPriceBooksRequest,
    ) -> Result<pb::ListPriceBooksResponse> {
        let mut v = Violations::new();
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 1, &mut v).map(|mut k| k.remove(0));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let rows = catalog::list_price_books(&mut conn, after, size + 1).await?;
        let (price_books, next_page_token) = finish_page(rows, size, |b| key_of(&[&b.name]));
        Ok(pb::ListPriceBooksResponse {
            price_books,
            next_page_token,
        })
    }

    pub(super) async fn handle_set_price(
        &self,
        _p: &Principal,
        req: pb::SetPriceRequest,
    ) -> Result<pb::SetPriceResponse> {
        let price = req.price.ok_or_else(|| invalid("price", "required"))?;
        let mut v = Violations::new();
        v.check(price.price_book_id.is_empty(), "price.price_book_id", "required");
        v.check(price.product_id.is_empty(), "price.product_id", "required");
        crate::domain::rules::check_money(&mut v, "price.unit_price", &price.unit_price);
        v.finish()?;
        let unit = price.unit_price.clone().unwrap_or_default();
        let mut tx = self.store.begin().await?;
        let book = catalog::price_book_by_id(&mut tx, &price.price_book_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("price book {}", price.price_book_id)))?;
        if unit.currency_code != book.currency_code {
            return Err(invalid(
                "price.unit_price.currency_code",
                &format!("the price book is in {}", book.currency_code),
            ));
        }
        catalog::product_by_id(&mut tx, &price.product_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("product {}", price.product_id)))?;
        catalog::set_price(&mut tx, &book.id, &price.product_id, unit.amount_minor).await?;
        self.store.commit(tx).await?;
        Ok(pb::SetPriceResponse { price: Some(price) })
    }

    pub(super) async fn handle_list_prices(
        &self,
        _p: &Principal,
        req: pb::ListPricesRequest,
    ) -> Result<pb::ListPricesResponse> {
        let mut v = Violations::new();
        v.check(req.price_book_id.is_empty(), "price_book_id", "required");
        v.check(
            req.product_ids.len() > MAX_PRICED_PRODUCTS,
            "product_ids",
            "at most 500 products",
        );
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 1, &mut v).map(|mut k| k.remove(0));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        let book = catalog::price_book_by_id(&mut conn, &req.price_book_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("price book {}", req.price_book_id)))?;
        let rows = catalog::list_prices(&mut conn, &book, &req.product_ids, after, size + 1).await?;
        let (prices, next_page_token) = finish_page(rows, size, |p| key_of(&[&p.product_id]));
        Ok(pb::ListPricesResponse {
            prices,
            next_page_token,
        })
    }
}
