-- ListEscalations of every case, newest first: without an index each page sorted the whole
-- table. The list bounds raised_at from above as well, so that a later page starts where the
-- last ended.
CREATE INDEX escalations_raised ON escalations (raised_at DESC, case_id, level);
