-- Each customer's history in the models' terms at the latest fit and what the fit predicts of
-- them, so churn-risk and key-customer lists read ordered rows instead of predicting the base.
CREATE TABLE model_customers (
    party_id          TEXT PRIMARY KEY,
    fitted_at         BIGINT NOT NULL,
    x                 DOUBLE PRECISION NOT NULL,
    t_x               DOUBLE PRECISION NOT NULL,
    t                 DOUBLE PRECISION NOT NULL,
    repeat_mean_minor DOUBLE PRECISION NOT NULL,
    alive_bps         BIGINT NOT NULL,
    value_52w_minor   BIGINT NOT NULL
);
CREATE INDEX model_customers_alive ON model_customers (alive_bps, party_id);
CREATE INDEX model_customers_value ON model_customers (value_52w_minor, party_id);
