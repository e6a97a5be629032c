-- ListParties of one industry reads a page in id order from this index: the filter's rows of
-- active parties from the page's position on, and no more. With the filter's column alone, each
-- page read all of the group's rows and sorted them (or walked every party in id order for a rare
-- value).
CREATE INDEX parties_industry_page ON parties (industry, status, id);
