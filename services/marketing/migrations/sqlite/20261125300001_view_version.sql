-- A counter bumped with every change to what the marketing view is built from (profiles and
-- purchases), so that a computed view is reused until the data under it changes.
CREATE TABLE view_version (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO view_version (id, version) VALUES (1, 0);
