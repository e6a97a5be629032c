//! Quotes: pricing from a price book, revisions, status, acceptance into an order.

use crm_auth::Principal;
use crm_platform::Violations;
use crm_platform::paging::{decode_parts, finish_page, key_of, page_size};
use crm_proto::common::v1::Money;
use crm_proto::sales::v1::events as ev;
use crm_proto::sales::v1::{self as pb, OrderStatus, QuoteStatus};

use super::{SalesApi, version};
use crate::domain::pricing::{self, LineInput};
use crate::domain::rules;
use crate::error::{Error, Result, invalid};
use crate::events;
use crate::storage::{catalog, opportunities, orders, quotes};

/// Prices `lines` from `book`: unit prices from the book (or the given override in the
/// book's currency), line nets, and the quote totals after `discount_bps`.
pub(crate) async fn price_lines(
    conn: &mut crm_storage::Conn,
    book: &pb::PriceBook,
    lines: &mut [pb::LineItem],
    discount_bps: i32,
    allow_override: bool,
) -> Result<pricing::QuoteTotals> {
    let mut v = Violations::new();
    let mut inputs = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter_mut().enumerate() {
        let product = catalog::product_by_id(conn, &line.product_id).await?;
        let price = match &product {
            Some(p) if p.active => catalog::price(conn, &book.id, &p.id).await?,
            _ => None,
        };
        let unit = match (&line.unit_price, price) {
            (Some(given), _) if allow_override => {
                v.check(
                    given.currency_code != book.currency_code,
                    format!("lines[{i}].unit_price.currency_code"),
                    format!("the price book is in {}", book.currency_code),
                );
                Some(given.amount_minor)
            }
            (_, Some(price)) => Some(price),
            _ => None,
        };
        match (&product, unit) {
            (None, _) => v.add(format!("lines[{i}].product_id"), "no such product"),
            (Some(p), _) if !p.active => v.add(format!("lines[{i}].product_id"), "the product is not active"),
            (Some(_), None) => v.add(
                format!("lines[{i}].product_id"),
                format!("no price in price book {}", book.name),
            ),
            (Some(p), Some(unit)) => {
                line.unit_price = Some(Money {
                    amount_minor: unit,
                    currency_code: book.currency_code.clone(),
                });
                line.product_line.clone_from(&p.product_line);
                line.description.clone_from(&p.name);
                line.unit_cost = p
                    .unit_cost
                    .clone()
                    .filter(|c| c.currency_code == book.currency_code);
            }
        }
        inputs.push(LineInput {
            quantity: line.quantity,
            unit_price_minor: unit.unwrap_or_default(),
            discount_bps: line.discount_bps,
        });
    }
    for (field, message) in pricing::validate(&inputs, discount_bps) {
        v.add(field, message);
    }
    v.finish()?;
    for (line, input) in lines.iter_mut().zip(&inputs) {
        let total = pricing::line_total(input);
        line.net = Some(Money {
            amount_minor: total.net_minor,
            currency_code: book.currency_code.clone(),
        });
    }
    Ok(pricing::quote_totals(&inputs, discount_bps))
}

impl SalesApi {
    fn set_totals(quote: &mut pb::Quote, totals: &pricing::QuoteTotals, currency: &str) {
        let money = |amount_minor| {
            Some(Money {
                amount_minor,
                currency_code: currency.to_string(),
            })
        };
        quote.subtotal = money(totals.subtotal_minor);
        quote.discount = money(totals.header_discount_minor);
        quote.total = money(totals.total_minor);
    }

