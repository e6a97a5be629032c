//! Arbitrary requests to every unary RPC of every service, through the gateway, as an
//! administrator (who gets furthest into the handlers): whatever a request holds, the answer is a
//! status the caller can act on (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ...), never
//! INTERNAL or UNKNOWN (a panic, or an error the service did not expect), and the suite keeps
//! answering. Requests are generated from the proto descriptors with a seeded generator, so a
//! failure names the seed that reproduces it.

use std::collections::HashMap;

use crm::services::Service;
use crm_auth::Role;
use crm_testkit::{Backend, token};
use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};
use tonic::Code;

use crate::support::{self, call};

/// Requests generated per RPC.
const CASES: u64 = 8;

/// A small deterministic generator (xorshift64*): the same seed gives the same requests.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Strings that reach the parsers' corners: empty, blank, long, non-ASCII, control
/// characters, near-miss dates, periods, money, phones, e-mails, ids, injection attempts.
const STRINGS: &[&str] = &[
    "",
    " ",
    "a",
    "陳大文",
    "\u{0}\u{1}\u{7f}",
    "-1",
    "0",
    "2026-02-30",
    "2026-13-01",
    "2026-Q5",
    "2026-Q1",
    "2026-11",
    "9999-12-31T23:59:59Z",
    "+1 555 010 9999",
    "+",
    "not an e-mail",
    "ann@example.com",
    "NaN",
    "USD",
    "usd",
    "X",
    "*",
    "%_",
    "' OR 1=1 --",
    "../../etc/passwd",
    "Mon 09:00-17:00",
    "09:00-25:00",
    "r>=5 AND f<=1",
    "((((((((((",
    "a,b,,c",
    "\"quoted\"",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🎉",
];

/// Integers at the edges of every type.
const INTEGERS: &[i64] = &[
    0,
    1,
    -1,
    2,
    7,
    100,
    1001,
    86_400,
    i32::MAX as i64,
    i32::MIN as i64,
    i64::MAX,
    i64::MIN,
    1_000_000_000_000,
];

struct Generator {
    messages: HashMap<String, DescriptorProto>,
    enums: HashMap<String, Vec<i32>>,
    rng: Rng,
}

impl Generator {
    fn new(set: &FileDescriptorSet, seed: u64) -> Self {
        let mut messages = HashMap::new();
        let mut enums = HashMap::new();
        fn walk(
            prefix: &str,
            message: &DescriptorProto,
            messages: &mut HashMap<String, DescriptorProto>,
            enums: &mut HashMap<String, Vec<i32>>,
        ) {
            let name = format!("{prefix}.{}", message.name());
            for nested in &message.nested_type {
                walk(&name, nested, messages, enums);
            }
            for e in &message.enum_type {
                enums.insert(
                    format!("{name}.{}", e.name()),
                    e.value.iter().map(|v| v.number()).collect(),
                );
            }
            messages.insert(name, message.clone());
        }
        for file in &set.file {
            let prefix = format!(".{}", file.package());
            for message in &file.message_type {
                walk(&prefix, message, &mut messages, &mut enums);
            }
            for e in &file.enum_type {
                enums.insert(
                    format!("{prefix}.{}", e.name()),
                    e.value.iter().map(|v| v.number()).collect(),
                );
            }
        }
        Self {
            messages,
            enums,
            rng: Rng::new(seed),
        }
    }

    /// An encoded message of `type_name` with arbitrary fields set.
    fn message(&mut self, type_name: &str, depth: usize) -> Vec<u8> {
        let Some(message) = self.messages.get(type_name).cloned() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for field in &message.field {
            if self.rng.below(3) == 0 {
                continue;
            }
            let count = if field.label() == Label::Repeated {
                self.rng.below(4)
            } else {
                1
            };
            for _ in 0..count {
                self.field(field, depth, &mut out);
            }
        }
        out
    }

