-- Name search reads an index instead of scanning every name: each party's name key under each
-- two-character sequence of it, in name order per sequence (see storage/name_search.rs).
CREATE TABLE party_search_grams (
    gram     TEXT NOT NULL,
    name_key TEXT NOT NULL,
    party_id TEXT NOT NULL,
    PRIMARY KEY (gram, name_key, party_id)
);

INSERT INTO party_search_grams (gram, name_key, party_id)
SELECT DISTINCT substr(p.name_key, i, 2), p.name_key, p.id
FROM parties p, generate_series(1, char_length(p.name_key) - 1) AS i
WHERE p.name_key <> '';
