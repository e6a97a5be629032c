//! Rules for imported orders: historical times, totals without price books, statuses reached in
//! the order their life cycle allows.

use std::collections::HashMap;

use crm_platform::Violations;
use crm_platform::import::check_external_id;
use crm_proto::common::v1::Money;
use crm_proto::sales::v1::{self as pb, OrderStatus};

use super::pricing::{self, LineInput};
use super::rules::is_currency;
use crm_platform::time::{micros, timestamp};

/// An order row that passed validation (its party not resolved yet).
#[derive(Debug, Clone)]
pub struct PreparedOrder {
    /// Row number in the client's file.
    pub row: i64,
    /// Id in the source system.
    pub external_id: String,
    /// The customer's id in the same source.
    pub party_external_id: String,
    /// The channel partner's id in the same source ("" when named by id or direct).
    pub partner_external_id: String,
    /// The order as it stands now (status and status time included, lines priced); `party_id`
    /// and the lines' product ids unset.
    pub order: pb::Order,
    /// The SKU of each line of `order`, in order.
    pub line_skus: Vec<String>,
    /// Hash of the imported content.
    pub hash: String,
}

/// Validates one row; `now` bounds its times. Field names are the row's.
pub fn prepare(row: pb::OrderImportRow, now: i64) -> Result<PreparedOrder, Violations> {
    let mut v = Violations::new();
    check_external_id(&mut v, "external_id", &row.external_id);
    check_external_id(&mut v, "party_external_id", &row.party_external_id);
    let placed = row.place_time.as_ref().map(micros);
    match placed {
        None => v.add("place_time", "required"),
        Some(at) => v.check(at > now, "place_time", "in the future"),
    }
    let lines = prepare_lines(&row, &mut v);
    let total = match (&row.total, &lines) {
        (None, None) => {
            v.add("total", "required (or lines)");
            Money::default()
        }
        (Some(total), _) => {
            v.check(
                !is_currency(&total.currency_code),
                "total.currency_code",
                format!("unknown currency {:?}", total.currency_code),
            );
            v.check(
                total.amount_minor < 0,
                "total.amount_minor",
                "must not be negative",
            );
            if let Some(lines) = &lines {
                v.check(
                    total.amount_minor != lines.total.amount_minor,
                    "total.amount_minor",
                    format!("the lines add up to {}", lines.total.amount_minor),
                );
                v.check(
                    total.currency_code != lines.total.currency_code,
                    "total.currency_code",
                    format!("the lines are in {}", lines.total.currency_code),
                );
            }
            total.clone()
        }
        (None, Some(lines)) => lines.total.clone(),
    };
    let status = match OrderStatus::try_from(row.status) {
        Ok(OrderStatus::Unspecified) => OrderStatus::Placed,
        Ok(s) => s,
        Err(_) => {
            v.add("status", "PLACED, FULFILLED, CANCELLED or RETURNED");
            OrderStatus::Placed
        }
    };
    let status_at = row
        .status_time
        .as_ref()
        .map(micros)
        .or(placed)
        .unwrap_or_default();
    if row.status_time.is_some() {
        v.check(status_at > now, "status_time", "in the future");
        v.check(
            placed.is_some_and(|p| status_at < p),
            "status_time",
            "before the place time",
        );
        v.check(
            status == OrderStatus::Placed && placed != Some(status_at),
            "status_time",
            "a placed order's status time is its place time",
        );
    }
    for (field, value, max) in [
        ("status_reason", &row.status_reason, 500),
        ("partner_id", &row.partner_id, 64),
        ("partner_external_id", &row.partner_external_id, 200),
        ("owner_id", &row.owner_id, 200),
        ("team_id", &row.team_id, 200),
    ] {
        v.check(
            value.chars().count() > max,
            field,
            format!("at most {max} characters"),
        );
    }
    v.check(
        !row.partner_id.trim().is_empty() && !row.partner_external_id.trim().is_empty(),
        "partner_external_id",
        "name the partner by id or by external id, not both",
    );
    if let Some(cost) = &row.cost {
        v.check(cost.amount_minor < 0, "cost.amount_minor", "must not be negative");
        v.check(
            cost.currency_code != total.currency_code,
            "cost.currency_code",
            format!("the order is in {}", total.currency_code),
        );
    }
    v.finish()?;
    let placed = placed.unwrap_or_default();
    let (items, line_skus) = lines.map(|l| (l.items, l.skus)).unwrap_or_default();
    let order = pb::Order {
        lines: items,
        channel: Some(pb::Channel {
            partner_id: row.partner_id.trim().to_string(),
        }),
        total: Some(Money {
            amount_minor: total.amount_minor,
            currency_code: total.currency_code.clone(),
        }),
        status: status as i32,
        owner_id: row.owner_id.trim().to_string(),
        team_id: row.team_id.trim().to_string(),
        place_time: Some(timestamp(placed)),
        status_time: Some(timestamp(status_at)),
        status_reason: row.status_reason.trim().to_string(),
        external_id: row.external_id.trim().to_string(),
        cost: row.cost.clone(),
        ..Default::default()
    };
    let mut canonical = format!(
        "{}\0{}\0{}\0{}\0{}\0{}\0{}\0{}\0{}\0{}\0{}",
        row.party_external_id.trim(),
        placed,
        total.amount_minor,
        total.currency_code,
        status as i32,
        status_at,
        order.status_reason,
        row.partner_id.trim(),
        order.owner_id,
        order.team_id,
        row.partner_external_id.trim(),
    );
    // Orders without a cost hash as they did before costs could be imported.
    if let Some(cost) = &row.cost {
        canonical.push_str(&format!("\0cost\0{}", cost.amount_minor));
    }
    // Total-only orders hash as they did before lines could be imported.
    for (sku, line) in line_skus.iter().zip(&order.lines) {
        let unit = line.unit_price.as_ref().map_or(0, |m| m.amount_minor);
        canonical.push_str(&format!(
            "\0{sku}\0{}\0{unit}\0{}",
            line.quantity, line.discount_bps
        ));
    }
    Ok(PreparedOrder {
        line_skus,
        row: row.row,
        external_id: order.external_id.clone(),
        party_external_id: row.party_external_id.trim().to_string(),
        partner_external_id: row.partner_external_id.trim().to_string(),
        hash: crm_storage::imports::content_hash(canonical.as_bytes()),
        order,
    })
}

