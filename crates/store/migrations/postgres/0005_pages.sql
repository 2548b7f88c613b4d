-- The workspace's pages on a big book (issue #16): a page of an employee's clients is read from
-- an index, not sorted out of the whole book.
--
-- `links.client_id`: the client's id beside its key. A client's id never changes (it is what an
-- import matches on), so the copy cannot go stale; it lets an employee's links be kept in
-- client-id order by an index. Written by the statement that opens a link.
ALTER TABLE links ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
UPDATE links l SET client_id = c.id FROM clients c WHERE c.key = l.client;

-- An employee's links per role in client-id order with what a page filters by: page N of 140,000
-- clients, and their count, are read from this index alone (sorted from it, across roles), the
-- loads per employee and role are counted from it in its order (an index-only scan: the link's id and client
-- key ride along), and so are the links a change since the last visit opened or closed (Home).
-- It serves every query the narrower `links_by_employee` did.
DROP INDEX links_by_employee;
CREATE INDEX links_held ON links (employee, role COLLATE "C", client_id COLLATE "C", valid_from, valid_to, opened_by, closed_by)
    INCLUDE (id, client);

-- The first change since a moment (Home: what changed since my last visit).
CREATE INDEX changes_by_time ON changes (made_at);

-- `find`: the client's id and name, case-folded, kept by the database itself; beside the key in an
-- index, so that searching an employee's clients reads no client row.
ALTER TABLE clients ADD COLUMN find TEXT GENERATED ALWAYS AS (lower(id || ' ' || coalesce(attrs ->> 'name', ''))) STORED;
CREATE INDEX clients_find ON clients (key) INCLUDE (find);

-- How many links each employee holds in each role on any day, without counting the book: each
-- link adds 1 on its first day and takes 1 away on the day it ends; the holdings on day D are the
-- sum of the changes up to D (the Team page's loads). Kept by the triggers below — once per
-- statement, over the rows it wrote —, whatever opens, closes or re-dates a link.
CREATE TABLE held_counts (
    employee BIGINT NOT NULL REFERENCES employees (key),
    role     TEXT NOT NULL,
    day      DATE NOT NULL,
    delta    BIGINT NOT NULL,
    PRIMARY KEY (employee, role, day)
);

INSERT INTO held_counts (employee, role, day, delta)
SELECT employee, role, day, sum(d) FROM (
    SELECT employee, role, valid_from AS day, 1 AS d FROM links
    UNION ALL
    SELECT employee, role, valid_to, -1 FROM links WHERE valid_to IS NOT NULL
) x GROUP BY employee, role, day;

CREATE FUNCTION allot_links_opened() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO held_counts (employee, role, day, delta)
    SELECT employee, role, day, sum(d) FROM (
        SELECT employee, role, valid_from AS day, 1 AS d FROM opened
        UNION ALL
        SELECT employee, role, valid_to, -1 FROM opened WHERE valid_to IS NOT NULL
    ) x GROUP BY employee, role, day
    ON CONFLICT (employee, role, day) DO UPDATE SET delta = held_counts.delta + excluded.delta;
    RETURN NULL;
END $$;

CREATE FUNCTION allot_links_redated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The rows as they were taken out, as they are put in: a row whose days did not change
    -- cancels itself (no need to pair the rows, which the transition tables could only do slowly).
    INSERT INTO held_counts (employee, role, day, delta)
    SELECT employee, role, day, sum(d) FROM (
        SELECT employee, role, valid_from AS day, -1 AS d FROM old_rows
        UNION ALL
        SELECT employee, role, valid_to, 1 FROM old_rows WHERE valid_to IS NOT NULL
        UNION ALL
        SELECT employee, role, valid_from, 1 FROM new_rows
        UNION ALL
        SELECT employee, role, valid_to, -1 FROM new_rows WHERE valid_to IS NOT NULL
    ) x GROUP BY employee, role, day HAVING sum(d) <> 0
    ON CONFLICT (employee, role, day) DO UPDATE SET delta = held_counts.delta + excluded.delta;
    RETURN NULL;
END $$;

CREATE TRIGGER links_held_opened AFTER INSERT ON links
    REFERENCING NEW TABLE AS opened FOR EACH STATEMENT EXECUTE FUNCTION allot_links_opened();
CREATE TRIGGER links_held_redated AFTER UPDATE ON links
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION allot_links_redated();
