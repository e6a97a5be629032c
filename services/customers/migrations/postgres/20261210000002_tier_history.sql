-- Each party's tiers over time, for tier migration between two dates: a row per move. Tiers
-- held before this history began count from the start of time.
CREATE TABLE tier_history (
    party_id TEXT NOT NULL,
    from_at  BIGINT NOT NULL,
    tier     TEXT NOT NULL,
    PRIMARY KEY (party_id, from_at)
);
INSERT INTO tier_history (party_id, from_at, tier) SELECT id, 0, tier FROM parties WHERE tier <> '';
