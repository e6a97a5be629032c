-- no-transaction
-- A customer's campaigns (GetProfile, so every customer 360) and the rekeying of a merged or
-- erased customer's memberships are found by party: the campaign-first key does not serve that,
-- so each read every membership of every campaign.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY campaign_members_party ON campaign_members (party_id);
