-- The notifications of one status, newest first, a page from its position on (ListNotifications
-- by status without a recipient: the failed ones, say): by the index of every notification in
-- time order, a rare status was found by walking all the others.
CREATE INDEX notifications_status_page ON notifications (status, created_at, id);
