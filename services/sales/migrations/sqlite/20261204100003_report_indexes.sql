-- The alert rules read the open deals and the opportunities created in the last 120 days.
CREATE INDEX opportunities_open ON opportunities (id) WHERE status = 1;
CREATE INDEX opportunities_created ON opportunities (created_at);
