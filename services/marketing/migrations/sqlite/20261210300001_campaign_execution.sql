-- Campaign execution: the code customers redeem and the message sent.
ALTER TABLE campaigns ADD COLUMN code TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN message TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX campaigns_code ON campaigns (code) WHERE code <> '';

-- Contact pressure: a customer's recent contacts, across campaigns.
CREATE INDEX campaign_members_contacts ON campaign_members (party_id, contacted_at) WHERE contacted_at IS NOT NULL;

-- What the messaging gateway reported about contacts (bounces, opt-outs, complaints), once
-- per feedback id.
CREATE TABLE contact_feedback (
    feedback_id TEXT PRIMARY KEY,
    party_id    TEXT NOT NULL,
    channel     BIGINT NOT NULL,
    kind        BIGINT NOT NULL,
    campaign_id TEXT NOT NULL DEFAULT '',
    received_at BIGINT NOT NULL
);
CREATE INDEX contact_feedback_party ON contact_feedback (party_id);
