-- Quota attainment of the whole company adds up a period's counted orders per rep or team and
-- currency: a third of the table for a year of three. With the columns it adds up in the index
-- it reads the index alone. Through `orders_placed` it read the table page of every order of the
-- period, spread over the whole table. It replaces `orders_placed`, dropped in the next
-- migration.
CREATE INDEX orders_placed_totals ON orders (placed_at, status, owner_id, team_id, currency_code, total_minor);
