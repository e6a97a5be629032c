-- A static list's members, one row each: GetProfile asks which lists hold a customer through the
-- party index, and an audience drawn from a list reads its members by the key. Before, both
-- expanded the JSON list of every list segment (up to 100,000 ids each) on every call.
-- segments.party_ids is still written, for a server of the version before during an upgrade.
CREATE TABLE segment_members (
    segment_id TEXT NOT NULL REFERENCES segments (id),
    party_id   TEXT NOT NULL,
    PRIMARY KEY (segment_id, party_id)
) WITHOUT ROWID;
CREATE INDEX segment_members_party ON segment_members (party_id);

INSERT INTO segment_members (segment_id, party_id)
SELECT s.id, j.value FROM segments s, json_each(s.party_ids) AS j
WHERE s.conditions = '[]'
ON CONFLICT DO NOTHING;
