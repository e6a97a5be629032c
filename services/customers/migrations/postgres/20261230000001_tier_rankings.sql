-- A re-ranking of every rank (RecomputeValueTiers, the full value sweep): the ranks and tiers
-- that move are staged from one ranking, then applied a range of parties per transaction, so
-- that no transaction holds every party while a million of them are written.

-- The latest re-ranking (one row, id 1): one is under way at a time.
CREATE TABLE tier_ranking_run (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    started_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    -- When the whole base was ranked and the moves staged; 0 until then.
    staged_at BIGINT NOT NULL DEFAULT 0,
    -- 0 while under way.
    finished_at BIGINT NOT NULL DEFAULT 0,
    ranked BIGINT NOT NULL DEFAULT 0,
    to_move BIGINT NOT NULL DEFAULT 0,
    moved BIGINT NOT NULL DEFAULT 0,
    tier_changes BIGINT NOT NULL DEFAULT 0,
    -- The last party gone through (moves are stored in party id order).
    after_id TEXT NOT NULL DEFAULT ''
);

-- The ranks and tiers the latest re-ranking moves, by party.
CREATE TABLE tier_ranking_moves (
    party_id TEXT PRIMARY KEY,
    contribution_rank BIGINT NOT NULL,
    tier TEXT NOT NULL
);