/// The lines of a row, priced, and what they add up to.
struct Lines {
    items: Vec<pb::LineItem>,
    skus: Vec<String>,
    total: Money,
}

/// Validates and prices the lines of a row (`None` when it has none). The lines share one
/// currency, the total's when the row has one.
fn prepare_lines(row: &pb::OrderImportRow, v: &mut Violations) -> Option<Lines> {
    if row.lines.is_empty() {
        return None;
    }
    let currency = row
        .total
        .as_ref()
        .map(|t| t.currency_code.clone())
        .or_else(|| {
            row.lines
                .iter()
                .find_map(|l| l.unit_price.as_ref())
                .map(|m| m.currency_code.clone())
        })
        .unwrap_or_default();
    let mut inputs = Vec::with_capacity(row.lines.len());
    let mut skus = Vec::with_capacity(row.lines.len());
    for (i, line) in row.lines.iter().enumerate() {
        let sku = line.sku.trim();
        v.check(sku.is_empty(), format!("lines[{i}].sku"), "required");
        v.check(
            sku.chars().count() > 100,
            format!("lines[{i}].sku"),
            "at most 100 characters",
        );
        match &line.unit_price {
            None => v.add(format!("lines[{i}].unit_price"), "required (the price paid)"),
            Some(price) if price.currency_code != currency => v.add(
                format!("lines[{i}].unit_price.currency_code"),
                format!("the order is in {currency:?}"),
            ),
            Some(_) => {}
        }
        skus.push(sku.to_string());
        inputs.push(LineInput {
            quantity: line.quantity,
            unit_price_minor: line.unit_price.as_ref().map_or(0, |m| m.amount_minor),
            discount_bps: line.discount_bps,
        });
    }
    if row.total.is_none() && !is_currency(&currency) {
        v.add(
            "lines[0].unit_price.currency_code",
            format!("unknown currency {currency:?}"),
        );
    }
    for (field, message) in pricing::validate(&inputs, 0) {
        // The arithmetic names the unit price by its minor units.
        let field = field.replace(".unit_price_minor", ".unit_price.amount_minor");
        v.add(field, message);
    }
    let money = |amount_minor| Money {
        amount_minor,
        currency_code: currency.clone(),
    };
    let items = row
        .lines
        .iter()
        .zip(&inputs)
        .map(|(line, input)| pb::LineItem {
            quantity: line.quantity,
            unit_price: Some(money(input.unit_price_minor)),
            discount_bps: line.discount_bps,
            net: Some(money(pricing::line_total(input).net_minor)),
            ..Default::default()
        })
        .collect();
    Some(Lines {
        items,
        skus,
        total: money(pricing::quote_totals(&inputs, 0).total_minor),
    })
}

/// Names each line's product (found by its SKU in `catalog`), or the line whose SKU is
/// unknown as (field, reason). A discontinued product still names a historical line.
pub fn attach_products(
    p: &mut PreparedOrder,
    catalog: &HashMap<String, pb::Product>,
) -> Result<(), (String, String)> {
    for (i, (line, sku)) in p.order.lines.iter_mut().zip(&p.line_skus).enumerate() {
        let product = catalog
            .get(sku)
            .ok_or_else(|| (format!("lines[{i}].sku"), format!("no product with SKU {sku:?}")))?;
        line.product_id.clone_from(&product.id);
        line.product_line.clone_from(&product.product_line);
        line.description.clone_from(&product.name);
    }
    Ok(())
}

