-- `orders_placed_totals` serves every read `orders_placed` served.
DROP INDEX IF EXISTS orders_placed;
