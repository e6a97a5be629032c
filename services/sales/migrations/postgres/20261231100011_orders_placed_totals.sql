-- no-transaction
-- Quota attainment of the whole company adds up a period's counted orders per rep or team and
-- currency: a third of the table for a year of three. With the columns it adds up in the index
-- it reads the index alone. Through `orders_placed` it read the table page of every order of the
-- period, spread over the whole table: at 10,000,000 orders the call ran past its 30 s limit
-- once the table was not cached. It replaces `orders_placed`, dropped in the next migration.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to
-- drop before running the migration again.
CREATE INDEX CONCURRENTLY orders_placed_totals ON orders (placed_at)
    INCLUDE (status, owner_id, team_id, currency_code, total_minor);
