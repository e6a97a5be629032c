-- A static list's members, one row each: GetProfile asks which lists hold a customer through the
-- party index, and an audience drawn from a list reads its members by the key. Before, both
-- expanded the JSON list of every list segment (up to 100,000 ids each) on every call.
-- segments.party_ids is still written, for a server of the version before during an upgrade.
CREATE TABLE segment_members (
    segment_id TEXT NOT NULL REFERENCES segments (id),
    party_id   TEXT NOT NULL,
    PRIMARY KEY (segment_id, party_id)
);
CREATE INDEX segment_members_party ON segment_members (party_id);

INSERT INTO segment_members (segment_id, party_id)
SELECT s.id, e.value FROM segments s, jsonb_array_elements_text(s.party_ids::jsonb) AS e (value)
WHERE s.conditions = '[]'
ON CONFLICT DO NOTHING;
