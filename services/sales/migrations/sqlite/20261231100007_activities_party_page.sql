-- A party's activities, newest first, a page from its (time, id) position on: with the id in
-- the key, the position is a range of the index, and ties in time need no sort. It replaces
-- `activities_party`, dropped in the next migration.
CREATE INDEX activities_party_page ON activities (party_id, occurred_at, id);
