//! A synthetic enterprise base, the same on every run (seeded): parties with realistic name
//! frequencies (many share a surname; Chinese and Latin names), e-mail and phone, three years of
//! creation dates; orders over three years with a long-tailed number per customer, some
//! cancelled or returned. Written as the CSV files `crm import` reads.

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

pub fn write_files(dir: &Path, parties: usize, orders: usize) {
    let mut rng = Rng(0x5eed_cafe_f00d);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("parties.csv")).unwrap());
    writeln!(
        out,
        "external_id,kind,given_name,family_name,email,phone,created_at,tags"
    )
    .unwrap();
    for n in 0..parties {
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
    let mut rng = Rng(0x0bad_5eed_1234);
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("orders.csv")).unwrap());
    writeln!(
        out,
        "external_id,party_external_id,placed_at,currency,amount,status,status_at"
    )
    .unwrap();
    for n in 0..orders {
        let (id, who, placed, amount, status, at) = order(&mut rng, n, parties);
        writeln!(
            out,
            "{id},{who},{},USD,{}.{:02},{status},{}",
            date(placed),
            amount / 100,
            amount % 100,
            date(at)
        )
        .unwrap();
    }
    out.flush().unwrap();
}