    fn field(&mut self, field: &prost_types::FieldDescriptorProto, depth: usize, out: &mut Vec<u8>) {
        let number = u64::from(field.number() as u32);
        match field.r#type() {
            Type::String => {
                let text = if self.rng.below(12) == 0 {
                    "x".repeat(1 + self.rng.below(20_000) as usize)
                } else {
                    self.rng.pick(STRINGS).to_string()
                };
                length_delimited(number, text.as_bytes(), out);
            }
            Type::Bytes => {
                let bytes: Vec<u8> = (0..self.rng.below(64)).map(|_| self.rng.next() as u8).collect();
                length_delimited(number, &bytes, out);
            }
            Type::Message if depth < 4 => {
                let inner = self.message(field.type_name(), depth + 1);
                length_delimited(number, &inner, out);
            }
            Type::Message | Type::Group => {}
            Type::Enum => {
                let known = self.enums.get(field.type_name()).cloned().unwrap_or_default();
                let value = if known.is_empty() || self.rng.below(4) == 0 {
                    *self.rng.pick(&[-1i64, 99, i32::MAX as i64])
                } else {
                    i64::from(*self.rng.pick(&known))
                };
                varint_field(number, value as u64, out);
            }
            Type::Bool => varint_field(number, self.rng.below(2), out),
            Type::Sint32 | Type::Sint64 => {
                let v = *self.rng.pick(INTEGERS);
                varint_field(number, ((v << 1) ^ (v >> 63)) as u64, out);
            }
            Type::Int32 | Type::Uint32 => {
                // An int32 is sign-extended on the wire, a uint32 is not: both read back in range.
                let v = *self.rng.pick(INTEGERS) as i32;
                let wire = if field.r#type() == Type::Int32 {
                    v as i64 as u64
                } else {
                    u64::from(v as u32)
                };
                varint_field(number, wire, out);
            }
            Type::Int64 | Type::Uint64 => varint_field(number, *self.rng.pick(INTEGERS) as u64, out),
            Type::Double | Type::Fixed64 | Type::Sfixed64 => {
                let v = if field.r#type() == Type::Double {
                    self.rng
                        .pick(&[0.0, -1.5, f64::NAN, f64::INFINITY, 1e308])
                        .to_bits()
                } else {
                    *self.rng.pick(INTEGERS) as u64
                };
                varint(number << 3 | 1, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Type::Float | Type::Fixed32 | Type::Sfixed32 => {
                let v = if field.r#type() == Type::Float {
                    self.rng.pick(&[0.0f32, -1.5, f32::NAN, f32::INFINITY]).to_bits()
                } else {
                    *self.rng.pick(INTEGERS) as u32
                };
                varint(number << 3 | 5, out);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_field(number: u64, value: u64, out: &mut Vec<u8>) {
    varint(number << 3, out);
    varint(value, out);
}

fn length_delimited(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Panics of this process's threads (the services run in it), with where they happened.
static PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn record_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(mut panics) = PANICS.lock() {
                panics.push(info.to_string());
            }
            previous(info);
        }));
    });
}

async fn arbitrary_requests_get_a_clear_answer_from_every_rpc(backend: Backend) {
    record_panics();
    let gw = support::start(backend, support::gateway_settings()).await;
    // Each service is called directly: a panic behind the gateway would reach the caller as
    // whatever the forwarding made of a reset stream.
    let channels: Vec<(String, tonic::transport::Channel)> = Service::DOMAINS
        .into_iter()
        .map(|s| {
            (
                format!("/crm.{}.v1.", s.name()),
                crm_testkit::channel(gw.suite.addr(s)),
            )
        })
        .chain([("/".to_string(), gw.gateway())])
        .collect();
    let channel_for = |path: &str| {
        channels
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map(|(_, c)| c.clone())
            .expect("a channel")
    };
    let admin = token("admin-1", &[Role::Admin]);
    let set = FileDescriptorSet::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut methods = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for m in &service.method {
                if !m.client_streaming() && !m.server_streaming() {
                    methods.push((
                        format!("/{}.{}/{}", file.package(), service.name(), m.name()),
                        m.input_type().to_string(),
                    ));
                }
            }
        }
    }
    assert!(methods.len() > 150, "only {} RPCs found", methods.len());
    let mut failures = Vec::new();
    for (index, (path, input)) in methods.iter().enumerate() {
        for case in 0..CASES {
            let seed = (index as u64) << 16 | case;
            let body = Generator::new(&set, seed).message(input, 0);
            let before = PANICS.lock().unwrap().len();
            let outcome = call(&channel_for(path), path, body, &admin).await;
            let panicked = PANICS.lock().unwrap().get(before..).map(|p| p.join("; "));
            if let Some(panic) = panicked.filter(|p| !p.is_empty()) {
                failures.push(format!("{path} (seed {seed}): panicked: {panic}"));
            } else if let Err(status) = outcome
                && matches!(status.code(), Code::Internal | Code::Unknown | Code::DataLoss)
            {
                failures.push(format!(
                    "{path} (seed {seed}): {:?} {}",
                    status.code(),
                    status.message()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} requests answered without a clear status:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Oversized, malformed and deeply nested requests are refused cleanly too, and the suite
    // still answers.
    let channel = gw.gateway();
    let get_party = "/crm.customers.v1.CustomersService/GetParty";
    let huge = {
        let mut out = Vec::new();
        length_delimited(1, &vec![b'x'; 5 * 1024 * 1024], &mut out);
        out
    };
    let err = call(&channel, get_party, huge, &admin).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    let err = call(&channel, get_party, vec![0xff, 0xff, 0xff], &admin)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = call(&channel, get_party, Vec::new(), &admin).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    // A field nested 500 deep (groups of an unknown field): past the decoder's recursion limit.
    let nested = {
        let mut out = Vec::new();
        for _ in 0..500 {
            varint(99 << 3 | 3, &mut out);
        }
        for _ in 0..500 {
            varint(99 << 3 | 4, &mut out);
        }
        out
    };
    let err = call(&channel, get_party, nested, &admin).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    gw.shutdown().await;
}

crm_testkit::backend_tests!(arbitrary_requests_get_a_clear_answer_from_every_rpc);
