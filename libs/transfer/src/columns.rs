//! The documented columns of each entity, and turning a row into the import message (and a
//! field the service refused back into the column it came from).

use crm_proto::common::v1::Money;
use crm_proto::customers::v1 as customers;
use crm_proto::marketing::v1 as marketing;
use crm_proto::partners::v1 as partners;
use crm_proto::sales::v1 as sales;
use crm_proto::servicedesk::v1 as servicedesk;

use crate::records::Record;

/// What can be imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportEntity {
    /// People and organizations (customers service).
    Parties,
    /// Relationships between imported parties (customers service).
    Relationships,
    /// Historical orders of imported parties (sales service).
    Orders,
    /// Channel partners with their hierarchy (partners service).
    Partners,
    /// Targets of imported partners (partners service).
    Targets,
    /// Service cases with their history (service desk).
    Cases,
    /// Knowledge-base articles (service desk).
    Articles,
    /// Consent per customer and channel (marketing).
    Consents,
    /// Products with a price (sales catalog), keyed by SKU.
    Products,
    /// Leads (sales).
    Leads,
    /// Opportunities with their stage and close (sales).
    Opportunities,
    /// Calls, meetings, visits and e-mails (sales).
    Activities,
}

impl ImportEntity {
    /// The columns the importer reads (`attributes.<key>` columns set custom attributes of
    /// parties).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ImportEntity::Parties => &[
                "external_id",
                "kind",
                "given_name",
                "family_name",
                "organization_name",
                "email",
                "phone",
                "address",
                "industry",
                "region_code",
                "birth_date",
                "created_at",
                "tags",
                "owner_id",
                "team_id",
            ],
            ImportEntity::Relationships => &[
                "external_id",
                "from_external_id",
                "to_external_id",
                "type",
                "custom_type",
                "role",
                "since",
                "until",
            ],
            ImportEntity::Orders => &[
                "external_id",
                "party_external_id",
                "placed_at",
                "currency",
                "amount",
                "status",
                "status_at",
                "status_reason",
                "partner_id",
                "partner_external_id",
                "owner_id",
                "team_id",
                "lines",
                "cost",
            ],
            ImportEntity::Partners => &[
                "external_id",
                "name",
                "type",
                "parent_external_id",
                "region_codes",
                "tier",
                "status",
                "operating_model",
                "agreement_start",
                "agreement_end",
                "manager_id",
                "contact_name",
                "contact_email",
                "contact_phone",
            ],
            ImportEntity::Targets => &[
                "partner_external_id",
                "period",
                "product_category",
                "product_id",
                "amount",
                "currency",
                "quantity",
            ],
            ImportEntity::Cases => &[
                "external_id",
                "party_external_id",
                "type",
                "channel",
                "category",
                "severity",
                "subject",
                "description",
                "contact",
                "queue",
                "agent_id",
                "partner_id",
                "status",
                "opened_at",
                "first_response_at",
                "resolved_at",
                "resolution",
                "satisfaction",
                "comment",
                "comment_at",
                "comment_author",
            ],
            ImportEntity::Articles => &["external_id", "title", "body", "language", "tags"],
            ImportEntity::Consents => &["party_external_id", "channel", "opted_out", "do_not_contact"],
            ImportEntity::Products => &[
                "sku",
                "name",
                "description",
                "product_line",
                "category",
                "unit",
                "active",
                "price_book",
                "unit_price",
                "currency",
                "unit_cost",
            ],
            ImportEntity::Leads => &[
                "external_id",
                "party_external_id",
                "source",
                "source_ref",
                "company_name",
                "contact_name",
                "email",
                "phone",
                "owner_id",
                "team_id",
                "status",
                "score",
                "notes",
                "created_at",
            ],
            ImportEntity::Opportunities => &[
                "external_id",
                "party_external_id",
                "name",
                "stage",
                "amount",
                "currency",
                "expected_close_date",
                "owner_id",
                "team_id",
                "next_step",
                "created_at",
                "closed_at",
                "lost_reason",
            ],
            ImportEntity::Activities => &[
                "external_id",
                "party_external_id",
                "opportunity_external_id",
                "kind",
                "subject",
                "notes",
                "owner_id",
                "occurred_at",
                "duration_minutes",
                "outcome",
            ],
        }
    }

    /// Whether the importer reads `column`.
    pub fn knows(self, column: &str) -> bool {
        self.columns().contains(&column)
            || (self == ImportEntity::Parties
                && column.strip_prefix("attributes.").is_some_and(|k| !k.is_empty()))
    }

    /// The service that stores it.
    pub fn owner(self) -> Owner {
        match self {
            ImportEntity::Parties | ImportEntity::Relationships => Owner::Customers,
            ImportEntity::Orders
            | ImportEntity::Products
            | ImportEntity::Leads
            | ImportEntity::Opportunities
            | ImportEntity::Activities => Owner::Sales,
            ImportEntity::Partners | ImportEntity::Targets => Owner::Partners,
            ImportEntity::Cases | ImportEntity::Articles => Owner::ServiceDesk,
            ImportEntity::Consents => Owner::Marketing,
        }
    }
}

