-- The tier last announced for each party. A re-ranking writes tiers in one statement and then
-- announces the moves page by page (tier <> announced_tier), so that the first re-ranking after
-- a large import, which moves most customers, never holds every move in memory; a move not yet
-- announced when the process stopped is announced by the next re-ranking.
ALTER TABLE parties ADD COLUMN announced_tier TEXT NOT NULL DEFAULT '';
UPDATE parties SET announced_tier = tier;
CREATE INDEX parties_unannounced_tier ON parties (id) WHERE tier <> announced_tier;
