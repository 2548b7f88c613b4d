-- Issue #17 §7: the SQLite store gains `clients_find (key, find)` for searches; PostgreSQL has had
-- `clients_find (key) INCLUDE (find)` since 0005. Nothing to do here: the numbers stay in step.
SELECT 1;
