-- ListLeads of one owner reads its page in id order from this index, from the page's position on,
-- and no more. Without it, each page walked every lead in id order until it had found a page's
-- worth.
CREATE INDEX leads_owner_page ON leads (owner_id, id);
