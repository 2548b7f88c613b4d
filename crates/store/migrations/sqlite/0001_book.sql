-- allot's book of business (SQLite). Dates are ISO text (YYYY-MM-DD), times RFC 3339 UTC.
-- Links are half-open [valid_from, valid_to) and are closed, never deleted.

CREATE TABLE changes (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL CHECK (kind IN ('import', 'apply', 'pin', 'unpin', 'absence', 'leave', 'route', 'token')),
    made_by TEXT NOT NULL,
    made_at TEXT NOT NULL,
    file    TEXT,
    summary TEXT NOT NULL DEFAULT ''
);

CREATE TABLE attributes (
    subject  TEXT NOT NULL CHECK (subject IN ('client', 'employee', 'deal')),
    name     TEXT NOT NULL,
    type     TEXT NOT NULL CHECK (type IN ('number', 'text', 'bool', 'date', 'list')),
    position INTEGER NOT NULL,
    PRIMARY KEY (subject, name)
);

CREATE TABLE clients (
    key         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE CHECK (id <> ''),
    attrs       TEXT NOT NULL CHECK (json_valid(attrs)),
    imported_by INTEGER NOT NULL REFERENCES changes (id)
);

CREATE TABLE employees (
    key         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE CHECK (id <> ''),
    attrs       TEXT NOT NULL CHECK (json_valid(attrs)),
    imported_by INTEGER NOT NULL REFERENCES changes (id)
);

CREATE TABLE deals (
    key         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE CHECK (id <> ''),
    client      INTEGER NOT NULL REFERENCES clients (key),
    attrs       TEXT NOT NULL CHECK (json_valid(attrs)),
    imported_by INTEGER NOT NULL REFERENCES changes (id)
);

CREATE TABLE roles (
    id      TEXT PRIMARY KEY,
    several INTEGER NOT NULL DEFAULT 0 CHECK (several IN (0, 1)),
    UNIQUE (id, several)
);

CREATE TABLE schemes (
    version    INTEGER PRIMARY KEY CHECK (version > 0),
    text       TEXT NOT NULL,
    applied_by INTEGER NOT NULL REFERENCES changes (id)
);

CREATE TABLE absences (
    id            INTEGER PRIMARY KEY,
    employee      INTEGER NOT NULL REFERENCES employees (key),
    first_day     TEXT NOT NULL CHECK (first_day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    last_day      TEXT NOT NULL CHECK (last_day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    cover         INTEGER REFERENCES employees (key),
    registered_by INTEGER NOT NULL REFERENCES changes (id),
    applied_by    INTEGER REFERENCES changes (id),
    CHECK (last_day >= first_day),
    CHECK (cover IS NULL OR cover <> employee)
);

CREATE TABLE leavers (
    id            INTEGER PRIMARY KEY,
    employee      INTEGER NOT NULL UNIQUE REFERENCES employees (key),
    left_on       TEXT NOT NULL CHECK (left_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    registered_by INTEGER NOT NULL REFERENCES changes (id),
    applied_by    INTEGER REFERENCES changes (id)
);

CREATE TABLE links (
    id         INTEGER PRIMARY KEY,
    client     INTEGER NOT NULL REFERENCES clients (key),
    role       TEXT NOT NULL,
    several    INTEGER NOT NULL DEFAULT 0,
    employee   INTEGER NOT NULL REFERENCES employees (key),
    valid_from TEXT NOT NULL CHECK (valid_from GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    valid_to   TEXT CHECK (valid_to GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    cause      TEXT NOT NULL CHECK (cause IN ('new', 'rule', 'pin', 'cover', 'return', 'leaver', 'absence', 'rebalance')),
    rule       TEXT,
    scheme     INTEGER REFERENCES schemes (version),
    note       TEXT NOT NULL DEFAULT '',
    absence    INTEGER REFERENCES absences (id),
    opened_by  INTEGER NOT NULL REFERENCES changes (id),
    closed_by  INTEGER REFERENCES changes (id),
    FOREIGN KEY (role, several) REFERENCES roles (id, several),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CHECK ((valid_to IS NULL) = (closed_by IS NULL)),
    CHECK (cause NOT IN ('cover', 'return') OR absence IS NOT NULL)
);
-- One open link per (client, role) unless the role allows several.
CREATE UNIQUE INDEX links_one_open ON links (client, role) WHERE valid_to IS NULL AND several = 0;
CREATE INDEX links_by_client ON links (client, role, valid_from);
CREATE INDEX links_by_employee ON links (employee, valid_from);
CREATE INDEX links_open ON links (valid_to, valid_from);

CREATE TABLE pins (
    id          INTEGER PRIMARY KEY,
    client      INTEGER NOT NULL REFERENCES clients (key),
    role        TEXT NOT NULL REFERENCES roles (id),
    employee    INTEGER NOT NULL REFERENCES employees (key),
    reason      TEXT NOT NULL CHECK (reason <> ''),
    pinned_by   INTEGER NOT NULL REFERENCES changes (id),
    unpinned_by INTEGER REFERENCES changes (id)
);
CREATE UNIQUE INDEX pins_one_active ON pins (client, role) WHERE unpinned_by IS NULL;
