-- no-transaction
-- `activities_opportunity_page` serves every read `activities_opportunity` served.
DROP INDEX CONCURRENTLY IF EXISTS activities_opportunity;
