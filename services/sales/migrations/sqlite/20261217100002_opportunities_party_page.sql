-- ListOpportunities of one party reads its page in id order from this index, from the page's
-- position on, and no more: a key account with thousands of opportunities is paged like any other.
CREATE INDEX opportunities_party_page ON opportunities (party_id, id);