    pub(super) async fn handle_create_quote(
        &self,
        principal: &Principal,
        req: pb::CreateQuoteRequest,
    ) -> Result<pb::CreateQuoteResponse> {
        let mut quote = req.quote.ok_or_else(|| invalid("quote", "required"))?;
        let mut v = Violations::new();
        v.check(
            quote.opportunity_id.is_empty(),
            "quote.opportunity_id",
            "required",
        );
        v.check(quote.price_book_id.is_empty(), "quote.price_book_id", "required");
        v.check(
            !quote.valid_until.is_empty() && !rules::is_date(&quote.valid_until),
            "quote.valid_until",
            "a date YYYY-MM-DD",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let (opportunity, _) = self
            .opportunity_for_write(&mut tx, principal, &quote.opportunity_id, None)
            .await?;
        let book = catalog::price_book_by_id(&mut tx, &quote.price_book_id)
            .await?
            .ok_or_else(|| invalid("quote.price_book_id", "no such price book"))?;
        let totals = price_lines(&mut tx, &book, &mut quote.lines, quote.discount_bps, false)
            .await
            .map_err(prefix_quote)?;
        Self::set_totals(&mut quote, &totals, &book.currency_code);
        quote.number.clear();
        quote.revision = 1;
        quote.party_id = opportunity.party_id;
        quote.status = QuoteStatus::Draft as i32;
        quote.order_id.clear();
        quotes::insert(&mut tx, &mut quote, &book.currency_code, self.store.now_micros()).await?;
        let stored = quotes::get(&mut tx, &quote.id)
            .await?
            .ok_or_else(|| Error::NotFound("quote".into()))?;
        events::publish(
            &mut tx,
            ev::QUOTE_CHANGED,
            &stored.id,
            &pb::QuoteChanged {
                quote: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::CreateQuoteResponse { quote: Some(stored) })
    }

    pub(super) async fn handle_get_quote(
        &self,
        principal: &Principal,
        req: pb::GetQuoteRequest,
    ) -> Result<pb::GetQuoteResponse> {
        let mut conn = self.store.conn().await?;
        let quote = quotes::get(&mut conn, &req.id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("quote {}", req.id)))?;
        let o = self.opportunity(&mut conn, &quote.opportunity_id).await?;
        if !rules::may_read(principal, &o.owner_id, &o.team_id, &o.territory_id) {
            return Err(Error::PermissionDenied(format!(
                "{} may not read quote {}",
                principal.user_id, quote.id
            )));
        }
        Ok(pb::GetQuoteResponse { quote: Some(quote) })
    }

    pub(super) async fn handle_list_quotes(
        &self,
        principal: &Principal,
        req: pb::ListQuotesRequest,
    ) -> Result<pb::ListQuotesResponse> {
        let mut v = Violations::new();
        v.check(
            req.opportunity_id.is_empty() == req.party_id.is_empty(),
            "opportunity_id",
            "name an opportunity or a customer (party_id)",
        );
        let size = page_size(req.page_size, 100, 500, &mut v);
        let after = decode_parts(&req.page_token, 2, &mut v).and_then(|k| quote_key(&k));
        v.finish()?;
        let mut conn = self.store.conn().await?;
        if !req.party_id.is_empty() {
            let of = quotes::QuotesOf::Party {
                party_id: &req.party_id,
                open_only: req.open_only,
            };
            let rows = quotes::list(&mut conn, of, after, size + 1).await?;
            let (rows, next_page_token) = finish_page(rows, size, |q| {
                key_of(&[q.number.clone(), q.revision.to_string()])
            });
            // Only the quotes of opportunities the caller may read (a page may come out short),
            // their holders read in one statement.
            let mut ids: Vec<&str> = rows.iter().map(|q| q.opportunity_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let holders = opportunities::holders(&mut conn, &ids).await?;
            let quotes = rows
                .into_iter()
                .filter(|q| {
                    holders
                        .get(&q.opportunity_id)
                        .is_some_and(|(owner, team, territory)| {
                            rules::may_read(principal, owner, team, territory)
                        })
                })
                .collect();
            return Ok(pb::ListQuotesResponse {
                quotes,
                next_page_token,
            });
        }
        let o = self.opportunity(&mut conn, &req.opportunity_id).await?;
        if !rules::may_read(principal, &o.owner_id, &o.team_id, &o.territory_id) {
            return Err(Error::PermissionDenied(format!(
                "{} may not read opportunity {}",
                principal.user_id, o.id
            )));
        }
        let rows = quotes::list(&mut conn, quotes::QuotesOf::Opportunity(&o.id), after, size + 1).await?;
        let (quotes, next_page_token) = finish_page(rows, size, |q| {
            key_of(&[q.number.clone(), q.revision.to_string()])
        });
        Ok(pb::ListQuotesResponse {
            quotes,
            next_page_token,
        })
    }

    /// A quote still open for changes, its opportunity writable by the principal, at `etag`.
    async fn open_quote(
        &self,
        tx: &mut crm_storage::Tx,
        principal: &Principal,
        id: &str,
        etag: &str,
    ) -> Result<(pb::Quote, pb::Opportunity, i64)> {
        let expected = version(etag, "etag")?;
        let quote = quotes::get(tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("quote {id}")))?;
        let (opportunity, opportunity_version) = self
            .opportunity_for_write(tx, principal, &quote.opportunity_id, None)
            .await?;
        if quote.etag != expected.to_string() {
            return Err(Error::Stale(format!("quote {id}")));
        }
        if !matches!(
            QuoteStatus::try_from(quote.status),
            Ok(QuoteStatus::Draft | QuoteStatus::Presented)
        ) {
            return Err(Error::FailedPrecondition(format!(
                "quote {id} is {}",
                status_name(quote.status)
            )));
        }
        Ok((quote, opportunity, opportunity_version))
    }

    pub(super) async fn handle_revise_quote(
        &self,
        principal: &Principal,
        req: pb::ReviseQuoteRequest,
    ) -> Result<pb::ReviseQuoteResponse> {
        let mut v = Violations::new();
        v.check(
            !req.valid_until.is_empty() && !rules::is_date(&req.valid_until),
            "valid_until",
            "a date YYYY-MM-DD",
        );
        v.finish()?;
        let mut tx = self.store.begin().await?;
        let (previous, _, _) = self.open_quote(&mut tx, principal, &req.id, &req.etag).await?;
        let book = catalog::price_book_by_id(&mut tx, &previous.price_book_id)
            .await?
            .ok_or_else(|| Error::NotFound("price book".into()))?;
        let mut next = pb::Quote {
            number: previous.number.clone(),
            revision: previous.revision + 1,
            opportunity_id: previous.opportunity_id.clone(),
            party_id: previous.party_id.clone(),
            price_book_id: previous.price_book_id.clone(),
            lines: req.lines,
            discount_bps: req.discount_bps,
            valid_until: req.valid_until,
            status: QuoteStatus::Draft as i32,
            ..Default::default()
        };
        let totals = price_lines(&mut tx, &book, &mut next.lines, next.discount_bps, false).await?;
        Self::set_totals(&mut next, &totals, &book.currency_code);
        if !quotes::set_status(
            &mut tx,
            &previous.id,
            QuoteStatus::Superseded as i32,
            "",
            previous.etag.parse().unwrap_or_default(),
        )
        .await?
        {
            return Err(Error::Stale(format!("quote {}", previous.id)));
        }
        quotes::insert(&mut tx, &mut next, &book.currency_code, self.store.now_micros()).await?;
        let stored = quotes::get(&mut tx, &next.id)
            .await?
            .ok_or_else(|| Error::NotFound("quote".into()))?;
        events::publish(
            &mut tx,
            ev::QUOTE_CHANGED,
            &stored.id,
            &pb::QuoteChanged {
                quote: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::ReviseQuoteResponse { quote: Some(stored) })
    }

    pub(super) async fn handle_set_quote_status(
        &self,
        principal: &Principal,
        req: pb::SetQuoteStatusRequest,
    ) -> Result<pb::SetQuoteStatusResponse> {
        let target = QuoteStatus::try_from(req.status).unwrap_or(QuoteStatus::Unspecified);
        if !matches!(target, QuoteStatus::Presented | QuoteStatus::Rejected) {
            return Err(invalid(
                "status",
                "PRESENTED or REJECTED (accept with AcceptQuote)",
            ));
        }
        let mut tx = self.store.begin().await?;
        let (quote, _, _) = self.open_quote(&mut tx, principal, &req.id, &req.etag).await?;
        if target == QuoteStatus::Presented && quote.status != QuoteStatus::Draft as i32 {
            return Err(Error::FailedPrecondition(format!(
                "quote {} was already presented",
                quote.id
            )));
        }
        if !quotes::set_status(
            &mut tx,
            &quote.id,
            target as i32,
            "",
            quote.etag.parse().unwrap_or_default(),
        )
        .await?
        {
            return Err(Error::Stale(format!("quote {}", quote.id)));
        }
        let stored = quotes::get(&mut tx, &quote.id)
            .await?
            .ok_or_else(|| Error::NotFound("quote".into()))?;
        events::publish(
            &mut tx,
            ev::QUOTE_CHANGED,
            &stored.id,
            &pb::QuoteChanged {
                quote: Some(stored.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::SetQuoteStatusResponse { quote: Some(stored) })
    }

    pub(super) async fn handle_accept_quote(
        &self,
        principal: &Principal,
        req: pb::AcceptQuoteRequest,
    ) -> Result<pb::AcceptQuoteResponse> {
        let mut tx = self.store.begin().await?;
        let (quote, opportunity, opportunity_version) =
            self.open_quote(&mut tx, principal, &req.id, &req.etag).await?;
        let today = crm_platform::time::naive_utc(self.store.now_micros())
            .date()
            .format("%Y-%m-%d")
            .to_string();
        if !quote.valid_until.is_empty() && quote.valid_until < today {
            return Err(Error::FailedPrecondition(format!(
                "quote {} expired on {}",
                quote.id, quote.valid_until
            )));
        }
        let mut order = pb::Order {
            party_id: quote.party_id.clone(),
            quote_id: quote.id.clone(),
            opportunity_id: opportunity.id.clone(),
            channel: Some(req.channel.unwrap_or_default()),
            lines: quote.lines.clone(),
            total: quote.total.clone(),
            status: OrderStatus::Placed as i32,
            owner_id: opportunity.owner_id.clone(),
            team_id: opportunity.team_id.clone(),
            ..Default::default()
        };
        orders::insert(&mut tx, &mut order, self.store.now_micros()).await?;
        if !quotes::set_status(
            &mut tx,
            &quote.id,
            QuoteStatus::Accepted as i32,
            &order.id,
            quote.etag.parse().unwrap_or_default(),
        )
        .await?
        {
            return Err(Error::Stale(format!("quote {}", quote.id)));
        }
        self.close(&mut tx, opportunity, opportunity_version, true, "")
            .await?;
        let quote = quotes::get(&mut tx, &quote.id)
            .await?
            .ok_or_else(|| Error::NotFound("quote".into()))?;
        let order = orders::get(&mut tx, &order.id)
            .await?
            .ok_or_else(|| Error::NotFound("order".into()))?;
        events::publish(
            &mut tx,
            ev::QUOTE_CHANGED,
            &quote.id,
            &pb::QuoteChanged {
                quote: Some(quote.clone()),
            },
        )
        .await?;
        events::publish(
            &mut tx,
            ev::ORDER_PLACED,
            &order.party_id,
            &pb::OrderPlaced {
                order: Some(order.clone()),
            },
        )
        .await?;
        self.store.commit(tx).await?;
        Ok(pb::AcceptQuoteResponse {
            quote: Some(quote),
            order: Some(order),
        })
    }
}

fn status_name(status: i32) -> &'static str {
    match QuoteStatus::try_from(status) {
        Ok(QuoteStatus::Accepted) => "accepted",
        Ok(QuoteStatus::Rejected) => "rejected",
        Ok(QuoteStatus::Superseded) => "superseded",
        Ok(QuoteStatus::Presented) => "presented",
        _ => "a draft",
    }
}

/// Line violations of a new quote are reported under `quote.`.
fn prefix_quote(err: Error) -> Error {
    match err {
        Error::Invalid(v) => {
            let mut out = Violations::new();
            out.extend_prefixed("quote", v);
            Error::Invalid(out)
        }
        other => other,
    }
}

/// A quote's list key (number, revision) from a page token's parts.
fn quote_key(parts: &[String]) -> Option<(String, i64)> {
    Some((parts[0].clone(), parts[1].parse().ok()?))
}