/// The domain services records are imported into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Parties and their relationships.
    Customers,
    /// Orders, the catalog and the pipeline.
    Sales,
    /// Partners and their targets.
    Partners,
    /// Consents.
    Marketing,
    /// Cases and articles.
    ServiceDesk,
}

/// A column at fault and why.
pub type Problem = (String, String);

/// A time in ISO 8601 (`2024-05-01T10:00:00Z`, with an offset, or without one as UTC) or a
/// date `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(value: &str) -> Result<prost_types::Timestamp, String> {
    let value = value.trim();
    let utc = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        t.with_timezone(&chrono::Utc)
    } else if let Ok(t) = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f") {
        t.and_utc()
    } else if let Ok(t) = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S%.f") {
        t.and_utc()
    } else if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
    } else {
        return Err(format!("not a time (ISO 8601 or YYYY-MM-DD): {value:?}"));
    };
    Ok(prost_types::Timestamp {
        seconds: utc.timestamp(),
        nanos: utc.timestamp_subsec_nanos() as i32,
    })
}

/// An enum column (`PREFIX_` + the value upper-cased), 0 when empty; an unknown value is a
/// problem naming what is `expected`.
fn enum_column(
    r: &Record,
    column: &str,
    prefix: &str,
    from_name: fn(&str) -> Option<i32>,
    expected: &str,
    problems: &mut Vec<Problem>,
) -> i32 {
    enum_value(r.get(column), prefix, from_name).unwrap_or_else(|| {
        problems.push((column.into(), format!("{expected}, not {:?}", r.get(column))));
        0
    })
}

fn enum_value(value: &str, prefix: &str, from_name: fn(&str) -> Option<i32>) -> Option<i32> {
    if value.is_empty() {
        return Some(0);
    }
    from_name(&format!(
        "{prefix}{}",
        value.trim().to_uppercase().replace([' ', '-'], "_")
    ))
}

/// A party row.
pub fn party_row(r: &Record) -> Result<customers::PartyImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let kind = match r.get("kind").to_lowercase().as_str() {
        "person" => customers::PartyKind::Person as i32,
        "organization" | "organisation" => customers::PartyKind::Organization as i32,
        "" if !r.get("organization_name").is_empty()
            && r.get("given_name").is_empty()
            && r.get("family_name").is_empty() =>
        {
            customers::PartyKind::Organization as i32
        }
        "" => customers::PartyKind::Person as i32,
        other => {
            problems.push(("kind".into(), format!("person or organization, not {other:?}")));
            0
        }
    };
    let create_time = match r.get("created_at") {
        "" => None,
        t => parse_time(t)
            .map_err(|e| problems.push(("created_at".into(), e)))
            .ok(),
    };
    let mut contact_points = Vec::new();
    for (column, kind) in contact_columns() {
        if !r.get(column).is_empty() {
            contact_points.push(customers::ContactPoint {
                kind: kind as i32,
                value: r.get(column).to_string(),
                label: String::new(),
                primary: true,
                ..Default::default()
            });
        }
    }
    let attributes = r
        .fields
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("attributes.")
                .map(|k| (k.to_string(), v.trim().to_string()))
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(customers::PartyImportRow {
        row: r.line,
        external_id: r.get("external_id").to_string(),
        party: Some(customers::Party {
            kind,
            given_name: r.get("given_name").into(),
            family_name: r.get("family_name").into(),
            organization_name: r.get("organization_name").into(),
            contact_points,
            industry: r.get("industry").into(),
            region_code: r.get("region_code").into(),
            tags: list(r.get("tags")),
            attributes,
            owner_id: r.get("owner_id").into(),
            team_id: r.get("team_id").into(),
            birth_date: r.get("birth_date").into(),
            ..Default::default()
        }),
        create_time,
    })
}

