-- A scorecard adds up the returns of a partner's channels over its period from this index; with
-- the order key alone, each evaluation read every return on every channel.
CREATE INDEX partner_returns_partner ON partner_returns (partner_id, returned_on);
