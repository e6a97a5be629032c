-- no-transaction
-- `activities_party_page` serves every read `activities_party` served.
DROP INDEX CONCURRENTLY IF EXISTS activities_party;
