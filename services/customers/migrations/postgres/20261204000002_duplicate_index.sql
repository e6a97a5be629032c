-- Duplicate detection reads an index instead of the whole base. Each active party has its name's
-- blocking keys; a party is compared, when written, with the parties sharing a key, an email or a
-- phone (blocks too large to identify anyone are skipped), and the links found are kept.
-- Each key row carries the party's normalized name, so a check compares names without reading
-- the parties behind a key.
CREATE TABLE party_name_keys (
    name_key TEXT NOT NULL,
    party_id TEXT NOT NULL,
    name     TEXT NOT NULL,
    PRIMARY KEY (name_key, party_id)
);
CREATE INDEX party_name_keys_party ON party_name_keys (party_id);

-- Two parties that look alike, party_a < party_b; reason: 1 same email, 2 same phone, 3 similar
-- name; score in millionths: 1,000,000 for an email or phone, the name similarity otherwise.
CREATE TABLE duplicate_links (
    party_a TEXT NOT NULL,
    party_b TEXT NOT NULL,
    reason BIGINT NOT NULL,
    score_ppm BIGINT NOT NULL,
    PRIMARY KEY (party_a, party_b, reason)
);
CREATE INDEX duplicate_links_b ON duplicate_links (party_b);
CREATE INDEX duplicate_links_score ON duplicate_links (score_ppm, party_a);

-- Keys held by more parties than a block may hold (a common name): nothing is compared through
-- them any more.
CREATE TABLE giant_name_keys (
    name_key TEXT PRIMARY KEY
);

-- Parties written in bulk (imports) and not yet checked; the duplicate check job drains it.
-- Every party already stored is checked once.
CREATE TABLE duplicate_check_due (
    party_id TEXT PRIMARY KEY
);
INSERT INTO duplicate_check_due (party_id) SELECT id FROM parties WHERE status = 1;
