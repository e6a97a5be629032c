-- The competitor list as the customers service announces it (competitor.changed): what an
-- opportunity's competitor ids are checked against, and where their names come from.
CREATE TABLE competitors (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