fn contact_columns() -> [(&'static str, customers::ContactPointKind); 3] {
    [
        ("email", customers::ContactPointKind::Email),
        ("phone", customers::ContactPointKind::Phone),
        ("address", customers::ContactPointKind::Address),
    ]
}

/// A relationship row.
pub fn relationship_row(r: &Record) -> Result<customers::RelationshipImportRow, Vec<Problem>> {
    let Some(kind) = enum_value(r.get("type"), "RELATIONSHIP_TYPE_", |n| {
        customers::RelationshipType::from_str_name(n).map(|t| t as i32)
    }) else {
        return Err(vec![(
            "type".into(),
            format!("unknown relationship type {:?}", r.get("type")),
        )]);
    };
    Ok(customers::RelationshipImportRow {
        row: r.line,
        external_id: r.get("external_id").into(),
        from_party_external_id: r.get("from_external_id").into(),
        to_party_external_id: r.get("to_external_id").into(),
        r#type: kind,
        custom_type: r.get("custom_type").into(),
        role: r.get("role").into(),
        since: r.get("since").into(),
        until: r.get("until").into(),
    })
}

/// An order row (`amount` in major units of `currency`).
pub fn order_row(r: &Record) -> Result<sales::OrderImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut time = |column: &str| match r.get(column) {
        "" => None,
        t => parse_time(t).map_err(|e| problems.push((column.into(), e))).ok(),
    };
    let place_time = time("placed_at");
    let status_time = time("status_at");
    let lines = order_lines(r, &mut problems);
    // With lines the amount may be left to them.
    let total =
        (r.get("lines").trim().is_empty() || !r.get("amount").is_empty()).then(|| money(r, &mut problems));
    let cost = money_in(r, "cost", &mut problems);
    let status = enum_column(
        r,
        "status",
        "ORDER_STATUS_",
        |n| sales::OrderStatus::from_str_name(n).map(|s| s as i32),
        "placed, fulfilled, cancelled or returned",
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(sales::OrderImportRow {
        row: r.line,
        external_id: r.get("external_id").into(),
        party_external_id: r.get("party_external_id").into(),
        place_time,
        total,
        lines,
        status,
        status_time,
        status_reason: r.get("status_reason").into(),
        partner_id: r.get("partner_id").into(),
        owner_id: r.get("owner_id").into(),
        team_id: r.get("team_id").into(),
        partner_external_id: r.get("partner_external_id").into(),
        cost,
    })
}

/// The `lines` column: items separated by `;`, each `SKU:QUANTITY:UNIT_PRICE` with an optional
/// `:DISCOUNT_BPS`, the price in major units of `currency` (a SKU may itself contain `:`).
fn order_lines(r: &Record, problems: &mut Vec<Problem>) -> Vec<sales::OrderImportLine> {
    let currency = r.get("currency").to_uppercase();
    let mut lines = Vec::new();
    for (i, item) in r
        .get("lines")
        .split(';')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .enumerate()
    {
        let mut bad = |reason: String| problems.push(("lines".into(), format!("item {}: {reason}", i + 1)));
        let parts: Vec<&str> = item.rsplitn(4, ':').collect();
        let (sku, quantity, price, discount) = match parts.as_slice() {
            [price, quantity, sku] => (*sku, *quantity, *price, "0"),
            [discount, price, quantity, sku] if discount.trim().parse::<i32>().is_ok() => {
                (*sku, *quantity, *price, *discount)
            }
            // The fourth part is not a discount: it belongs to the SKU.
            [price, quantity, _, _] => {
                let sku = &item[..item.len() - price.len() - quantity.len() - 2];
                (sku, *quantity, *price, "0")
            }
            _ => {
                bad(format!("{item:?} is not SKU:QUANTITY:UNIT_PRICE[:DISCOUNT_BPS]"));
                continue;
            }
        };
        let Ok(quantity) = quantity.trim().parse::<i64>() else {
            bad(format!("quantity {quantity:?} is not a whole number"));
            continue;
        };
        if currency.is_empty() {
            bad("the currency column is required with lines".into());
            continue;
        }
        let amount_minor = match crm_platform::money::parse_major_units(price.trim(), &currency) {
            Ok(a) => a,
            Err(e) => {
                bad(format!("unit price {price:?}: {e}"));
                continue;
            }
        };
        lines.push(sales::OrderImportLine {
            sku: sku.trim().to_string(),
            quantity,
            unit_price: Some(Money {
                amount_minor,
                currency_code: currency.clone(),
            }),
            discount_bps: discount.trim().parse().unwrap_or_default(),
        });
    }
    lines
}

/// Minor units of `amount` (major units of `currency`), or the column at fault.
/// The amount in `column` (major units of the `currency` column), when given; its problems are
/// named by `column`.
fn money_in(r: &Record, column: &str, problems: &mut Vec<Problem>) -> Option<Money> {
    if r.get(column).is_empty() {
        return None;
    }
    let mut record = r.clone();
    record.fields.insert("amount".into(), r.get(column).to_string());
    let mut found = Vec::new();
    let amount = money(&record, &mut found);
    problems.extend(
        found
            .into_iter()
            .map(|(c, e)| (if c == "amount" { column.to_string() } else { c }, e)),
    );
    Some(amount)
}

fn money(r: &Record, problems: &mut Vec<Problem>) -> Money {
    let currency = r.get("currency").to_uppercase();
    let amount = if currency.is_empty() {
        problems.push(("currency".into(), "required".into()));
        0
    } else if r.get("amount").is_empty() {
        problems.push(("amount".into(), "required".into()));
        0
    } else {
        match crm_platform::money::parse_major_units(r.get("amount"), &currency) {
            Ok(a) => a,
            Err(e) if e.starts_with("unknown currency") => {
                problems.push(("currency".into(), e));
                0
            }
            Err(e) => {
                problems.push(("amount".into(), e));
                0
            }
        }
    };
    Money {
        amount_minor: amount,
        currency_code: currency,
    }
}

/// A partner row.
pub fn partner_row(r: &Record) -> Result<partners::PartnerImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let kind = enum_column(
        r,
        "type",
        "PARTNER_TYPE_",
        |n| partners::PartnerType::from_str_name(n).map(|t| t as i32),
        "branch, business_unit, master_distributor, distributor, dealer or retailer",
        &mut problems,
    );
    let status = enum_column(
        r,
        "status",
        "PARTNER_STATUS_",
        |n| partners::PartnerStatus::from_str_name(n).map(|t| t as i32),
        "onboarding, active, probation or terminated",
        &mut problems,
    );
    let model = enum_column(
        r,
        "operating_model",
        "OPERATING_MODEL_",
        |n| partners::OperatingModel::from_str_name(n).map(|t| t as i32),
        "consignment or buy_sell",
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    let contacts = if r.get("contact_name").is_empty() {
        Vec::new()
    } else {
        vec![partners::PartnerContact {
            name: r.get("contact_name").into(),
            role: String::new(),
            email: r.get("contact_email").into(),
            phone: r.get("contact_phone").into(),
        }]
    };
    Ok(partners::PartnerImportRow {
        row: r.line,
        external_id: r.get("external_id").into(),
        parent_external_id: r.get("parent_external_id").into(),
        partner: Some(partners::Partner {
            name: r.get("name").into(),
            r#type: kind,
            region_codes: list(r.get("region_codes")),
            tier: r.get("tier").into(),
            operating_model: model,
            contacts,
            agreement_start: r.get("agreement_start").into(),
            agreement_end: r.get("agreement_end").into(),
            manager_id: r.get("manager_id").into(),
            ..Default::default()
        }),
        status,
    })
}

/// A target row.
pub fn target_row(r: &Record) -> Result<partners::TargetImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let amount = money(r, &mut problems);
    let quantity = match r.get("quantity") {
        "" => 0,
        q => q.parse().unwrap_or_else(|_| {
            problems.push(("quantity".into(), format!("not a whole number: {q:?}")));
            0
        }),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(partners::TargetImportRow {
        row: r.line,
        partner_external_id: r.get("partner_external_id").into(),
        target: Some(partners::Target {
            partner_id: String::new(),
            period: r.get("period").into(),
            product_category: r.get("product_category").into(),
            product_id: r.get("product_id").into(),
            amount: Some(amount),
            quantity,
        }),
    })
}

/// A whole number in a column (0 when empty).
fn number(r: &Record, column: &str, problems: &mut Vec<Problem>) -> i32 {
    match r.get(column) {
        "" => 0,
        n => n.parse().unwrap_or_else(|_| {
            problems.push((column.into(), format!("not a whole number: {n:?}")));
            0
        }),
    }
}

/// A case row (one comment at most, from `comment`, `comment_at` and `comment_author`).
pub fn case_row(r: &Record) -> Result<servicedesk::CaseImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let kind = enum_column(
        r,
        "type",
        "CASE_TYPE_",
        |n| servicedesk::CaseType::from_str_name(n).map(|t| t as i32),
        "inquiry, complaint, request or incident",
        &mut problems,
    );
    let channel = enum_column(
        r,
        "channel",
        "CASE_CHANNEL_",
        |n| servicedesk::CaseChannel::from_str_name(n).map(|t| t as i32),
        "phone, email, web, ivr, chat or walk_in",
        &mut problems,
    );
    let status = enum_column(
        r,
        "status",
        "CASE_STATUS_",
        |n| servicedesk::CaseStatus::from_str_name(n).map(|t| t as i32),
        "new, assigned, in_progress, waiting_on_customer, resolved or closed",
        &mut problems,
    );
    let severity = number(r, "severity", &mut problems);
    let satisfaction = number(r, "satisfaction", &mut problems);
    let mut time = |column: &str| match r.get(column) {
        "" => None,
        t => parse_time(t).map_err(|e| problems.push((column.into(), e))).ok(),
    };
    let open_time = time("opened_at");
    let first_response_time = time("first_response_at");
    let resolve_time = time("resolved_at");
    let comment_time = time("comment_at");
    if !problems.is_empty() {
        return Err(problems);
    }
    let comments = if r.get("comment").is_empty() {
        Vec::new()
    } else {
        vec![servicedesk::ImportedComment {
            time: comment_time.or(open_time),
            author: r.get("comment_author").into(),
            text: r.get("comment").into(),
            internal: false,
        }]
    };
    Ok(servicedesk::CaseImportRow {
        row: r.line,
        external_id: r.get("external_id").into(),
        party_external_id: r.get("party_external_id").into(),
        case: Some(servicedesk::Case {
            r#type: kind,
            channel,
            category: r.get("category").into(),
            severity,
            subject: r.get("subject").into(),
            description: r.get("description").into(),
            contact: r.get("contact").into(),
            agent_id: r.get("agent_id").into(),
            partner_id: r.get("partner_id").into(),
            ..Default::default()
        }),
        queue_name: r.get("queue").into(),
        status,
        open_time,
        first_response_time,
        resolve_time,
        resolution: r.get("resolution").into(),
        satisfaction,
        comments,
    })
}

