-- Performance, exceptions and scorecards add up a period's sales in SQL: by day sold.
CREATE INDEX sell_through_sold ON sell_through (sold_on);
