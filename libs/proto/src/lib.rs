//! Generated code for the crm proto tree (`proto/`): message types, gRPC clients and servers, and
//! the file descriptor set that servers register with gRPC reflection.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Encoded `FileDescriptorSet` of every proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/crm_descriptor.bin"));

/// Types shared by every domain.
pub mod common {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.common.v1.rs"));
    }
}

/// The customers domain.
#[cfg(feature = "customers")]
pub mod customers {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.customers.v1.rs"));
    }
}

/// The sales domain.
#[cfg(feature = "sales")]
pub mod sales {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.sales.v1.rs"));

        impl OrderStatus {
            /// The lower-case name order events and the other services' copies use for the
            /// status `value`: `placed`, `fulfilled`, `cancelled` or `returned` (anything else is
            /// `placed`).
            pub fn name_of(value: i32) -> &'static str {
                match Self::try_from(value) {
                    Ok(Self::Fulfilled) => "fulfilled",
                    Ok(Self::Cancelled) => "cancelled",
                    Ok(Self::Returned) => "returned",
                    _ => "placed",
                }
            }
        }
    }
}

/// The partner channels domain.
#[cfg(feature = "partners")]
pub mod partners {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.partners.v1.rs"));
    }
}

/// The marketing domain.
#[cfg(feature = "marketing")]
pub mod marketing {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.marketing.v1.rs"));
    }
}

/// The service desk domain.
#[cfg(feature = "servicedesk")]
pub mod servicedesk {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.servicedesk.v1.rs"));
    }
}

/// The gateway: customer 360 and screen pop.
#[cfg(feature = "gateway")]
pub mod gateway {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.gateway.v1.rs"));
    }
}
