-- no-transaction
-- ListCampaignMembers and ExportCampaignMembers read a campaign's members by cell, then party, a
-- page at a time from the page's position on. Without this index each page read every member of
-- the campaign (the primary key is by party) and sorted them: a million-member campaign sorted a
-- million rows per page of 100.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY campaign_members_page ON campaign_members (campaign_id, cell, party_id);
