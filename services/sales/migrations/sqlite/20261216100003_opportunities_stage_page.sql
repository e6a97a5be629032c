-- ListOpportunities at one stage reads its page in id order from this index, from the page's
-- position on, and no more. Without it, each page walked every opportunity in id order until it
-- had found a page's worth.
CREATE INDEX opportunities_stage_page ON opportunities (stage_code, id);
