-- ListLeads of one source reads its page in id order from this index, from the page's position on,
-- and no more. Without it, each page walked every lead in id order until it had found a page's
-- worth.
CREATE INDEX leads_source_page ON leads (source, id);
