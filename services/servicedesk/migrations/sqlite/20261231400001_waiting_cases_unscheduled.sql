-- The escalation job does not look at a case while it waits on the customer (its clock is
-- stopped; the write that resumes it schedules it). Waiting cases written by earlier releases are
-- scheduled "now", at the head of the check-time index, where every run read each of them to
-- pass over it.
UPDATE cases SET escalation_check_at = 9223372036854775807 WHERE paused_at IS NOT NULL AND status NOT IN (5, 6);
