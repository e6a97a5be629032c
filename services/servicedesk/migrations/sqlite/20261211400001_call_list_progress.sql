-- Call lists keep their size and progress, so a list of any length is read a page at a time and
-- its progress without counting its entries.
ALTER TABLE call_lists ADD COLUMN entry_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE call_lists ADD COLUMN called_count BIGINT NOT NULL DEFAULT 0;
UPDATE call_lists SET
    entry_count = (SELECT COUNT(*) FROM call_list_entries e WHERE e.call_list_id = call_lists.id),
    called_count = (SELECT COUNT(*) FROM call_list_entries e WHERE e.call_list_id = call_lists.id AND e.outcome <> 0);

-- Newest lists first; the entries still to call; the customers each source selects.
CREATE INDEX call_lists_created ON call_lists (created_at, id);
CREATE INDEX call_list_entries_uncalled ON call_list_entries (call_list_id, party_id) WHERE outcome = 0;
CREATE INDEX customers_at_risk ON customers (party_id) WHERE at_risk = 1;
CREATE INDEX cases_follow_up ON cases (party_id) WHERE status = 4 OR (status = 5 AND satisfaction = 0);
