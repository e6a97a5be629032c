-- The party whose personal data an event carries (published on `<subject>.<party>`): erasing
-- the party deletes its rows, sent or not.
ALTER TABLE crm_outbox ADD COLUMN person TEXT;
CREATE INDEX crm_outbox_person ON crm_outbox (person) WHERE person IS NOT NULL;