/// An article row.
pub fn article_row(r: &Record) -> Result<servicedesk::ArticleImportRow, Vec<Problem>> {
    Ok(servicedesk::ArticleImportRow {
        row: r.line,
        external_id: r.get("external_id").into(),
        article: Some(servicedesk::Article {
            title: r.get("title").into(),
            body: r.get("body").into(),
            language: r.get("language").into(),
            tags: list(r.get("tags")),
            ..Default::default()
        }),
    })
}

/// A yes/no column (`true`/`false`, `yes`/`no`, `1`/`0`; empty is no).
fn flag(r: &Record, column: &str, problems: &mut Vec<Problem>) -> bool {
    match r.get(column).to_lowercase().as_str() {
        "" | "false" | "no" | "0" | "n" => false,
        "true" | "yes" | "1" | "y" => true,
        other => {
            problems.push((column.into(), format!("yes or no, not {other:?}")));
            false
        }
    }
}

/// A consent row.
pub fn consent_row(r: &Record) -> Result<marketing::ConsentImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let channel = enum_column(
        r,
        "channel",
        "CHANNEL_",
        |n| marketing::Channel::from_str_name(n).map(|c| c as i32),
        "mail, email, sms, phone or web",
        &mut problems,
    );
    let opted_out = flag(r, "opted_out", &mut problems);
    let do_not_contact = flag(r, "do_not_contact", &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(marketing::ConsentImportRow {
        row: r.line,
        party_external_id: r.get("party_external_id").into(),
        consent: Some(marketing::Consent {
            channel,
            opted_out,
            do_not_contact,
            ..Default::default()
        }),
    })
}

