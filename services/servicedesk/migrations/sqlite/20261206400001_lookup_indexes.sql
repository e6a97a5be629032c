-- IdentifyCaller and the screen pop find a customer by phone number through this index instead
-- of matching the JSON list of every customer's phones.
CREATE TABLE customer_phones (
    phone TEXT NOT NULL,
    party_id TEXT NOT NULL,
    PRIMARY KEY (phone, party_id)
);
CREATE INDEX customer_phones_party ON customer_phones (party_id);
INSERT INTO customer_phones (phone, party_id)
SELECT DISTINCT j.value, c.party_id FROM customers c, json_each(c.phones) j
WHERE c.phones <> '' AND c.phones <> '[]';

-- The open cases in urgency order (the queue's first page) without stepping over closed ones.
CREATE INDEX cases_open_urgency ON cases (priority, resolution_due_at, id) WHERE status NOT IN (5, 6);

-- The daily greetings read the customers born on the day, not every customer.
CREATE INDEX customers_birthday ON customers (SUBSTR(birth_date, 6, 5)) WHERE status = 'active' AND birth_date <> '';
