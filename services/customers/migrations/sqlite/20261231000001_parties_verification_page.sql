-- ListVerificationDue reads a page of active parties in (verified_at, id) order from this index,
-- from the page's position on. With verified_at alone, a page's position gave the planner no place
-- to start: each page read the index from the oldest party (or every party after it) again.
CREATE INDEX parties_verification_page ON parties (status, verified_at, id);
