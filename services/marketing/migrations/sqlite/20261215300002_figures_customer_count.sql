-- The number of customers with counted purchases in any currency (the N of support and lift),
-- kept as their figures change: counting them for every recommendation read an index entry per
-- customer of the base.
CREATE TABLE figures_count (
    id        BIGINT PRIMARY KEY,
    customers BIGINT NOT NULL
);
INSERT INTO figures_count (id, customers) SELECT 1, COUNT(DISTINCT party_id) FROM customer_figures;
