-- no-transaction
-- The (party, campaign) index serves every lookup by party.
DROP INDEX CONCURRENTLY IF EXISTS campaign_members_party;
