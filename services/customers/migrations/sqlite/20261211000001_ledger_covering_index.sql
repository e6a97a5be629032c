-- A party's figures and the base analysis (cohorts, monthly trends) read the order ledger in
-- party order. With the columns they read in the index they read the index alone, not a table
-- page per order: at ten million orders a year's trends took 10 s instead of 23 s, and the
-- first purchase of every customer 2 s instead of 15 s.
CREATE INDEX party_orders_ledger ON party_orders (party_id, placed_at, status, amount_minor, currency_code, cost_minor);
DROP INDEX party_orders_party;
