-- `activities_opportunity_page` serves every read `activities_opportunity` served.
DROP INDEX IF EXISTS activities_opportunity;
