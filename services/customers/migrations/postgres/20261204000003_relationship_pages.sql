-- A party's edges are listed a page at a time in id order: each side's index carries the id,
-- so a page of a hub reads a page's worth of its edges.
DROP INDEX relationships_from;
DROP INDEX relationships_to;
CREATE INDEX relationships_from ON relationships (from_party_id, id);
CREATE INDEX relationships_to ON relationships (to_party_id, id);
