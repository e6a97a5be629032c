-- The latest model fit.
CREATE TABLE model_fits (
    name      TEXT PRIMARY KEY,
    params    TEXT NOT NULL,
    fitted_at BIGINT NOT NULL,
    customers BIGINT NOT NULL
);

-- Customers announced as at risk (announced again only after recovering).
CREATE TABLE at_risk (
    party_id     TEXT PRIMARY KEY,
    announced_at BIGINT NOT NULL
);