/// An optional time column.
fn optional_time(r: &Record, column: &str, problems: &mut Vec<Problem>) -> Option<prost_types::Timestamp> {
    match r.get(column) {
        "" => None,
        t => parse_time(t).map_err(|e| problems.push((column.into(), e))).ok(),
    }
}

/// A product row (active unless `active` says no; a price when `unit_price` is given).
pub fn product_row(r: &Record) -> Result<sales::ProductImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let active = r.get("active").is_empty() || flag(r, "active", &mut problems);
    let unit_price = money_in(r, "unit_price", &mut problems);
    let unit_cost = money_in(r, "unit_cost", &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(sales::ProductImportRow {
        row: r.line,
        product: Some(sales::Product {
            sku: r.get("sku").into(),
            name: r.get("name").into(),
            description: r.get("description").into(),
            product_line: r.get("product_line").into(),
            category: r.get("category").into(),
            unit: r.get("unit").into(),
            active,
            unit_cost,
            ..Default::default()
        }),
        price_book_name: r.get("price_book").into(),
        unit_price,
    })
}

/// A lead row.
pub fn lead_row(r: &Record) -> Result<sales::LeadImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let source = match enum_column(
        r,
        "source",
        "LEAD_SOURCE_",
        |n| sales::LeadSource::from_str_name(n).map(|s| s as i32),
        "campaign, partner, web or manual",
        &mut problems,
    ) {
        0 => sales::LeadSource::Manual as i32,
        s => s,
    };
    let status = enum_column(
        r,
        "status",
        "LEAD_STATUS_",
        |n| sales::LeadStatus::from_str_name(n).map(|s| s as i32),
        "new, working, qualified or disqualified",
        &mut problems,
    );
    let score = number(r, "score", &mut problems);
    let create_time = optional_time(r, "created_at", &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(sales::LeadImportRow {
        row: r.line,
        external_id: r.get("external_id").into(),
        party_external_id: r.get("party_external_id").into(),
        lead: Some(sales::Lead {
            source,
            source_ref: r.get("source_ref").into(),
            company_name: r.get("company_name").into(),
            contact_name: r.get("contact_name").into(),
            email: r.get("email").into(),
            phone: r.get("phone").into(),
            owner_id: r.get("owner_id").into(),
            team_id: r.get("team_id").into(),
            score,
            notes: r.get("notes").into(),
            ..Default::default()
        }),
        status,
        create_time,
    })
}

