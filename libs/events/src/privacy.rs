//! Erasure reaching the event log. An event carrying a party's personal data is published on
//! `<subject>.<party>` (see [`crate::NewEvent::about_person`]), its outbox row names the party,
//! and a dead letter parked from it keeps the party in its subject (`crm.dlq.<consumer>.<party>`).
//! Erasing the party then deletes its outbox rows ([`scrub_outbox`]) and purges its messages
//! from the domain's stream and the dead-letter stream ([`purge_person`]).
//!
//! Bulk announcements (an import's 500 parties in one message) cannot name every party in their
//! subject: they are purged once every consumer of the stream has settled them
//! ([`purge_settled`]), so personal data in them lasts only as long as a consumer lags.

use async_nats::jetstream;
use crm_storage::Tx;
use futures::TryStreamExt as _;

use crate::streams::{DLQ_STREAM, StreamSpec};

/// The outbox's mark of a bulk announcement carrying personal data of many parties.
pub const MANY: &str = "*";

/// Whether `id` can be a subject token: letters, digits, `-` and `_` (every id the suite
/// makes), at most 128 bytes.
pub fn is_token(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The party whose personal data a message on `subject` carries: the fifth token of a domain
/// event's subject (`crm.<domain>.<entity>.<action>.<party>`).
pub fn person_of(subject: &str) -> Option<&str> {
    let tokens: Vec<&str> = subject.split('.').collect();
    (tokens.len() == 5 && tokens[0] == "crm" && is_token(tokens[4])).then(|| tokens[4])
}

/// Deletes the outbox rows in `tx`'s database that carry personal data of `person`, sent or
/// not (unsent ones are never published: the erasure announced after them makes them moot),
/// and the sent bulk announcements, which may name the person among others.
pub async fn scrub_outbox(tx: &mut Tx, person: &str) -> sqlx::Result<u64> {
    let done =
        sqlx::query("DELETE FROM crm_outbox WHERE person = $1 OR (person = '*' AND sent_at IS NOT NULL)")
            .bind(person)
            .execute(&mut **tx)
            .await?;
    Ok(done.rows_affected())
}

/// Purges every message of `domain`'s stream that carries personal data of `person`, and every
/// dead letter parked from such a message. Run it once the erasure was published: the relay
/// publishes in order, so every earlier event about the party is in the stream by then.
pub async fn purge_person(js: &jetstream::Context, domain: &str, person: &str) -> anyhow::Result<u64> {
    anyhow::ensure!(is_token(person), "{person:?} cannot be a subject token");
    let mut purged = 0;
    for (stream, filter) in [
        (
            StreamSpec::new(domain).name(),
            format!("crm.{domain}.*.*.{person}"),
        ),
        (DLQ_STREAM.to_string(), format!("crm.dlq.*.{person}")),
    ] {
        match js.get_stream(&stream).await {
            Ok(found) => purged += found.purge().filter(filter).await?.purged,
            // Nothing was ever published there.
            Err(err) if matches!(err.kind(), jetstream::context::GetStreamErrorKind::JetStream(e) if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
                {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(purged)
}

/// What a domain does when a party is erased, for its part of the event log: deletes its
/// outbox rows about the party (in `tx`), then purges its messages about the party from its
/// stream and the dead letters.
pub async fn forget(tx: &mut Tx, js: &jetstream::Context, domain: &str, person: &str) -> anyhow::Result<()> {
    if !is_token(person) {
        return Ok(());
    }
    scrub_outbox(tx, person).await?;
    purge_person(js, domain, person).await?;
    Ok(())
}

/// Purges the messages on `subject` of `spec`'s stream that every consumer reading that subject
/// has settled (acknowledged, or has nothing pending), returning how many went.
pub async fn purge_settled(js: &jetstream::Context, spec: &StreamSpec, subject: &str) -> anyhow::Result<u64> {
    let mut stream = js.get_stream(spec.name()).await?;
    let last = stream.info().await?.state.last_sequence;
    // Below the first message a reader of the subject still owes, everything is settled.
    let mut settled_below = last + 1;
    let consumers: Vec<_> = stream.consumers().try_collect().await?;
    for consumer in consumers {
        let config = &consumer.config;
        let reads = (config.filter_subject.is_empty() && config.filter_subjects.is_empty())
            || config.filter_subject == subject
            || config.filter_subjects.iter().any(|s| s == subject);
        if reads && (consumer.num_pending > 0 || consumer.num_ack_pending > 0) {
            settled_below = settled_below.min(consumer.ack_floor.stream_sequence + 1);
        }
    }
    Ok(stream
        .purge()
        .filter(subject)
        .sequence(settled_below)
        .await?
        .purged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_party_of_a_personal_subject() {
        let id = "0192f0c4-7b1e-7c3a-9d2e-1f4a5b6c7d8e";
        assert_eq!(person_of(&format!("crm.customers.party.created.{id}")), Some(id));
        assert_eq!(person_of("crm.customers.party.created"), None);
        assert_eq!(person_of("crm.customers.redrive.sales-customer-events"), None);
        assert!(!is_token("a.b") && !is_token("*") && !is_token(">") && !is_token(""));
    }
}
