-- Lists and exports of orders filter by the reader's record scope (the owner, or a manager's
-- team) in SQL, in id order.
CREATE INDEX orders_owner ON orders (owner_id, id);
CREATE INDEX orders_team ON orders (team_id, id);