/// An opportunity row.
pub fn opportunity_row(r: &Record) -> Result<sales::OpportunityImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let amount = money(r, &mut problems);
    let create_time = optional_time(r, "created_at", &mut problems);
    let close_time = optional_time(r, "closed_at", &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(sales::OpportunityImportRow {
        row: r.line,
        external_id: r.get("external_id").into(),
        party_external_id: r.get("party_external_id").into(),
        opportunity: Some(sales::Opportunity {
            name: r.get("name").into(),
            amount: Some(amount),
            expected_close_date: r.get("expected_close_date").into(),
            owner_id: r.get("owner_id").into(),
            team_id: r.get("team_id").into(),
            next_step: r.get("next_step").into(),
            ..Default::default()
        }),
        stage_code: r.get("stage").into(),
        create_time,
        close_time,
        lost_reason: r.get("lost_reason").into(),
    })
}

/// An activity row.
pub fn activity_row(r: &Record) -> Result<sales::ActivityImportRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let kind = enum_column(
        r,
        "kind",
        "ACTIVITY_KIND_",
        |n| sales::ActivityKind::from_str_name(n).map(|k| k as i32),
        "call, meeting, visit or email",
        &mut problems,
    );
    let duration = number(r, "duration_minutes", &mut problems);
    let occur_time = optional_time(r, "occurred_at", &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(sales::ActivityImportRow {
        row: r.line,
        external_id: r.get("external_id").into(),
        party_external_id: r.get("party_external_id").into(),
        opportunity_external_id: r.get("opportunity_external_id").into(),
        activity: Some(sales::Activity {
            kind,
            subject: r.get("subject").into(),
            notes: r.get("notes").into(),
            owner_id: r.get("owner_id").into(),
            occur_time,
            duration_minutes: duration,
            outcome: r.get("outcome").into(),
            ..Default::default()
        }),
    })
}

