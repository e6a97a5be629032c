-- ListAlerts without an owner reads a page newest first from this index, from the page's
-- position on; with the owner index alone, each page read and sorted every alert ever raised.
CREATE INDEX alerts_recent ON alerts (raised_at, id);
