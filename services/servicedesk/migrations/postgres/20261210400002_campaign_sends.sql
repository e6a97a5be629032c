-- Consent as marketing last announced it (consent.changed): every campaign message is checked
-- against it just before it is sent.
CREATE TABLE consents (
    party_id       TEXT NOT NULL,
    channel        BIGINT NOT NULL,
    opted_out      BIGINT NOT NULL,
    do_not_contact BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (party_id, channel)
);
