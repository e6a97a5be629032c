-- The (party, campaign) index serves every lookup by party.
DROP INDEX IF EXISTS campaign_members_party;
