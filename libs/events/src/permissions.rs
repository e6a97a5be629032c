//! What one service's NATS user may do, and nothing more: publish its own domain's events and
//! its consumers' dead letters, keep its own stream, read the streams it consumes through its
//! own durable consumers, and receive the replies addressed to it.
//!
//! A service holding these permissions cannot forge another domain's event (a sales order from
//! a partner order, an erasure), read another domain's stream except through the consumers it
//! declared, or see other clients' replies. Operators get the same lists as the NATS server's
//! configuration (see `k8s/nats-values.yaml`).

use crate::streams::{DLQ_STREAM, StreamSpec, dlq_subject};

/// A durable consumer a service reads with: its name and the producing domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// The durable consumer's name (also its dead-letter subject's last token).
    pub durable: &'static str,
    /// The domain whose stream it reads.
    pub domain: &'static str,
}

/// The subjects a NATS user may publish to and subscribe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// Subjects it may publish to (JetStream API calls included).
    pub publish: Vec<String>,
    /// Subjects it may subscribe to.
    pub subscribe: Vec<String>,
}

/// The permissions of the service of `domain`, connected as the client called `client_name`
/// (see [`crate::connect`]), reading with `reads`.
pub fn service_user(domain: &str, client_name: &str, reads: &[Reading]) -> Permissions {
    let own = StreamSpec::new(domain);
    let mut publish = vec![own.subjects()];
    // Its own stream and the dead letters' are made or brought up to date at start-up, and
    // purged of an erased party's messages (see crate::privacy), which asks who consumes its
    // stream.
    for stream in [own.name(), DLQ_STREAM.to_string()] {
        for call in ["INFO", "CREATE", "UPDATE", "PURGE"] {
            publish.push(format!("$JS.API.STREAM.{call}.{stream}"));
        }
    }
    publish.push(format!("$JS.API.CONSUMER.LIST.{}", own.name()));
    for reading in reads {
        let stream = StreamSpec::new(reading.domain).name();
        let durable = reading.durable;
        publish.push(dlq_subject(durable));
        publish.push(format!("{}.*", dlq_subject(durable)));
        // A consumer may start before the producer ever has: it makes the stream then, but
        // never changes one that exists.
        for call in ["INFO", "CREATE"] {
            publish.push(format!("$JS.API.STREAM.{call}.{stream}"));
        }
        publish.extend([
            format!("$JS.API.CONSUMER.CREATE.{stream}.{durable}"),
            format!("$JS.API.CONSUMER.CREATE.{stream}.{durable}.>"),
            format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}"),
            format!("$JS.API.CONSUMER.INFO.{stream}.{durable}"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"),
            // Acknowledgements, in the short and the long (domain and account) reply forms.
            format!("$JS.ACK.{stream}.{durable}.>"),
            format!("$JS.ACK.*.*.{stream}.{durable}.>"),
        ]);
    }
    let mut seen = std::collections::HashSet::new();
    publish.retain(|subject| seen.insert(subject.clone()));
    Permissions {
        publish,
        subscribe: vec![format!("{}.>", crate::config::inbox_prefix(client_name))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_publishes_its_own_domain_and_reads_through_its_own_consumers() {
        let user = service_user(
            "sales",
            "crm-sales",
            &[Reading {
                durable: "sales-partner-events",
                domain: "partners",
            }],
        );
        assert!(user.publish.contains(&"crm.sales.>".to_string()));
        assert!(user.publish.contains(&"crm.dlq.sales-partner-events".to_string()));
        assert!(
            !user.publish.iter().any(|s| s.starts_with("crm.partners")),
            "{:?}",
            user.publish
        );
        assert!(
            !user
                .publish
                .contains(&"$JS.API.STREAM.UPDATE.CRM_PARTNERS".to_string()),
            "another domain's stream is never changed"
        );
        assert!(
            user.publish
                .contains(&"$JS.API.CONSUMER.MSG.NEXT.CRM_PARTNERS.sales-partner-events".to_string())
        );
        assert_eq!(user.subscribe, vec!["_INBOX.crm-sales.>".to_string()]);
    }
}
