-- Quota attainment adds up the orders placed in a period in SQL: by placing time, not the table.
CREATE INDEX orders_placed ON orders (placed_at);
