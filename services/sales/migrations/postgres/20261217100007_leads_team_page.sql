-- no-transaction
-- A sales manager's leads are listed by the keys they may read (their own, their team's), each
-- read in id order from its index up to a page: this one for the team. Without it a page was
-- read from every lead and then narrowed.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY leads_team_page ON leads (team_id, id);
