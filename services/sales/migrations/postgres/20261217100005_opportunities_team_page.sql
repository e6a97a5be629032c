-- no-transaction
-- A sales manager's or a rep's opportunities are listed by the keys they may read (their own,
-- their team's, their territories'), each read in id order from its index up to a page: this one
-- for the team key. Without it a page was read from every opportunity and then narrowed, so a
-- rep's pages held a few of their deals each, or none.
-- PostgreSQL builds it concurrently, so that the table stays writable meanwhile: hence a
-- migration of its own, outside a transaction. A build that fails leaves an invalid index, to drop
-- before running the migration again.
CREATE INDEX CONCURRENTLY opportunities_team_page ON opportunities (team_id, id);
