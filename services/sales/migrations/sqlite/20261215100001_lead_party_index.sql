-- A merged or erased party's leads are found by party on every such event: without an index each
-- event read every lead.
CREATE INDEX leads_party ON leads (party_id);
