-- A queue's cases by id (ExportCases of a queue, a page from its position on): by the index of a
-- queue's cases by status, each page read every case of the queue to sort them, so an export of
-- a large queue read it once per page.
CREATE INDEX cases_queue_id ON cases (queue_id, id);
