-- Issue #17 §7: a search of an employee's book looks at the `find` of each client they hold
-- (140,000 on the big store). Read from the table, each look is a row with its JSON attributes;
-- from this index (the key and `find` only), it is a narrow entry: the search reads a third less.
-- PostgreSQL has had the like (`clients_find (key) INCLUDE (find)`) since 0005.

CREATE INDEX clients_find ON clients (key, find);
