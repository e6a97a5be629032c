-- A sales manager's or a rep's opportunities are listed by the keys they may read (their own,
-- their team's, their territories'), each read in id order from its index up to a page: this one
-- for the territory key. Without it a page was read from every opportunity and then narrowed, so a
-- rep's pages held a few of their deals each, or none.
CREATE INDEX opportunities_territory_page ON opportunities (territory_id, id);
