-- Each customer's purchase figures per currency (orders that count: placed or fulfilled), kept
-- up to date as order events arrive, so that a profile read does not add up the base.
CREATE TABLE customer_figures (
    party_id      TEXT NOT NULL,
    currency_code TEXT NOT NULL,
    orders        BIGINT NOT NULL,
    total_minor   BIGINT NOT NULL,
    first_at      BIGINT NOT NULL,
    last_at       BIGINT NOT NULL,
    -- Days since the epoch of the last purchase: recency orders customers by it.
    last_day      BIGINT NOT NULL,
    PRIMARY KEY (party_id, currency_code)
);
CREATE INDEX customer_figures_recency ON customer_figures (currency_code, last_day, party_id);
CREATE INDEX customer_figures_frequency ON customer_figures (currency_code, orders, party_id);
CREATE INDEX customer_figures_monetary ON customer_figures (currency_code, total_minor, party_id);
INSERT INTO customer_figures (party_id, currency_code, orders, total_minor, first_at, last_at, last_day)
SELECT party_id, currency_code, COUNT(*), SUM(amount_minor), MIN(placed_at), MAX(placed_at),
       MAX(placed_at) / 86400000000
FROM purchases WHERE status IN ('placed', 'fulfilled')
GROUP BY party_id, currency_code;

-- The RFM quintile boundaries: in each dimension (r, f, m) the customer (value, party id) at
-- which scores 2 to 5 begin, in the order from worst to best; computed from the figures of
-- version `version` of the view.
CREATE TABLE rfm_cuts (
    currency_code TEXT NOT NULL,
    dimension     TEXT NOT NULL,
    score         BIGINT NOT NULL,
    value         BIGINT NOT NULL,
    party_id      TEXT NOT NULL,
    PRIMARY KEY (currency_code, dimension, score)
);
CREATE TABLE rfm_cut_versions (
    currency_code TEXT PRIMARY KEY,
    version       BIGINT NOT NULL,
    customers     BIGINT NOT NULL
);
