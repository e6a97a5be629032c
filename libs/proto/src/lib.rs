//! Generated code for the crm proto tree (`proto/`): message types, gRPC clients and servers, and
//! the file descriptor set that servers register with gRPC reflection.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// Encoded `FileDescriptorSet` of every proto file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/crm_descriptor.bin"));

pub mod events;

/// Types shared by every domain.
pub mod common {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.common.v1.rs"));
    }
}

/// The record of calls every service keeps (who did what to which record, and who was refused).
pub mod audit {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.audit.v1.rs"));
    }
}

/// The customers domain.
#[cfg(feature = "customers")]
pub mod customers {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.customers.v1.rs"));

        /// The events the customers service publishes.
        pub mod events {
            crate::event_kinds! { "customers" {
                PARTY_CREATED = "party.created" => super::PartyCreated;
                PARTIES_IMPORTED = "parties.imported" => super::PartiesImported;
                PARTY_UPDATED = "party.updated" => super::PartyUpdated;
                PARTY_VERIFIED = "party.verified" => super::PartyVerified;
                PARTY_MERGED = "party.merged" => super::PartyMerged;
                PARTY_ERASED = "party.erased" => super::PartyErased;
                PARTY_VALUE_CHANGED = "party.value_changed" => super::PartyValueChanged;
                PARTY_TIER_CHANGED = "party.tier_changed" => super::PartyTierChanged;
                PARTIES_TIER_CHANGED = "parties.tier_changed" => super::PartiesTierChanged;
                PARTY_LIFECYCLE_CHANGED = "party.lifecycle_changed" => super::PartyLifecycleChanged;
                RELATIONSHIP_CREATED = "relationship.created" => super::RelationshipCreated;
                RELATIONSHIPS_IMPORTED = "relationships.imported" => super::RelationshipsImported;
                RELATIONSHIP_DELETED = "relationship.deleted" => super::RelationshipDeleted;
                COMPETITOR_CHANGED = "competitor.changed" => super::CompetitorChanged;
                REGION_UPSERTED = "region.upserted" => super::RegionUpserted;
                VALUE_TIERS_CHANGED = "value_tiers.changed" => super::ValueTierConfigChanged;
            }}
        }

        impl Party {
            /// The version the etag names (0 when there is none): each change to a party raises
            /// it, so of two copies of one party the higher version is the later state.
            pub fn version(&self) -> i64 {
                self.etag.trim_matches('"').parse().unwrap_or_default()
            }

            /// The status name read copies keep: `active`, `merged` or `erased`.
            pub fn status_name(&self) -> &'static str {
                match PartyStatus::try_from(self.status) {
                    Ok(PartyStatus::Merged) => "merged",
                    Ok(PartyStatus::Erased) => "erased",
                    _ => "active",
                }
            }
        }
    }
}

/// The sales domain.
#[cfg(feature = "sales")]
pub mod sales {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.sales.v1.rs"));

        /// The events the sales service publishes.
        pub mod events {
            crate::event_kinds! { "sales" {
                PRODUCT_CHANGED = "product.changed" => super::ProductChanged;
                LEAD_CREATED = "lead.created" => super::LeadCreated;
                LEAD_QUALIFIED = "lead.qualified" => super::LeadQualified;
                LEAD_CONVERTED = "lead.converted" => super::LeadConverted;
                OPPORTUNITY_CREATED = "opportunity.created" => super::OpportunityCreated;
                OPPORTUNITY_STAGE_CHANGED = "opportunity.stage_changed" => super::OpportunityStageChanged;
                OPPORTUNITY_WON = "opportunity.won" => super::OpportunityWon;
                OPPORTUNITY_LOST = "opportunity.lost" => super::OpportunityLost;
                QUOTE_CHANGED = "quote.changed" => super::QuoteChanged;
                ORDER_PLACED = "order.placed" => super::OrderPlaced;
                ORDER_FULFILLED = "order.fulfilled" => super::OrderFulfilled;
                ORDER_CANCELLED = "order.cancelled" => super::OrderCancelled;
                ORDER_RETURNED = "order.returned" => super::OrderReturned;
                ORDERS_IMPORTED = "orders.imported" => super::OrdersImported;
                ORDER_REJECTED = "order.rejected" => super::OrderRejected;
                ALERT_RAISED = "alert.raised" => super::AlertRaised;
                TASK_REMINDER_DUE = "task.reminder_due" => super::TaskReminderDue;
                ACCOUNT_ASSIGNED = "account.assigned" => super::AccountAssigned;
            }}
        }

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

            /// An SQL expression for how far along its life cycle the status name in `column`
            /// is: placed 0, fulfilled 1, cancelled or returned 2 (the ends). A copy takes an
            /// order's status only when it is further along, so a late event cannot move an
            /// order back (from cancelled to placed, say).
            pub fn stage_sql(column: &str) -> String {
                format!(
                    "(CASE {column} WHEN 'fulfilled' THEN 1 WHEN 'cancelled' THEN 2 WHEN 'returned' THEN 2 ELSE 0 END)"
                )
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

        /// The events the partners service publishes.
        pub mod events {
            crate::event_kinds! { "partners" {
                PARTNER_CHANGED = "partner.changed" => super::PartnerChanged;
                PARTNER_STATUS_CHANGED = "partner.status_changed" => super::PartnerStatusChanged;
                SALES_REPORTED = "sales.reported" => super::SalesReported;
                PERFORMANCE_EXCEPTION = "performance.exception" => super::PerformanceException;
                PARTNER_ORDER_SUBMITTED = "partner_order.submitted" => super::PartnerOrderSubmitted;
                DEAL_REGISTRATION_APPROVED = "deal_registration.approved" => super::DealRegistrationApproved;
                SCORECARD_EVALUATED = "scorecard.evaluated" => super::ScorecardEvaluated;
            }}
        }
    }
}

/// The marketing domain.
#[cfg(feature = "marketing")]
pub mod marketing {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.marketing.v1.rs"));

        /// The events the marketing service publishes.
        pub mod events {
            crate::event_kinds! { "marketing" {
                CAMPAIGN_CHANGED = "campaign.changed" => super::CampaignChanged;
                CAMPAIGN_RESPONSE = "campaign.response" => super::CampaignResponse;
                CUSTOMER_AT_RISK = "customer.at_risk" => super::CustomerAtRisk;
                CAMPAIGN_CONTACTED = "campaign.contacted" => super::CampaignContacted;
                CONSENT_CHANGED = "consent.changed" => super::ConsentChanged;
            }}
        }
    }
}

/// The service desk domain.
#[cfg(feature = "servicedesk")]
pub mod servicedesk {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.servicedesk.v1.rs"));

        /// The events the service desk publishes.
        pub mod events {
            crate::event_kinds! { "servicedesk" {
                CASE_OPENED = "case.opened" => super::CaseOpened;
                CASE_IMPORTED = "case.imported" => super::CaseImported;
                CASE_STATUS_CHANGED = "case.status_changed" => super::CaseStatusChanged;
                CASE_ESCALATED = "case.escalated" => super::CaseEscalated;
                CASE_PRIORITY_CHANGED = "case.priority_changed" => super::CasePriorityChanged;
                CASE_UPDATED = "case.updated" => super::CaseUpdated;
            }}
        }
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
