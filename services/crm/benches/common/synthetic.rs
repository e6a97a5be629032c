//! A synthetic enterprise base, the same on every run (seeded): parties with realistic name
//! frequencies (many share a surname; Chinese and Latin names), e-mail and phone, three years of
//! creation dates; orders over three years with a long-tailed number per customer, some
//! cancelled or returned; relationships between customers, service cases (most of them closed)
//! and opportunities at every stage; channel partners in four levels with monthly targets.
//! Written as the CSV files `crm import` reads.

use std::io::Write as _;
use std::path::Path;

pub const DAY: i64 = 86_400;
/// The suite's time (its clock is stopped there): every generated record is in its past.
pub const NOW: i64 = crate::support::MONDAY_10AM_MICROS / 1_000_000;

const SURNAMES: &[(&str, u32)] = &[
    ("陳", 110),
    ("林", 83),
    ("黃", 60),
    ("張", 53),
    ("李", 51),
    ("王", 41),
    ("吳", 40),
    ("劉", 32),
    ("蔡", 29),
    ("楊", 26),
    ("Smith", 20),
    ("Johnson", 16),
    ("García", 12),
    ("Müller", 9),
    ("Nguyen", 9),
    ("Lee", 8),
];
const GIVEN: &[&str] = &[
    "美玲", "志明", "淑芬", "俊傑", "雅婷", "家豪", "怡君", "建宏", "Anna", "James", "Maria", "Wei", "Chen",
    "Sofia", "Lucas", "Mei",
];

/// A small deterministic generator (xorshift), so every run builds the same base.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn surname(rng: &mut Rng) -> &'static str {
    let total: u32 = SURNAMES.iter().map(|(_, w)| w).sum();
    let mut pick = rng.below(u64::from(total)) as u32;
    for (name, weight) in SURNAMES {
        if pick < *weight {
            return name;
        }
        pick -= weight;
    }
    SURNAMES[0].0
}

