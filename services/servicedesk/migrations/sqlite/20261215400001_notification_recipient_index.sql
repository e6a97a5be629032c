-- ListNotifications of one recipient, newest first, and the rewrite of a merged or erased
-- customer's notifications: without an index each walked the whole table, which grows by a row
-- for every message a campaign sends.
CREATE INDEX notifications_recipient ON notifications (recipient, created_at, id);
