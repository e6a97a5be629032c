-- A customer's campaigns are listed most recent first, a page at a time (GetProfile holds the
-- latest, ListProfileCampaigns the rest): by party, then campaign id, which follows creation. It
-- also serves every lookup by party the party index served, which the next migration drops.
CREATE INDEX campaign_members_party_page ON campaign_members (party_id, campaign_id);
