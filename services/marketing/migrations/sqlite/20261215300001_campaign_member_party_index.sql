-- A customer's campaigns (GetProfile, so every customer 360) and the rekeying of a merged or
-- erased customer's memberships are found by party: the campaign-first key does not serve that,
-- so each read every membership of every campaign.
CREATE INDEX campaign_members_party ON campaign_members (party_id);
