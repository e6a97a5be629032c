-- no-transaction
-- A customer's campaigns are listed most recent first, a page at a time (GetProfile holds the
-- latest, ListProfileCampaigns the rest): by party, then campaign id, which follows creation. It
-- also serves every lookup by party the party index served, which the next migration drops.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY campaign_members_party_page ON campaign_members (party_id, campaign_id);
