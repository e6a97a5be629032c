//! Rules for imported orders: historical times, totals without price books, statuses reached in
//! the order their life cycle allows.

use crm_platform::Violations;
use crm_platform::import::check_external_id;
use crm_proto::common::v1::Money;
use crm_proto::sales::v1::{self as pb, OrderStatus};

use super::rules::is_currency;

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
    /// The order as it stands now (status and status time included); `party_id` unset.
    pub order: pb::Order,
    /// Hash of the imported content.
    pub hash: String,
}

fn micros(t: &prost_types::Timestamp) -> i64 {
    t.seconds.saturating_mul(1_000_000) + i64::from(t.nanos) / 1000
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
    let total = row.total.clone().unwrap_or_default();
    if row.total.is_none() {
        v.add("total", "required");
    } else {
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
    }
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
    v.finish()?;
    let placed = placed.unwrap_or_default();
    let order = pb::Order {
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
        ..Default::default()
    };
    let canonical = format!(
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
    Ok(PreparedOrder {
        row: row.row,
        external_id: order.external_id.clone(),
        party_external_id: row.party_external_id.trim().to_string(),
        partner_external_id: row.partner_external_id.trim().to_string(),
        hash: crm_storage::imports::content_hash(canonical.as_bytes()),
        order,
    })
}

fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
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

    #[test]
    fn statuses_only_move_forward() {
        assert!(may_move(OrderStatus::Placed, OrderStatus::Returned));
        assert!(!may_move(OrderStatus::Cancelled, OrderStatus::Placed));
        assert!(!may_move(OrderStatus::Fulfilled, OrderStatus::Cancelled));
    }
}
