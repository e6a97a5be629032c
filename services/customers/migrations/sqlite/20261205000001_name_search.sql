-- Name search reads an index instead of scanning every name: each party's name key under each
-- two-character sequence of it, in name order per sequence (see storage/name_search.rs).
CREATE TABLE party_search_grams (
    gram     TEXT NOT NULL,
    name_key TEXT NOT NULL,
    party_id TEXT NOT NULL,
    PRIMARY KEY (gram, name_key, party_id)
) WITHOUT ROWID;

WITH RECURSIVE positions (i) AS (
    SELECT 1
    UNION ALL
    SELECT i + 1 FROM positions WHERE i < (SELECT COALESCE(MAX(length(name_key)), 0) FROM parties)
)
INSERT OR IGNORE INTO party_search_grams (gram, name_key, party_id)
SELECT substr(p.name_key, positions.i, 2), p.name_key, p.id
FROM parties p JOIN positions ON positions.i < length(p.name_key)
WHERE p.name_key <> '';
