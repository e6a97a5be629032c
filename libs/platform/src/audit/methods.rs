//! What the suite's descriptor set says about a method: whether a call to it is recorded, and
//! which record a request or response is about.

use std::collections::HashMap;
use std::sync::LazyLock;

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::method_options::IdempotencyLevel;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// A method of the API.
#[derive(Debug)]
pub(crate) struct Method {
    /// Its path (`/crm.customers.v1.CustomersService/UpdateParty`).
    pub path: String,
    /// Its request message (`.crm.customers.v1.UpdatePartyRequest`).
    pub input: String,
    /// Its response message.
    pub output: String,
    /// Recorded whatever its outcome: it changes something, or takes data out in bulk.
    pub recorded: bool,
}

struct Index {
    methods: HashMap<String, Method>,
    messages: HashMap<String, DescriptorProto>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| {
    let set = FileDescriptorSet::decode(crm_proto::FILE_DESCRIPTOR_SET).unwrap_or_default();
    let mut methods = HashMap::new();
    let mut messages = HashMap::new();
    for file in set.file {
        let package = file.package().to_string();
        for message in file.message_type {
            messages.insert(format!(".{package}.{}", message.name()), message);
        }
        for service in &file.service {
            for m in &service.method {
                let read_only = m
                    .options
                    .as_ref()
                    .is_some_and(|o| o.idempotency_level() == IdempotencyLevel::NoSideEffects);
                let export = m.name().starts_with("Export");
                let path = format!("/{package}.{}/{}", service.name(), m.name());
                methods.insert(
                    path.clone(),
                    Method {
                        path,
                        input: m.input_type().to_string(),
                        output: m.output_type().to_string(),
                        recorded: !read_only || export,
                    },
                );
            }
        }
    }
    Index { methods, messages }
});

/// The method at `path`, when it is one of the API's.
pub(crate) fn method(path: &str) -> Option<&'static Method> {
    INDEX.methods.get(path)
}

/// The record an encoded message of type `type_name` is about: its `id`, else that of its first
/// message field that has one (`UpdatePartyRequest.party.id`), else its first `..._id` field
/// (`SetPartyValueRequest.party_id`). Empty when none is set.
pub(crate) fn subject(type_name: &str, bytes: &[u8]) -> String {
    subject_at(type_name, bytes, 0).unwrap_or_default()
}

fn subject_at(type_name: &str, bytes: &[u8], depth: usize) -> Option<String> {
    let message = INDEX.messages.get(type_name)?;
    let singular = |f: &&prost_types::FieldDescriptorProto| f.label() != Label::Repeated;
    let string = |f: &prost_types::FieldDescriptorProto| {
        (f.r#type() == Type::String)
            .then(|| last_bytes(bytes, f.number() as u64))
            .flatten()
            .and_then(|b| std::str::from_utf8(b).ok())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(id) = message
        .field
        .iter()
        .filter(singular)
        .find(|f| f.name() == "id")
        .and_then(string)
    {
        return Some(id);
    }
    if depth < 2 {
        for field in message
            .field
            .iter()
            .filter(singular)
            .filter(|f| f.r#type() == Type::Message)
        {
            if let Some(inner) = last_bytes(bytes, field.number() as u64)
                && let Some(id) = subject_at(field.type_name(), inner, depth + 1)
            {
                return Some(id);
            }
        }
    }
    message
        .field
        .iter()
        .filter(singular)
        // An idempotency key names the request, not a record.
        .filter(|f| f.name().ends_with("_id") && f.name() != "request_id")
        .find_map(string)
}

/// The last occurrence of length-delimited field `number` in an encoded message (the last one
/// wins in protobuf), or None when absent or the bytes are not a message.
fn last_bytes(mut bytes: &[u8], number: u64) -> Option<&[u8]> {
    let mut found = None;
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        match key & 7 {
            0 => {
                varint(&mut bytes)?;
            }
            1 => bytes = bytes.get(8..)?,
            2 => {
                let len = usize::try_from(varint(&mut bytes)?).ok()?;
                let value = bytes.get(..len)?;
                if key >> 3 == number {
                    found = Some(value);
                }
                bytes = &bytes[len..];
            }
            5 => bytes = bytes.get(4..)?,
            _ => return None,
        }
    }
    found
}

fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crm_proto::customers::v1 as pb;
    use prost::Message as _;

    use super::*;

    #[test]
    fn changes_and_exports_are_recorded_reads_are_not() {
        let recorded = |path: &str| method(path).map(|m| m.recorded);
        assert_eq!(
            recorded("/crm.customers.v1.CustomersService/UpdateParty"),
            Some(true)
        );
        assert_eq!(
            recorded("/crm.customers.v1.CustomersService/ExportParty"),
            Some(true)
        );
        assert_eq!(
            recorded("/crm.customers.v1.CustomersService/GetParty"),
            Some(false)
        );
        assert_eq!(
            recorded("/crm.customers.v1.CustomersService/ResolveExternalIds"),
            Some(false)
        );
        assert_eq!(
            recorded("/crm.sales.v1.SalesReportService/ResolveAlert"),
            Some(true)
        );
        assert_eq!(recorded("/crm.customers.v1.CustomersService/Nope"), None);
    }

    #[test]
    fn the_subject_is_the_id_the_nested_id_or_the_first_reference() {
        let get = pb::GetPartyRequest { id: "p-1".into() };
        assert_eq!(
            subject(".crm.customers.v1.GetPartyRequest", &get.encode_to_vec()),
            "p-1"
        );
        let update = pb::UpdatePartyRequest {
            party: Some(pb::Party {
                id: "p-2".into(),
                given_name: "Ann".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            subject(".crm.customers.v1.UpdatePartyRequest", &update.encode_to_vec()),
            "p-2"
        );
        let value = pb::SetPartyValueRequest {
            party_id: "p-3".into(),
            ..Default::default()
        };
        assert_eq!(
            subject(".crm.customers.v1.SetPartyValueRequest", &value.encode_to_vec()),
            "p-3"
        );
        let create = pb::CreatePartyRequest {
            request_id: "retry-key".into(),
            ..Default::default()
        };
        assert_eq!(
            subject(".crm.customers.v1.CreatePartyRequest", &create.encode_to_vec()),
            ""
        );
        assert_eq!(
            subject(".crm.customers.v1.GetPartyRequest", &[0xff, 0xff]),
            "",
            "not a message"
        );
    }
}
