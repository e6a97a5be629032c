-- ListCampaignMembers and ExportCampaignMembers read a campaign's members by cell, then party, a
-- page at a time from the page's position on. Without this index each page read every member of
-- the campaign (the primary key is by party) and sorted them: a million-member campaign sorted a
-- million rows per page of 100.
CREATE INDEX campaign_members_page ON campaign_members (campaign_id, cell, party_id);