/// Values separated by `;`.
fn list(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Which contact columns a party's row fills, as bits in the order of its contact points
/// (email 1, phone 2, address 4).
pub fn contact_layout(r: &Record) -> u8 {
    contact_columns()
        .iter()
        .enumerate()
        .filter(|(_, (c, _))| !r.get(c).is_empty())
        .fold(0, |bits, (i, _)| bits | (1 << i))
}

/// Whether a row's contact points are its contact columns from the first on (none, email,
/// email and phone, all three): then a refused point's index is its column's. Only the other
/// rows' layouts need keeping.
pub fn in_order(layout: u8) -> bool {
    layout & (layout + 1) == 0
}

/// The column a field the service refused came from; `layout` is the row's
/// [`contact_layout`] (None: its contact columns in order).
pub fn column_of(entity: ImportEntity, field: &str, layout: Option<u8>) -> String {
    let field = field.trim_start_matches("party.");
    match entity {
        ImportEntity::Parties => {
            if let Some(rest) = field.strip_prefix("contact_points[") {
                // Contact points are made from the email, phone and address columns, in order.
                let index: usize = rest
                    .split(']')
                    .next()
                    .and_then(|i| i.parse().ok())
                    .unwrap_or(usize::MAX);
                let layout = layout.unwrap_or(0b111);
                let present: Vec<&str> = contact_columns()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| layout & (1 << i) != 0)
                    .map(|(_, (c, _))| *c)
                    .collect();
                return present
                    .get(index)
                    .map_or_else(|| "contact_points".to_string(), |c| (*c).to_string());
            }
            if let Some(key) = field.strip_prefix("attributes[") {
                return format!("attributes.{}", key.trim_end_matches(']'));
            }
            match field {
                "create_time" => "created_at".into(),
                other => other.into(),
            }
        }
        ImportEntity::Relationships => match field {
            "from_party_external_id" => "from_external_id".into(),
            "to_party_external_id" => "to_external_id".into(),
            other => other.into(),
        },
        ImportEntity::Partners => match field.trim_start_matches("partner.") {
            "contacts[0].name" => "contact_name".into(),
            "contacts[0].email" => "contact_email".into(),
            other if other.starts_with("region_codes") => "region_codes".into(),
            other => other.into(),
        },
        ImportEntity::Targets => match field.trim_start_matches("target.") {
            "amount.currency_code" => "currency".into(),
            "amount.amount_minor" | "amount" => "amount".into(),
            other => other.into(),
        },
        ImportEntity::Cases => match field.trim_start_matches("case.") {
            "open_time" => "opened_at".into(),
            "first_response_time" => "first_response_at".into(),
            "resolve_time" => "resolved_at".into(),
            "queue_id" | "queue_name" => "queue".into(),
            other if other.starts_with("comments[") => "comment".into(),
            other => other.into(),
        },
        ImportEntity::Articles => field.trim_start_matches("article.").into(),
        ImportEntity::Consents => field.trim_start_matches("consent.").into(),
        ImportEntity::Products => match field.trim_start_matches("product.") {
            "price_book_name" => "price_book".into(),
            "unit_price.currency_code" => "currency".into(),
            "unit_price.amount_minor" => "unit_price".into(),
            other => other.into(),
        },
        ImportEntity::Leads => match field {
            "create_time" => "created_at".into(),
            other => other.into(),
        },
        ImportEntity::Opportunities => match field {
            "stage_code" => "stage".into(),
            "create_time" => "created_at".into(),
            "close_time" => "closed_at".into(),
            "amount.currency_code" => "currency".into(),
            "amount.amount_minor" => "amount".into(),
            other => other.into(),
        },
        ImportEntity::Activities => match field {
            "occur_time" => "occurred_at".into(),
            other => other.into(),
        },
        ImportEntity::Orders => match field {
            "place_time" => "placed_at".into(),
            "status_time" => "status_at".into(),
            "total.currency_code" => "currency".into(),
            "total.amount_minor" | "total" => "amount".into(),
            other => other.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Whether a row conversion accepted the row.
    type Accepts = fn(&Record) -> bool;

    /// Every entity's row conversion.
    const ROWS: [(ImportEntity, Accepts); 12] = [
        (ImportEntity::Parties, |r| party_row(r).is_ok()),
        (ImportEntity::Relationships, |r| relationship_row(r).is_ok()),
        (ImportEntity::Orders, |r| order_row(r).is_ok()),
        (ImportEntity::Partners, |r| partner_row(r).is_ok()),
        (ImportEntity::Targets, |r| target_row(r).is_ok()),
        (ImportEntity::Cases, |r| case_row(r).is_ok()),
        (ImportEntity::Articles, |r| article_row(r).is_ok()),
        (ImportEntity::Consents, |r| consent_row(r).is_ok()),
        (ImportEntity::Products, |r| product_row(r).is_ok()),
        (ImportEntity::Leads, |r| lead_row(r).is_ok()),
        (ImportEntity::Opportunities, |r| opportunity_row(r).is_ok()),
        (ImportEntity::Activities, |r| activity_row(r).is_ok()),
    ];

    /// Cell values that reach the converters' corners.
    fn cell() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,20}",
            "-?[0-9]{0,25}(\\.[0-9]{0,5})?",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?)?",
            "(true|false|yes|no|1|0|USD|usd|XXX|person|organization|open|closed|won|lost|email|sms)",
            Just(String::new()),
        ]
    }

    proptest! {
        /// Whatever a file's cells hold, every entity's row is converted or refused with its
        /// problems, never a panic.
        #[test]
        fn any_row_is_converted_or_refused(cells in proptest::collection::vec(cell(), 30)) {
            for (entity, convert) in ROWS {
                let fields = entity
                    .columns()
                    .iter()
                    .zip(&cells)
                    // As a file is read: empty cells are left out.
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(column, value)| (column.to_string(), value.clone()))
                    .collect();
                let _ = convert(&Record { line: 2, fields });
            }
        }

        /// A time cell is a time or a clear refusal.
        #[test]
        fn any_time_cell_parses_or_is_refused(text in "\\PC{0,30}") {
            let _ = parse_time(&text);
        }
    }

    fn record(pairs: &[(&str, &str)]) -> Record {
        Record {
            line: 2,
            fields: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn times_in_iso_8601_or_dates() {
        assert_eq!(parse_time("1997-01-01").unwrap().seconds, 852_076_800);
        assert_eq!(parse_time("1997-01-01T00:00:00Z").unwrap().seconds, 852_076_800);
        assert_eq!(
            parse_time("1997-01-01T08:00:00+08:00").unwrap().seconds,
            852_076_800
        );
        assert_eq!(parse_time("1997-01-01 00:00:00").unwrap().seconds, 852_076_800);
        assert!(parse_time("01/02/1997").is_err());
    }

    #[test]
    fn an_order_row_in_major_units() {
        let row = order_row(&record(&[
            ("external_id", "o1"),
            ("party_external_id", "c1"),
            ("placed_at", "1997-01-01"),
            ("currency", "usd"),
            ("amount", "12.99"),
            ("status", "returned"),
        ]))
        .unwrap();
        assert_eq!(row.total.unwrap().amount_minor, 1299);
        assert_eq!(row.status, sales::OrderStatus::Returned as i32);
        assert!(row.cost.is_none(), "no cost column: unknown");
        let costed = order_row(&record(&[
            ("external_id", "o2"),
            ("party_external_id", "c1"),
            ("placed_at", "1997-01-01"),
            ("currency", "usd"),
            ("amount", "12.99"),
            ("cost", "7.50"),
        ]))
        .unwrap();
        assert_eq!(costed.cost.unwrap().amount_minor, 750);
        let product = product_row(&record(&[
            ("sku", "W-1"),
            ("name", "Widget"),
            ("currency", "USD"),
            ("unit_cost", "oops"),
        ]))
        .unwrap_err();
        assert_eq!(product[0].0, "unit_cost");
        let problems = order_row(&record(&[
            ("currency", "XYZ"),
            ("amount", "1"),
            ("placed_at", "soon"),
        ]))
        .unwrap_err();
        let columns: Vec<&str> = problems.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(columns, ["placed_at", "currency"]);
    }

    #[test]
    fn order_lines_in_one_column() {
        let row = order_row(&record(&[
            ("external_id", "o1"),
            ("party_external_id", "c1"),
            ("placed_at", "1997-01-01"),
            ("currency", "usd"),
            ("lines", "BOOK-1:2:12.99; CD:7:1:5.00 ;A:1:0.5:1000"),
        ]))
        .unwrap();
        assert_eq!(row.total, None);
        let lines: Vec<(&str, i64, i64, i32)> = row
            .lines
            .iter()
            .map(|l| {
                let price = l.unit_price.as_ref().unwrap();
                assert_eq!(price.currency_code, "USD");
                (l.sku.as_str(), l.quantity, price.amount_minor, l.discount_bps)
            })
            .collect();
        assert_eq!(
            lines,
            [("BOOK-1", 2, 1299, 0), ("CD:7", 1, 500, 0), ("A", 1, 50, 1000)]
        );
        let problems = order_row(&record(&[
            ("currency", "USD"),
            ("placed_at", "1997-01-01"),
            ("lines", "BOOK-1:two:1.00;BOOK-2;BOOK-3:1:x"),
        ]))
        .unwrap_err();
        let reasons: Vec<String> = problems.iter().map(|(c, r)| format!("{c}: {r}")).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons.iter().all(|r| r.starts_with("lines: item ")),
            "{reasons:?}"
        );
    }

    #[test]
    fn refused_fields_name_their_columns() {
        let r = record(&[("phone", "x"), ("address", "y")]);
        assert!(!in_order(contact_layout(&r)));
        assert_eq!(
            column_of(
                ImportEntity::Parties,
                "contact_points[0].value",
                Some(contact_layout(&r))
            ),
            "phone"
        );
        let r = record(&[("email", "x"), ("phone", "y")]);
        assert!(in_order(contact_layout(&r)));
        assert_eq!(
            column_of(ImportEntity::Parties, "contact_points[1].value", None),
            "phone"
        );
        assert_eq!(
            column_of(ImportEntity::Parties, "create_time", None),
            "created_at"
        );
        assert_eq!(
            column_of(ImportEntity::Orders, "total.currency_code", None),
            "currency"
        );
    }
}
