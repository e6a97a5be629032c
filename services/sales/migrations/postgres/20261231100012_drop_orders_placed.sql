-- no-transaction
-- `orders_placed_totals` serves every read `orders_placed` served.
DROP INDEX CONCURRENTLY IF EXISTS orders_placed;
