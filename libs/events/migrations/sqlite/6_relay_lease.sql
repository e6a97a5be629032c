-- Which relay publishes this database's outbox: a lease renewed on every pass, taken over once
-- it expires, with a token that grows at each takeover; a relay marks rows sent only while it
-- still holds the lease under its token (fencing).
CREATE TABLE crm_relay_lease (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO crm_relay_lease (name, holder, token, expires_at) VALUES ('outbox', '', 0, 0);
