-- An erased customer's call list entries are blanked by party: the list-first key does not serve
-- that, so each erasure read every entry of every list.
CREATE INDEX call_list_entries_party ON call_list_entries (party_id);
