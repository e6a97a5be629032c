-- The value pyramid as the customers service last announced it: the tiers that make up the top
-- 20% of customers get preferential service unless tiers are named in the settings.
CREATE TABLE value_tiers (
    position           BIGINT PRIMARY KEY,
    name               TEXT NOT NULL,
    customer_share_bps BIGINT NOT NULL
);
