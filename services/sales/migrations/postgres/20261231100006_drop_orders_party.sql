-- no-transaction
-- `orders_party_summary` serves every read `orders_party` served.
DROP INDEX CONCURRENTLY IF EXISTS orders_party;
