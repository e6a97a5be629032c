-- Orders on partner channels that were cancelled or returned: a late order.placed of one of them
-- must not count its sale again.
CREATE TABLE ended_orders (
    order_id TEXT PRIMARY KEY,
    status   TEXT NOT NULL
);
