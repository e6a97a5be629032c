-- When the escalation job next has to look at a case: 0 when it changed since (look now), the
-- time its next level comes due otherwise, the largest BIGINT when none ever will (resolved,
-- closed, or every level raised). The job reads the cases due by now from this index instead
-- of every open case.
ALTER TABLE cases ADD COLUMN escalation_check_at BIGINT NOT NULL DEFAULT 0;
UPDATE cases SET escalation_check_at = 9223372036854775807 WHERE status IN (5, 6);
CREATE INDEX cases_escalation_check ON cases (escalation_check_at);

-- The escalation chain the check times were computed with: a service started with another
-- chain looks at every open case again once.
CREATE TABLE escalation_schedule (
    chain TEXT PRIMARY KEY
);
