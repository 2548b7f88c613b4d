-- Issue #16: the people who sign in to the workspace. A user is linked to an employee (an admin
-- may be nobody's employee) and has a role: admin, manager or employee — the API's scopes.
-- Passwords are kept as argon2id PHC strings, never as text. Failed sign-ins lock the user out
-- for a growing while. Sessions are kept by the SHA-256 of the cookie's secret.

CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    login        TEXT NOT NULL UNIQUE CHECK (login <> ''),
    employee     INTEGER REFERENCES employees (key),
    role         TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'employee')),
    password     TEXT NOT NULL CHECK (password LIKE '$argon2id$%'),
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    changed_by   TEXT,
    changed_at   TEXT,
    disabled_by  TEXT,
    disabled_at  TEXT,
    failures     INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until TEXT,
    CHECK (role = 'admin' OR employee IS NOT NULL)
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at   TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
