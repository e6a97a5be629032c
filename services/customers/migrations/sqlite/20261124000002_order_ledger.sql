-- Orders learned from sales events: the ground truth for value figures and lifecycle.
CREATE TABLE party_orders (
    order_id      TEXT PRIMARY KEY,
    party_id      TEXT NOT NULL,
    placed_at     BIGINT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency_code TEXT NOT NULL,
    status        TEXT NOT NULL
);
CREATE INDEX party_orders_party ON party_orders (party_id, placed_at);