/// Whether an order may move from `from` to `to` (possibly over several steps: placed ->
/// fulfilled -> returned).
pub fn may_move(from: OrderStatus, to: OrderStatus) -> bool {
    use OrderStatus::{Cancelled, Fulfilled, Placed, Returned};
    matches!(
        (from, to),
        (Placed, Fulfilled | Cancelled | Returned) | (Fulfilled, Returned)
    )
}

/// Fields of `next` that differ from `stored` and may not change once imported: an order is a
/// business record, only its status moves on.
pub fn frozen_changes(stored: &pb::Order, next: &pb::Order) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let total = |o: &pb::Order| o.total.clone().unwrap_or_default();
    if total(stored).amount_minor != total(next).amount_minor {
        changed.push("total.amount_minor");
    }
    if total(stored).currency_code != total(next).currency_code {
        changed.push("total.currency_code");
    }
    if stored.place_time != next.place_time {
        changed.push("place_time");
    }
    if stored.party_id != next.party_id {
        changed.push("party_external_id");
    }
    if stored.channel.clone().unwrap_or_default() != next.channel.clone().unwrap_or_default() {
        changed.push("partner_id");
    }
    let sold = |o: &pb::Order| -> Vec<(String, i64, i64, i32)> {
        o.lines
            .iter()
            .map(|l| {
                let unit = l.unit_price.as_ref().map_or(0, |m| m.amount_minor);
                (l.product_id.clone(), l.quantity, unit, l.discount_bps)
            })
            .collect()
    };
    if sold(stored) != sold(next) {
        changed.push("lines");
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> pb::OrderImportRow {
        pb::OrderImportRow {
            row: 3,
            external_id: "o-1".into(),
            party_external_id: "c-1".into(),
            place_time: Some(prost_types::Timestamp {
                seconds: 1_000,
                nanos: 0,
            }),
            total: Some(Money {
                amount_minor: 1299,
                currency_code: "USD".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_row_keeps_its_times() {
        let p = prepare(row(), 2_000_000_000).unwrap();
        assert_eq!(p.order.place_time.unwrap().seconds, 1_000);
        assert_eq!(p.order.status, OrderStatus::Placed as i32);
        assert_eq!(p.order.status_time, p.order.place_time);
    }

    #[test]
    fn bad_rows_name_their_fields() {
        let mut r = row();
        r.total = Some(Money {
            amount_minor: -1,
            currency_code: "XYZ".into(),
        });
        r.place_time = Some(prost_types::Timestamp {
            seconds: 10_000,
            nanos: 0,
        });
        r.status = 9;
        let v = prepare(r, 1_000_000).unwrap_err();
        let fields: Vec<&str> = v.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "place_time",
                "total.currency_code",
                "total.amount_minor",
                "status"
            ]
        );
    }

    fn line(sku: &str, quantity: i64, unit: i64, currency: &str) -> pb::OrderImportLine {
        pb::OrderImportLine {
            sku: sku.into(),
            quantity,
            unit_price: Some(Money {
                amount_minor: unit,
                currency_code: currency.into(),
            }),
            discount_bps: 0,
        }
    }

    #[test]
    fn lines_make_the_total() {
        let mut r = row();
        r.total = None;
        r.lines = vec![line(" BOOK-1 ", 2, 1299, "EUR"), line("CD-7", 1, 500, "EUR")];
        r.lines[1].discount_bps = 1000;
        let p = prepare(r.clone(), 2_000_000_000).unwrap();
        let total = p.order.total.clone().unwrap();
        assert_eq!(
            (total.amount_minor, total.currency_code.as_str()),
            (2598 + 450, "EUR")
        );
        assert_eq!(p.line_skus, ["BOOK-1", "CD-7"]);
        assert_eq!(p.order.lines[1].net.as_ref().unwrap().amount_minor, 450);
        // The same order with its total given hashes alike only if the total agrees.
        r.total = total.into();
        assert_eq!(
            prepare(r.clone(), 2_000_000_000).unwrap().order.total,
            p.order.total
        );
        r.lines[0].quantity = 3;
        assert_ne!(
            prepare(r.clone(), 2_000_000_000).map(|p| p.hash).ok(),
            Some(p.hash)
        );
    }

    #[test]
    fn bad_lines_name_their_fields() {
        let mut r = row();
        r.lines = vec![
            line("", 0, 100, "USD"),
            line("X", 1, -5, "EUR"),
            pb::OrderImportLine {
                sku: "Y".into(),
                quantity: 1,
                ..Default::default()
            },
        ];
        let v = prepare(r, 2_000_000_000).unwrap_err();
        let fields: Vec<&str> = v.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "lines[0].sku",
                "lines[1].unit_price.currency_code",
                "lines[2].unit_price",
                "lines[0].quantity",
                "lines[1].unit_price.amount_minor",
                "total.amount_minor",
            ]
        );
    }

    #[test]
    fn statuses_only_move_forward() {
        assert!(may_move(OrderStatus::Placed, OrderStatus::Returned));
        assert!(!may_move(OrderStatus::Cancelled, OrderStatus::Placed));
        assert!(!may_move(OrderStatus::Fulfilled, OrderStatus::Cancelled));
    }
}
