-- no-transaction
-- Nothing reads customer figures in recency order: the RFM boundaries rank the base with
-- window functions that sort, whatever the indexes, and an index kept here only made each
-- purchase's update of the figures write it.
DROP INDEX CONCURRENTLY IF EXISTS customer_figures_recency;
