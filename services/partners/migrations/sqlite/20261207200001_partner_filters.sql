-- Partner lists filtered by status or type, paged by id.
CREATE INDEX partners_status ON partners (status, id);
CREATE INDEX partners_type ON partners (type, id);
