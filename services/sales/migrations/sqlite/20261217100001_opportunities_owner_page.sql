-- ListOpportunities of one owner reads its page in id order from this index, from the page's
-- position on, and no more. Without it, each page read every opportunity the owner has ever had
-- (opportunities_owner) and sorted them. opportunities_owner stays: the pipeline reports of one
-- owner read the owner's open opportunities from it.
CREATE INDEX opportunities_owner_page ON opportunities (owner_id, id);
