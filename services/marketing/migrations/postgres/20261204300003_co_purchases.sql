-- The distinct products each customer bought in orders that count, and the co-purchase counts
-- kept from them as purchases arrive: customers per product and per ordered pair of products.
-- Cross-selling reads the counts instead of every purchase.
CREATE TABLE customer_products (
    party_id   TEXT NOT NULL,
    product_id TEXT NOT NULL,
    PRIMARY KEY (party_id, product_id)
);
CREATE TABLE product_buyers (
    product_id TEXT PRIMARY KEY,
    customers  BIGINT NOT NULL
);
CREATE TABLE product_pairs (
    product_a TEXT NOT NULL,
    product_b TEXT NOT NULL,
    customers BIGINT NOT NULL,
    PRIMARY KEY (product_a, product_b)
);
CREATE INDEX product_pairs_customers ON product_pairs (customers);

INSERT INTO customer_products (party_id, product_id)
SELECT DISTINCT p.party_id, j.value FROM purchases p CROSS JOIN LATERAL jsonb_array_elements_text(p.product_ids::jsonb) AS j(value)
WHERE p.status IN ('placed', 'fulfilled');
INSERT INTO product_buyers (product_id, customers)
SELECT product_id, COUNT(*) FROM customer_products GROUP BY product_id;
INSERT INTO product_pairs (product_a, product_b, customers)
SELECT a.product_id, b.product_id, COUNT(*) FROM customer_products a
JOIN customer_products b ON b.party_id = a.party_id AND b.product_id <> a.product_id
GROUP BY a.product_id, b.product_id;