pub fn date(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// One party of the synthetic base.
pub struct Party {
    pub external_id: String,
    pub given: &'static str,
    pub family: &'static str,
    pub email: String,
    pub phone: String,
    pub created: i64,
    pub vip: bool,
}

pub fn party(rng: &mut Rng, n: usize) -> Party {
    Party {
        external_id: format!("P{n:07}"),
        given: GIVEN[rng.below(GIVEN.len() as u64) as usize],
        family: surname(rng),
        email: if rng.below(10) < 7 {
            format!("customer{n}@example.com")
        } else {
            String::new()
        },
        phone: if rng.below(2) == 0 {
            format!("+886 9{:08}", n)
        } else {
            String::new()
        },
        created: NOW - 3 * 365 * DAY - rng.below(3 * 365 * DAY as u64) as i64,
        vip: rng.below(5) == 0,
    }
}

/// One order: (external id, party external id, placed, amount in cents, status, status time).
pub fn order(rng: &mut Rng, n: usize, parties: usize) -> (String, String, i64, i64, &'static str, i64) {
    // Long tail: a few customers buy very often, most rarely.
    let who = ((rng.unit().powf(3.0)) * parties as f64) as usize % parties.max(1);
    let placed = NOW - rng.below(3 * 365 * DAY as u64) as i64;
    let amount = 500 + rng.below(50_000) as i64;
    let (status, at) = match rng.below(20) {
        0 => ("cancelled", (placed + DAY).min(NOW)),
        1 => ("returned", (placed + 10 * DAY).min(NOW)),
        _ => ("fulfilled", (placed + 2 * DAY).min(NOW)),
    };
    (
        format!("O{n:08}"),
        format!("P{who:07}"),
        placed,
        amount,
        status,
        at,
    )
}

/// Writes `parties.csv` and `orders.csv` (orders sold direct, without an owner).
pub fn write_files(dir: &Path, parties: usize, orders: usize) {
    write_parties(dir, parties);
    write_orders(dir, parties, orders, false);
}

/// Writes `parties.csv`.
pub fn write_parties(dir: &Path, parties: usize) {
    write_party_range(dir, "parties", 0..parties);
}

/// Writes `{name}.csv`: the parties numbered `numbers` (each range drawn from its own seed).
pub fn write_party_range(dir: &Path, name: &str, numbers: std::ops::Range<usize>) {
    let mut rng = Rng(0x5eed_cafe_f00d ^ numbers.start as u64);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{name}.csv"))).unwrap());
    writeln!(
        out,
        "external_id,kind,given_name,family_name,email,phone,created_at,tags"
    )
    .unwrap();
    for n in numbers {
        let p = party(&mut rng, n);
        let tags = if p.vip { "vip" } else { "" };
        writeln!(
            out,
            "{},person,{},{},{},{},{},{tags}",
            p.external_id,
            p.given,
            p.family,
            p.email,
            p.phone,
            date(p.created)
        )
        .unwrap();
    }
    out.flush().unwrap();
}

/// Writes `orders.csv`. With `channels`, each order has one of [`REPS`] as its owner and one in
/// twenty is sold through a partner of the two selling levels of [`PARTNER_LEVELS`].
pub fn write_orders(dir: &Path, parties: usize, orders: usize, channels: bool) {
    write_order_range(dir, "orders", parties, 0..orders, channels);
}

/// Writes `{name}.csv`: the orders numbered `numbers` (each range drawn from its own seed, so
/// a later range adds new orders for the same customers).
pub fn write_order_range(
    dir: &Path,
    name: &str,
    parties: usize,
    numbers: std::ops::Range<usize>,
    channels: bool,
) {
    let mut rng = Rng(0x0bad_5eed_1234 ^ numbers.start as u64);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{name}.csv"))).unwrap());
    let header = "external_id,party_external_id,placed_at,currency,amount,status,status_at";
    if channels {
        writeln!(out, "{header},owner_id,partner_external_id").unwrap();
    } else {
        writeln!(out, "{header}").unwrap();
    }
    let (sellers_from, sellers) = selling_partners();
    for n in numbers {
        let (id, who, placed, amount, status, at) = order(&mut rng, n, parties);
        write!(
            out,
            "{id},{who},{},USD,{}.{:02},{status},{}",
            date(placed),
            amount / 100,
            amount % 100,
            date(at)
        )
        .unwrap();
        if channels {
            let partner = if n % 20 == 0 {
                format!("C{:04}", sellers_from + (n / 20) % sellers)
            } else {
                String::new()
            };
            write!(out, ",rep-{},{partner}", n % REPS).unwrap();
        }
        writeln!(out).unwrap();
    }
    out.flush().unwrap();
}

/// Sales reps owning orders and opportunities: `rep-0` to `rep-49`.
pub const REPS: usize = 50;

/// The channel: four levels of partners, each under one of the level above (the first level
/// at the top), the number at each level and their type.
pub const PARTNER_LEVELS: [(usize, &str); 4] = [
    (10, "master_distributor"),
    (90, "distributor"),
    (400, "dealer"),
    (1_500, "retailer"),
];

/// The first partner of the two lowest levels, which sell and have targets, and how many
/// there are.
fn selling_partners() -> (usize, usize) {
    let from = PARTNER_LEVELS[0].0 + PARTNER_LEVELS[1].0;
    (from, PARTNER_LEVELS[2].0 + PARTNER_LEVELS[3].0)
}

/// Every partner of [`PARTNER_LEVELS`].
pub fn partner_count() -> usize {
    PARTNER_LEVELS.iter().map(|(n, _)| n).sum()
}

/// Targets written by [`write_partners`]: one per selling partner and month of `year`.
pub fn target_count() -> usize {
    selling_partners().1 * 12
}

/// Writes `partners.csv` (each level after the one above it) and `targets.csv` (an amount for
/// each selling partner in each month of `year`).
pub fn write_partners(dir: &Path, year: i32) {
    const REGIONS: [&str; 4] = ["TW", "US", "DE", "JP"];
    let mut rng = Rng(0x9a27_0e25_5eed);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("partners.csv")).unwrap());
    writeln!(
        out,
        "external_id,name,type,parent_external_id,region_codes,status,operating_model"
    )
    .unwrap();
    let (mut first, mut above) = (0, None);
    for (count, kind) in PARTNER_LEVELS {
        for n in first..first + count {
            let parent = above.map_or(String::new(), |(from, len): (usize, usize)| {
                format!("C{:04}", from + rng.below(len as u64) as usize)
            });
            writeln!(
                out,
                "C{n:04},Partner {n},{kind},{parent},{},active,buy_sell",
                REGIONS[n % REGIONS.len()]
            )
            .unwrap();
        }
        above = Some((first, count));
        first += count;
    }
    out.flush().unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("targets.csv")).unwrap());
    writeln!(
        out,
        "partner_external_id,period,product_category,product_id,amount,currency,quantity"
    )
    .unwrap();
    let (from, sellers) = selling_partners();
    for n in from..from + sellers {
        for month in 1..=12 {
            writeln!(
                out,
                "C{n:04},{year}-{month:02},,,{}.00,USD,0",
                1_000 + rng.below(20_000)
            )
            .unwrap();
        }
    }
    out.flush().unwrap();
}

