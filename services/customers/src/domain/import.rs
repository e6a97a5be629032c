//! Rules for imported parties: the same validation as a created party, the source system's
//! creation time, and the canonical content that tells a changed row from an unchanged one.

use crm_platform::Violations;
use crm_platform::import::check_external_id;
use crm_proto::customers::v1::{self as pb, LifecycleStage};
use prost::Message as _;

use super::party as rules;

/// An import row that passed validation, ready to store.
#[derive(Debug, Clone)]
pub struct PreparedParty {
    /// Row number in the client's file.
    pub row: i64,
    /// Id in the source system.
    pub external_id: String,
    /// The party, normalised, with `source` and `external_id` set.
    pub party: pb::Party,
    /// The source system's creation time (µs since the epoch).
    pub created_at: i64,
    /// Hash of the imported content.
    pub hash: String,
}

/// Fields an import overwrites on a party it imported before (lifecycle only when the row sets
/// it: otherwise it stays derived from orders).
pub fn updated_fields(row_sets_lifecycle: bool) -> Vec<String> {
    rules::UPDATABLE_FIELDS
        .iter()
        .filter(|f| **f != "source" && (row_sets_lifecycle || **f != "lifecycle_stage"))
        .map(|f| (*f).to_string())
        .collect()
}

/// Validates and normalises one row (`now` bounds the creation time). Field names in the
/// violations are relative to the row's party, plus `external_id` and `create_time`.
pub fn prepare(row: pb::PartyImportRow, source: &str, now: i64) -> Result<PreparedParty, Violations> {
    let mut v = Violations::new();
    check_external_id(&mut v, "external_id", &row.external_id);
    let Some(mut party) = row.party else {
        v.add("party", "required");
        return Err(v);
    };
    // Output-only fields are ignored, as on create.
    party.id.clear();
    party.value = None;
    party.merged_into_id.clear();
    party.etag.clear();
    party.status = 0;
    party.create_time = None;
    party.update_time = None;
    party.verify_time = None;
    party.source = source.to_string();
    party.external_id = row.external_id.trim().to_string();
    if party.lifecycle_stage == LifecycleStage::Unspecified as i32 {
        party.lifecycle_stage = LifecycleStage::Prospect as i32;
    }
    for (field, problem) in rules::validate(&party).iter() {
        v.add(field.clone(), problem.clone());
    }
    let created_at = match &row.create_time {
        Some(t) => {
            let micros = t.seconds.saturating_mul(1_000_000) + i64::from(t.nanos) / 1000;
            v.check(micros > now, "create_time", "in the future");
            micros
        }
        None => now,
    };
    v.finish()?;
    rules::normalise(&mut party);
    let hash = content_hash(&party, row.create_time.is_some().then_some(created_at));
    Ok(PreparedParty {
        row: row.row,
        external_id: party.external_id.clone(),
        party,
        created_at,
        hash,
    })
}

/// The hash of what an import row says: the party's fields with its attributes in key order
/// (protobuf maps encode in no fixed order), and the creation time when the row gave one.
fn content_hash(party: &pb::Party, created_at: Option<i64>) -> String {
    let mut canonical = party.clone();
    let attributes = std::mem::take(&mut canonical.attributes);
    let mut bytes = canonical.encode_to_vec();
    let mut keys: Vec<_> = attributes.iter().collect();
    keys.sort();
    for (key, value) in keys {
        bytes.extend_from_slice(key.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
    }
    if let Some(at) = created_at {
        bytes.extend_from_slice(&at.to_le_bytes());
    }
    crm_storage::imports::content_hash(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_proto::customers::v1::PartyKind;

    fn row(given: &str) -> pb::PartyImportRow {
        pb::PartyImportRow {
            row: 2,
            external_id: "c-1".into(),
            party: Some(pb::Party {
                kind: PartyKind::Person as i32,
                given_name: given.into(),
                attributes: [
                    ("a".to_string(), "1".to_string()),
                    ("b".to_string(), "2".to_string()),
                ]
                .into_iter()
                .collect(),
                ..Default::default()
            }),
            create_time: Some(prost_types::Timestamp {
                seconds: 1_000,
                nanos: 0,
            }),
        }
    }

    #[test]
    fn same_row_same_hash_changed_row_other_hash() {
        let a = prepare(row("Ada"), "erp", 2_000_000_000).unwrap();
        let b = prepare(row("Ada"), "erp", 2_000_000_000).unwrap();
        let c = prepare(row("Adah"), "erp", 2_000_000_000).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
        assert_eq!(a.created_at, 1_000_000_000);
        assert_eq!(a.party.source, "erp");
        assert_eq!(a.party.external_id, "c-1");
    }

    #[test]
    fn bad_rows_name_their_fields() {
        let mut r = row("");
        r.external_id.clear();
        r.create_time = Some(prost_types::Timestamp {
            seconds: 10_000,
            nanos: 0,
        });
        let v = prepare(r, "erp", 1_000_000).unwrap_err();
        let fields: Vec<&str> = v.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["external_id", "given_name", "create_time"]);
    }
}
