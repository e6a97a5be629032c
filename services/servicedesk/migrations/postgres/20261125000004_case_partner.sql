-- The channel partner a complaint is about.
ALTER TABLE cases ADD COLUMN partner_id TEXT NOT NULL DEFAULT '';
