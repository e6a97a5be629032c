-- A sales manager's leads are listed by the keys they may read (their own, their team's), each
-- read in id order from its index up to a page: this one for the team. Without it a page was
-- read from every lead and then narrowed.
CREATE INDEX leads_team_page ON leads (team_id, id);
