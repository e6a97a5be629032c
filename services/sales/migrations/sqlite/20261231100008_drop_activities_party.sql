-- `activities_party_page` serves every read `activities_party` served.
DROP INDEX IF EXISTS activities_party;