/// The customer of the `n`th generated record: a long tail, as with orders.
fn customer(rng: &mut Rng, parties: usize) -> usize {
    ((rng.unit().powf(3.0)) * parties as f64) as usize % parties.max(1)
}

/// How many of the other records to write beside the parties and orders.
pub struct More {
    pub relationships: usize,
    pub cases: usize,
    pub opportunities: usize,
}

/// Writes `relationships.csv`, `cases.csv` (all in the queue `Support`) and
/// `opportunities.csv` for a base of `parties`.
pub fn write_more(dir: &Path, parties: usize, more: &More) {
    let mut rng = Rng(0x7e1a_7105_5eed);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("relationships.csv")).unwrap());
    writeln!(out, "external_id,from_external_id,to_external_id,type").unwrap();
    const TYPES: [&str; 3] = ["knows", "family", "referred_by"];
    for n in 0..more.relationships {
        // Each round of `parties` relationships takes offsets of its own, so no pair repeats.
        let from = n % parties;
        let offset = 1 + (n / parties) * 1000 + rng.below(997) as usize;
        let to = (from + offset) % parties;
        writeln!(
            out,
            "R{n:08},P{from:07},P{to:07},{}",
            TYPES[rng.below(3) as usize]
        )
        .unwrap();
    }
    out.flush().unwrap();

    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("cases.csv")).unwrap());
    writeln!(
        out,
        "external_id,party_external_id,type,channel,category,severity,subject,queue,status,opened_at,first_response_at,resolved_at,resolution,satisfaction"
    )
    .unwrap();
    const CASE_TYPES: [&str; 4] = ["inquiry", "complaint", "request", "incident"];
    const CHANNELS: [&str; 3] = ["phone", "email", "web"];
    const CATEGORIES: [&str; 4] = ["billing", "delivery", "product", "account"];
    for n in 0..more.cases {
        let who = customer(&mut rng, parties);
        // One case in ten is still open and recent; the rest were resolved within days.
        let open = rng.below(10) == 0;
        let opened = if open {
            NOW - rng.below(30 * DAY as u64) as i64
        } else {
            NOW - 30 * DAY - rng.below(3 * 365 * DAY as u64) as i64
        };
        let (status, answered, resolved, resolution, rating) = if open {
            let status = ["new", "in_progress", "waiting_on_customer"][rng.below(3) as usize];
            (status, String::new(), String::new(), "", String::new())
        } else {
            (
                "closed",
                date(opened + 3600),
                date(opened + DAY + rng.below(5 * DAY as u64) as i64),
                "Resolved",
                (1 + rng.below(5)).to_string(),
            )
        };
        writeln!(
            out,
            "K{n:08},P{who:07},{},{},{},{},Case {n},Support,{status},{},{answered},{resolved},{resolution},{rating}",
            CASE_TYPES[rng.below(4) as usize],
            CHANNELS[rng.below(3) as usize],
            CATEGORIES[rng.below(4) as usize],
            1 + rng.below(4),
            date(opened),
        )
        .unwrap();
    }
    out.flush().unwrap();

    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("opportunities.csv")).unwrap());
    writeln!(
        out,
        "external_id,party_external_id,name,stage,amount,currency,expected_close_date,owner_id,created_at,closed_at,lost_reason"
    )
    .unwrap();
    const STAGES: [&str; 6] = [
        "prospecting",
        "qualification",
        "proposal",
        "negotiation",
        "closed_won",
        "closed_lost",
    ];
    for n in 0..more.opportunities {
        let who = customer(&mut rng, parties);
        let stage = STAGES[rng.below(6) as usize];
        let created = NOW - 30 * DAY - rng.below(2 * 365 * DAY as u64) as i64;
        let closes = created + 30 * DAY + rng.below(180 * DAY as u64) as i64;
        let closed = stage.starts_with("closed");
        // Open deals expect to close from now on; closed ones closed when expected.
        let expected = if closed {
            closes
        } else {
            NOW + rng.below(365 * DAY as u64) as i64
        };
        let closed_on = if closed {
            date(closes.min(NOW))[..10].to_string()
        } else {
            String::new()
        };
        writeln!(
            out,
            "D{n:08},P{who:07},Deal {n},{stage},{}.00,USD,{},rep-{},{},{},{}",
            1_000 + rng.below(99_000),
            &date(expected)[..10],
            rng.below(50),
            &date(created)[..10],
            closed_on,
            if stage == "closed_lost" { "price" } else { "" },
        )
        .unwrap();
    }
    out.flush().unwrap();
}
