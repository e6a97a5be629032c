//! Every domain event of the suite, defined once: its NATS subject, its CloudEvents type and its
//! payload message. Publishers, consumers' subject lists and their handlers all name an event by
//! its definition here, never by a string of their own.

use std::marker::PhantomData;

/// One kind of event: `crm.<domain>.<name>` on NATS, CloudEvents type `crm.<domain>.<name>.v1`,
/// with a payload of message type `M`.
#[derive(Debug)]
pub struct EventKind<M> {
    /// The publishing domain (`sales`).
    pub domain: &'static str,
    /// `<entity>.<action>` (`order.placed`).
    pub name: &'static str,
    /// The NATS subject (`crm.sales.order.placed`).
    pub subject: &'static str,
    /// The CloudEvents type (`crm.sales.order.placed.v1`).
    pub event_type: &'static str,
    payload: PhantomData<fn() -> M>,
}

impl<M> EventKind<M> {
    /// A kind; use [`event_kinds!`](crate::event_kinds) to spell the four names consistently.
    pub const fn new(
        domain: &'static str,
        name: &'static str,
        subject: &'static str,
        event_type: &'static str,
    ) -> Self {
        Self {
            domain,
            name,
            subject,
            event_type,
            payload: PhantomData,
        }
    }
}

impl<M> Clone for EventKind<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for EventKind<M> {}

/// Defines the events of one domain: a constant [`EventKind`] each, and in a `types` module the
/// same names as `&str` CloudEvents types, for `match` arms.
#[macro_export]
macro_rules! event_kinds {
    ($domain:literal { $( $(#[$doc:meta])* $kind:ident = $name:literal => $payload:ty; )* }) => {
        $(
            $(#[$doc])*
            pub const $kind: $crate::events::EventKind<$payload> = $crate::events::EventKind::new(
                $domain,
                $name,
                concat!("crm.", $domain, ".", $name),
                concat!("crm.", $domain, ".", $name, ".v1"),
            );
        )*

        /// The CloudEvents types of these events, as patterns for `match`.
        pub mod types {
            $(
                #[allow(missing_docs)]
                pub const $kind: &str = concat!("crm.", $domain, ".", $name, ".v1");
            )*
        }
    };
}
