//! The embedded store: one SQLite file (WAL, `synchronous=FULL`, foreign keys on). What is written
//! here is what SQLite does otherwise than PostgreSQL: opening and migrating the file, its write
//! lock, checkpoints, and the bulk paths; the rest is `shared.rs`.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::shared::{revision_of, table_of, Backend, Staging, Tx};
use crate::sql::{sqlite_dialect, sqlite_row, Db, Param, SqlRow};
use crate::*;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "book", include_str!("../migrations/sqlite/0001_book.sql")),
    (2, "routing", include_str!("../migrations/sqlite/0002_routing.sql")),
    (3, "operations", include_str!("../migrations/sqlite/0003_operations.sql")),
    (4, "people", include_str!("../migrations/sqlite/0004_people.sql")),
    (5, "pages", include_str!("../migrations/sqlite/0005_pages.sql")),
    (6, "approval", include_str!("../migrations/sqlite/0006_approval.sql")),
    (7, "search", include_str!("../migrations/sqlite/0007_search.sql")),
    (8, "webhooks", include_str!("../migrations/sqlite/0008_webhooks.sql")),
    (9, "connectors", include_str!("../migrations/sqlite/0009_connectors.sql")),
    (10, "sales", include_str!("../migrations/sqlite/0010_sales.sql")),
];

/// A client's `find` (its id and name, case-folded: migration 0005) when it is inserted with the
/// attributes `?2`, and when `?2` is patched into its stored attributes (every expression of an
/// `UPDATE` reads the row as it was).
const FIND_NEW: &str = "allot_fold(?1 || ' ' || coalesce(json_patch('{}', ?2) ->> 'name', ''))";
const FIND_PATCHED: &str = "allot_fold(clients.id || ' ' || coalesce(json_patch(clients.attrs, ?2) ->> 'name', ''))";

/// Frames (pages of 4 KiB) the write-ahead log may grow to before the writer itself checkpoints
/// it, so that it starts over: 64 MiB (see [`Store::checkpoint`]).
pub const WAL_FRAMES_LIMIT: i64 = 16_384;

pub struct SqliteStore {
    conn: Connection,
    /// The connection's settings a bulk write changed and did not set back (its transaction
    /// failed): set back before the connection is used again.
    unsettled: Unsettled,
}

/// `PRAGMA cache_size` and `mmap_size` as they were before a bulk write, while it lasts.
type Unsettled = std::sync::Arc<std::sync::Mutex<Option<(i64, i64)>>>;

fn take_unsettled(u: &Unsettled) -> Option<(i64, i64)> {
    u.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
}

/// Sets the connection's page cache and map back as they were before a bulk write.
fn settle(conn: &Connection, (cache, mapped): (i64, i64)) -> Result<()> {
    conn.pragma_update(None, "cache_size", cache)?;
    conn.pragma_update(None, "mmap_size", mapped)?;
    Ok(())
}

impl SqliteStore {
    /// Opens the file, creating and migrating it on first use.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let url = format!("sqlite:{}", path.display());
        let fail = |e: rusqlite::Error| StoreError::Open { url: url.clone(), message: e.to_string() };
        let mut conn = Connection::open(path).map_err(fail)?;
        // WAL: readers never block the writer; FULL: a commit is on disk when it returns.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(fail)?;
        // Reads map the file instead of copying it page by page (a plan reads all of it).
        conn.pragma_update(None, "mmap_size", 1i64 << 32).map_err(fail)?;
        // Checkpoint the WAL every ~16 MB rather than every 4 MB: fewer syncs of the main file
        // under a stream of small commits (routing), same durability.
        conn.pragma_update(None, "wal_autocheckpoint", 4_000).map_err(fail)?;
        // After a checkpoint starts the log over, the file is cut back to this size.
        conn.pragma_update(None, "journal_size_limit", WAL_FRAMES_LIMIT * 4096).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(fail)?;
        // Unicode case folding for the search column `clients.find` (SQLite's own `lower` folds
        // ASCII only): the statements that write a client, and migration 0005.
        conn.create_scalar_function(
            "allot_fold",
            1,
            rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| Ok(ctx.get::<Option<String>>(0)?.map(|s| s.to_lowercase())),
        )
        .map_err(fail)?;
        migrate(&mut conn).map_err(|e| StoreError::Open { url: url.clone(), message: e.to_string() })?;
        Ok(SqliteStore { conn, unsettled: Unsettled::default() })
    }

    /// Sets back what a failed bulk write left changed.
    fn settled(&mut self) -> Result<()> {
        match take_unsettled(&self.unsettled) {
            Some(before) => settle(&self.conn, before),
            None => Ok(()),
        }
    }

    fn read_snapshot(&mut self, date: Day, what: Reading) -> Result<Snapshot> {
        let _span = tracing::info_span!("snapshot").entered();
        let full = what != Reading::People;
        let d = date.to_string();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let mut s = Snapshot {
            revision: revision_of(&mut Lite(&tx))?,
            date,
            client_columns: shared::columns_of(&mut Lite(&tx), Subject::Client)?,
            deal_columns: shared::columns_of(&mut Lite(&tx), Subject::Deal)?,
            employee_columns: shared::columns_of(&mut Lite(&tx), Subject::Employee)?,
            ..Default::default()
        };
        if full {
            s.clients = stored_rows(&tx, "clients")?;
        }
        s.employees = stored_rows(&tx, "employees")?;
        {
            let mut st = tx.prepare("SELECT key, id, attrs, client FROM deals WHERE ?1 ORDER BY key")?;
            let mut rows = st.query([what == Reading::Everything])?;
            while let Some(r) = rows.next()? {
                s.deals.push(Stored { key: r.get(0)?, id: r.get(1)?, attrs: r.get(2)?, client: Some(r.get(3)?) });
            }
        }
        s.scheme = shared::active_scheme(&mut Lite(&tx))?;
        {
            let mut st = tx.prepare(
                "SELECT id, client, role, employee, valid_from, valid_to, cause, rule, scheme, note, absence FROM links \
                 WHERE ?2 AND (valid_to IS NULL OR ((?1 IS NULL OR valid_to > ?1) AND valid_to > valid_from))",
            )?;
            let mut rows = st.query(params![d, full])?;
            while let Some(r) = rows.next()? {
                s.links.push(Link {
                    id: r.get(0)?,
                    client: r.get(1)?,
                    role: r.get(2)?,
                    employee: r.get(3)?,
                    from: text_day(&r.get::<_, String>(4)?)?,
                    to: opt_day(r.get(5)?)?,
                    cause: Cause::parse(&r.get::<_, String>(6)?)?,
                    rule: r.get(7)?,
                    scheme: r.get(8)?,
                    note: r.get(9)?,
                    absence: r.get(10)?,
                });
            }
            let mut st = tx.prepare(
                "SELECT DISTINCT client, role FROM links WHERE ?2 AND valid_to IS NOT NULL AND valid_to <= ?1 AND valid_to > valid_from \
                 ORDER BY client, role",
            )?;
            let rows = st.query_map(params![d, full], |r| Ok((r.get(0)?, r.get(1)?)))?;
            s.past = rows.collect::<rusqlite::Result<_>>()?;
            let mut st = tx.prepare("SELECT id, client, role, employee, reason FROM pins WHERE unpinned_by IS NULL ORDER BY id")?;
            let rows = st
                .query_map([], |r| Ok(Pin { id: r.get(0)?, client: r.get(1)?, role: r.get(2)?, employee: r.get(3)?, reason: r.get(4)? }))?;
            s.pins = rows.collect::<rusqlite::Result<_>>()?;
            let mut st = tx.prepare("SELECT id, employee, first_day, last_day, cover, applied_by IS NOT NULL FROM absences ORDER BY id")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                s.absences.push(Absence {
                    id: r.get(0)?,
                    employee: r.get(1)?,
                    first: text_day(&r.get::<_, String>(2)?)?,
                    last: text_day(&r.get::<_, String>(3)?)?,
                    cover: r.get(4)?,
                    applied: r.get(5)?,
                });
            }
            let mut st = tx.prepare("SELECT id, employee, left_on, applied_by IS NOT NULL FROM leavers ORDER BY id")?;
            let mut rows = st.query([])?;
            while let Some(r) = rows.next()? {
                s.leavers.push(Leaver { id: r.get(0)?, employee: r.get(1)?, on: text_day(&r.get::<_, String>(2)?)?, applied: r.get(3)? });
            }
        }
        tx.commit()?;
        Ok(s)
    }
}

/// A table's rows in key order.
fn stored_rows<K: rusqlite::types::FromSql>(tx: &Connection, table: &str) -> Result<Vec<Stored<K>>> {
    let mut st = tx.prepare(&format!("SELECT key, id, attrs FROM {table} ORDER BY key"))?;
    let rows = st.query_map([], |r| Ok(Stored { key: r.get(0)?, id: r.get(1)?, attrs: r.get(2)?, client: None }))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    // Up to date (the common case): no write lock, so opening never waits for a writer.
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    let current: Option<i64> = conn.query_row("SELECT coalesce(max(version), 0) FROM allot_migrations", [], |r| r.get(0)).ok();
    if let Some(v) = current.filter(|&v| v > newest) {
        return Err(crate::newer_schema(v, newest));
    }
    if current.is_some_and(|v| v >= newest) {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS allot_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    for &(version, name, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: Option<i64> =
            tx.query_row("SELECT version FROM allot_migrations WHERE version = ?1", [version], |r| r.get(0)).optional()?;
        if done.is_none() {
            tracing::info!(version, name, "migrating the SQLite store");
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO allot_migrations (version, name, applied_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                params![version, name],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

/// A SQLite connection or transaction as [`Db`] (statements prepared once per connection).
pub(crate) struct Lite<'c>(pub(crate) &'c Connection);

impl Db for Lite<'_> {
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        Ok(self.0.prepare_cached(&sqlite_dialect(sql))?.execute(rusqlite::params_from_iter(params))? as u64)
    }
    fn each(&mut self, sql: &str, params: &[Param<'_>], visit: &mut dyn FnMut(&mut SqlRow) -> Result<()>) -> Result<()> {
        let mut st = self.0.prepare_cached(&sqlite_dialect(sql))?;
        let mut rows = st.query(rusqlite::params_from_iter(params))?;
        let mut row = SqlRow(Vec::new());
        while let Some(r) = rows.next()? {
            sqlite_row(r, &mut row)?;
            visit(&mut row)?;
        }
        Ok(())
    }
}

impl Db for Connection {
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        Lite(self).exec(sql, params)
    }
    fn each(&mut self, sql: &str, params: &[Param<'_>], visit: &mut dyn FnMut(&mut SqlRow) -> Result<()>) -> Result<()> {
        Lite(self).each(sql, params, visit)
    }
}

/// A write transaction, with the bulk write an import has begun, and where a bulk write keeps
/// the connection's settings it changed.
struct LiteTx<'c>(Transaction<'c>, Option<Bulk>, Unsettled);

impl Db for LiteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        Lite(&self.0).exec(sql, params)
    }
    fn each(&mut self, sql: &str, params: &[Param<'_>], visit: &mut dyn FnMut(&mut SqlRow) -> Result<()>) -> Result<()> {
        Lite(&self.0).each(sql, params, visit)
    }
}

const OPEN_LINK: &str = "INSERT INTO links (client, role, several, employee, valid_from, valid_to, cause, rule, scheme, note, absence, opened_by, closed_by, client_id) \
     VALUES (?1, ?2, (SELECT several FROM roles WHERE id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, CASE WHEN ?5 IS NULL THEN NULL ELSE ?11 END, \
     (SELECT id FROM clients WHERE key = ?1))";

/// A write of many rows at once (a first plan of a whole book, an import of millions of deals):
/// SQLite's page cache is widened for it, so that its pages stay in memory rather than spilling
/// into the log (where each later read of them searches it), and when the rows added outnumber
/// those held, the table's indexes that only speed up reads are set aside and built again from
/// the whole table at the end — one sort each instead of millions of inserts at random places.
/// Inside the transaction, so nobody sees the table without them; the unique indexes and every
/// constraint are kept and checked row by row.
struct Bulk {
    /// Whether the page cache and the map were changed (what they were is in `unsettled`, so
    /// that a failed transaction's connection is set back before its next use).
    changed: bool,
    unsettled: Unsettled,
    /// The definitions of the indexes set aside.
    indexes: Vec<String>,
}

/// SQLite's page cache for a bulk write: 256 MiB (a negative size is in KiB).
const WIDE_CACHE: i64 = -262_144;

/// Rows written at once from which a write counts as bulk.
const BULK_ROWS: u64 = 50_000;

impl Bulk {
    /// Before `rows` are written into `table`.
    fn begin(tx: &Connection, table: &str, rows: u64, unsettled: &Unsettled) -> Result<Bulk> {
        let mut bulk = Bulk { changed: false, unsettled: unsettled.clone(), indexes: vec![] };
        if rows < BULK_ROWS {
            return Ok(bulk);
        }
        let cache: i64 = tx.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        let mapped: i64 = tx.query_row("PRAGMA mmap_size", [], |r| r.get(0))?;
        *unsettled.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((cache, mapped));
        bulk.changed = true;
        tx.pragma_update(None, "cache_size", WIDE_CACHE)?;
        // Reads through the map look for each page in the log first, and this transaction's log
        // grows by gigabytes: every read would search all of it. Through the cache they do not.
        tx.pragma_update(None, "mmap_size", 0)?;
        let held: i64 = tx.query_row(&format!("SELECT coalesce(max(rowid), 0) FROM {table}"), [], |r| r.get(0))?;
        if rows as i64 > held {
            let mut st = tx.prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL \
                 AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name",
            )?;
            let found: Vec<(String, String)> = st.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
            for (name, sql) in found {
                tx.execute_batch(&format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
                bulk.indexes.push(sql);
            }
        }
        Ok(bulk)
    }

    fn end(self, tx: &Connection) -> Result<()> {
        let _span = tracing::info_span!("rebuild_indexes", indexes = self.indexes.len()).entered();
        for sql in &self.indexes {
            tx.execute_batch(sql)?;
        }
        match take_unsettled(&self.unsettled) {
            Some(before) if self.changed => settle(tx, before),
            _ => Ok(()),
        }
    }
}

/// Writes the clients `keys`, as they are now, into the search's text index (migration 0007):
/// those new since `known` (the greatest key before the write: a new client's key is the next
/// one) in one statement, by range, and those indexed before in one more, replaced.
fn index_text(tx: &rusqlite::Transaction<'_>, keys: &[i64], known: i64) -> Result<()> {
    if keys.iter().any(|&k| k > known) {
        tx.execute("INSERT INTO clients_text (rowid, find) SELECT key, find FROM clients WHERE key > ?1", [known])?;
    }
    let old: Vec<i64> = keys.iter().copied().filter(|&k| k <= known).collect();
    if !old.is_empty() {
        Lite(tx).exec(
            "INSERT OR REPLACE INTO clients_text (rowid, find) SELECT key, find FROM clients WHERE key = ANY($1)",
            &[Param::Ints(&old)],
        )?;
    }
    Ok(())
}

/// The greatest client key so far (0 without clients).
fn last_client_key(tx: &rusqlite::Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row("SELECT coalesce(max(key), 0) FROM clients", [], |r| r.get(0))?)
}

impl Tx for LiteTx<'_> {
    fn commit(self: Box<Self>) -> Result<()> {
        Ok(self.0.commit()?)
    }

    fn stage_rows(&mut self, subject: Subject, rows: &[Row], change: i64, staging: &mut Staging) -> Result<()> {
        let tx = &self.0;
        let table = table_of(subject);
        if !staging.begun {
            staging.known = last_client_key(tx)?;
            self.1 = Some(Bulk::begin(tx, table, staging.expected, &self.2)?);
            staging.begun = true;
        }
        let mut st = match subject {
            Subject::Deal => tx.prepare_cached(
                "INSERT INTO deals (id, client, attrs, imported_by) VALUES (?1, ?2, json_patch('{}', ?3), ?4) \
                 ON CONFLICT (id) DO UPDATE SET client = excluded.client, attrs = json_patch(deals.attrs, ?3), imported_by = ?4 \
                 WHERE deals.client IS NOT excluded.client OR deals.attrs IS NOT json_patch(deals.attrs, ?3)",
            )?,
            Subject::Client => tx.prepare_cached(&format!(
                "INSERT INTO clients (id, attrs, imported_by, find) VALUES (?1, json_patch('{{}}', ?2), ?3, {FIND_NEW}) \
                 ON CONFLICT (id) DO UPDATE SET attrs = json_patch(clients.attrs, ?2), imported_by = ?3, find = {FIND_PATCHED} \
                 WHERE clients.attrs IS NOT json_patch(clients.attrs, ?2) RETURNING key"
            ))?,
            _ => tx.prepare_cached(&format!(
                "INSERT INTO {table} (id, attrs, imported_by) VALUES (?1, json_patch('{{}}', ?2), ?3) \
                 ON CONFLICT (id) DO UPDATE SET attrs = json_patch({table}.attrs, ?2), imported_by = ?3 \
                 WHERE {table}.attrs IS NOT json_patch({table}.attrs, ?2)"
            ))?,
        };
        let mut client = tx.prepare_cached("SELECT key FROM clients WHERE id = ?1")?;
        let mut keys = tx.prepare_cached(
            "INSERT INTO client_keys (kind, value, client) VALUES (?1, ?2, (SELECT key FROM clients WHERE id = ?3)) \
             ON CONFLICT (kind, value) DO UPDATE SET client = excluded.client",
        )?;
        for (i, row) in rows.iter().enumerate() {
            // 1 when the row was inserted or changed, 0 when it was already so.
            let touched = match subject {
                Subject::Deal => {
                    let name = row.client.as_deref().unwrap_or("");
                    match client.query_row([name], |r| r.get::<_, i64>(0)).optional()? {
                        Some(key) => st.execute(params![row.id, key, row.attrs, change])?,
                        None => {
                            // Told at the end, with every other one; the row is not written.
                            staging.unknown(staging.rows + i as u64, name);
                            0
                        }
                    }
                }
                Subject::Client => {
                    let key: Option<i64> = st.query_row(params![row.id, row.attrs, change], |r| r.get(0)).optional()?;
                    staging.written.extend(key);
                    usize::from(key.is_some())
                }
                _ => st.execute(params![row.id, row.attrs, change])?,
            };
            staging.touched += touched as u64;
            for (kind, value) in &row.keys {
                keys.execute(params![kind, value, row.id])?;
            }
        }
        Ok(())
    }

    fn land_rows(&mut self, _subject: Subject, _change: i64, staging: &mut Staging) -> Result<()> {
        if let Some(bulk) = self.1.take() {
            bulk.end(&self.0)?;
        }
        index_text(&self.0, &staging.written, staging.known)
    }

    fn close_links(&mut self, closes: &[Close], change: i64) -> Result<()> {
        let mut st = self.0.prepare_cached(
            "UPDATE links SET valid_to = ?1, closed_by = ?2 WHERE id = ?3 AND valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1)",
        )?;
        for c in closes {
            if st.execute(params![Param::Day(c.at), change, c.link])? != 1 {
                return Err(StoreError::Refused(format!("link {} is not valid on {}: the plan does not fit the store", c.link, c.at)));
            }
        }
        Ok(())
    }

    fn open_links(&mut self, opens: &[Open], change: i64) -> Result<()> {
        let bulk = Bulk::begin(&self.0, "links", opens.len() as u64, &self.2)?;
        let mut st = self.0.prepare_cached(OPEN_LINK)?;
        let inserting = tracing::info_span!("insert_links").entered();
        for o in opens {
            st.execute(params![
                o.client,
                o.role,
                o.employee,
                Param::Day(o.from),
                Param::from(o.to),
                o.cause.as_str(),
                o.rule,
                o.scheme,
                o.note,
                o.absence,
                change
            ])?;
        }
        drop(inserting);
        // The loads' changes (`held_counts`, migration 0005): one row per employee, role and day
        // for the whole batch.
        let mut deltas: std::collections::BTreeMap<(EmployeeKey, &str, Day), i64> = std::collections::BTreeMap::new();
        for o in opens {
            *deltas.entry((o.employee, o.role.as_str(), o.from)).or_default() += 1;
            if let Some(to) = o.to {
                *deltas.entry((o.employee, o.role.as_str(), to)).or_default() -= 1;
            }
        }
        let mut held = self.0.prepare_cached(
            "INSERT INTO held_counts (employee, role, day, delta) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (employee, role, day) DO UPDATE SET delta = delta + excluded.delta",
        )?;
        for ((employee, role, day), delta) in deltas {
            held.execute(params![employee, role, Param::Day(day), delta])?;
        }
        bulk.end(&self.0)
    }

    fn add_clients(&mut self, clients: &[NewClient], change: i64) -> Result<Vec<ClientKey>> {
        let mut add = self.0.prepare_cached(&format!(
            "INSERT INTO clients (id, attrs, imported_by, find) VALUES (?1, ?2, ?3, {FIND_NEW}) \
             ON CONFLICT (id) DO UPDATE SET attrs = json_patch(clients.attrs, ?2), imported_by = ?3, find = {FIND_PATCHED} RETURNING key"
        ))?;
        let mut k = self.0.prepare_cached(
            "INSERT INTO client_keys (kind, value, client) VALUES (?1, ?2, ?3) ON CONFLICT (kind, value) DO UPDATE SET client = excluded.client",
        )?;
        let mut keys = Vec::with_capacity(clients.len());
        let known = last_client_key(&self.0)?;
        for c in clients {
            let key: ClientKey = add.query_row(params![c.id, c.attrs, change], |r| r.get(0))?;
            for (kind, value) in &c.keys {
                k.execute(params![kind, value, key])?;
            }
            keys.push(key);
        }
        index_text(&self.0, &keys.iter().map(|k| k.0).collect::<Vec<_>>(), known)?;
        Ok(keys)
    }

    fn add_deals(&mut self, deals: &[NewDeal], change: i64) -> Result<()> {
        let mut st = self.0.prepare_cached("INSERT INTO deals (id, client, attrs, imported_by) VALUES (?1, ?2, ?3, ?4)")?;
        for d in deals {
            st.execute(params![d.id, d.client, d.attrs, change])?;
        }
        Ok(())
    }

    fn record_routes(&mut self, routed: &[(Option<&str>, &str, ClientKey, &str)], change: i64) -> Result<()> {
        let mut st = self
            .0
            .prepare_cached("INSERT INTO routes (idem_key, request_hash, client, response, routed_by) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for (key, hash, client, response) in routed {
            st.execute(params![key, hash, client, response, change])?;
        }
        Ok(())
    }
}

impl Backend for SqliteStore {
    const NAME: &'static str = "sqlite";

    fn db(&mut self) -> &mut dyn Db {
        if let Err(e) = self.settled() {
            tracing::warn!(error = %e, "the connection's cache could not be set back after a failed bulk write");
        }
        &mut self.conn
    }

    fn write(&mut self) -> Result<Box<dyn Tx + '_>> {
        // IMMEDIATE takes the write lock first, so the revision read inside cannot go stale.
        self.settled()?;
        Ok(Box::new(LiteTx(self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?, None, self.unsettled.clone())))
    }

    fn read(&mut self, date: Day, what: Reading) -> Result<Snapshot> {
        self.settled()?;
        self.read_snapshot(date, what)
    }

    fn writable(&mut self) -> Result<bool> {
        // A file the process may not write is opened read-only by SQLite; a full or read-only file
        // system refuses the write lock.
        Ok(!self.conn.is_readonly(rusqlite::MAIN_DB)? && self.conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK").is_ok())
    }

    fn text_match(&mut self, needle: &str, cap: usize) -> Result<Option<Vec<i64>>> {
        // The trigram index answers three characters or more. It keeps no positions (`detail =
        // none`: a fifth of the time to write), so it is asked for the clients holding every
        // trigram of the text, each a quoted term of its own; `instr` keeps those that hold the
        // text itself.
        let chars: Vec<char> = needle.chars().collect();
        if chars.len() < 3 {
            return Ok(None);
        }
        let mut terms: Vec<String> =
            chars.windows(3).map(|w| format!("\"{}\"", w.iter().collect::<String>().replace('"', "\"\""))).collect();
        terms.sort();
        terms.dedup();
        let mut candidates: Vec<i64> = Vec::new();
        self.conn.each(
            "SELECT rowid FROM clients_text WHERE clients_text MATCH $1 LIMIT $2",
            &[Param::Text(&terms.join(" AND ")), Param::Int(cap as i64 + 1)],
            &mut |r| {
                candidates.push(r.int(0)?);
                Ok(())
            },
        )?;
        // More than the cap: the text is too common for the index to help.
        if candidates.len() > cap {
            return Ok(None);
        }
        let mut found = Vec::with_capacity(candidates.len());
        self.conn.each(
            "SELECT key FROM clients WHERE key = ANY($1) AND strpos(find, $2) > 0",
            &[Param::Ints(&candidates), Param::Text(needle)],
            &mut |r| {
                found.push(r.int(0)?);
                Ok(())
            },
        )?;
        Ok(Some(found))
    }

    fn defer_checkpoints(&mut self) -> Result<()> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<i64> {
        // PASSIVE: copies the frames no reader needs, never waits for (or blocks) the writer.
        Ok(self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?)
    }

    fn read_sales(&mut self, period: &SalesPeriod, visit: &mut SalesVisit<'_>) -> Result<i64> {
        let _span = tracing::info_span!("read_sales").entered();
        let (f, l) = (period.held_from.map(|d| d.to_string()), period.last.to_string());
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let revision = revision_of(&mut Lite(&tx))?;
        {
            let mut st = tx.prepare(
                "SELECT client, role, employee, valid_from, valid_to FROM links \
                 WHERE valid_from <= ?2 AND (valid_to IS NULL OR ((?1 IS NULL OR valid_to > ?1) AND valid_to > valid_from))",
            )?;
            let mut rows = st.query(params![f, l])?;
            while let Some(r) = rows.next()? {
                visit(SalesRow::Link(LinkSpan {
                    client: r.get(0)?,
                    role: r.get(1)?,
                    employee: r.get(2)?,
                    from: text_day(text(r, 3)?)?,
                    to: r.get_ref(4)?.as_str_or_null().map_err(rusqlite::Error::from)?.map(text_day).transpose()?,
                }));
            }
            // The changes that routed (few beside millions of deals): a set, not a join per deal.
            let mut st = tx.prepare("SELECT id FROM changes WHERE kind = 'route'")?;
            let routes: std::collections::HashSet<i64> = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
            // The deals dated in the period and those without a date (listed as not credited),
            // in the order of their keys. A narrow period (a quarter of years) is found by the
            // sale dates' index and sorted; one that holds most deals is read straight through.
            let (from, to) = (period.first.to_string(), l.clone());
            let dated: i64 = tx.query_row(
                "SELECT count(*) FROM deals INDEXED BY deals_by_date WHERE sold_on BETWEEN ?1 AND ?2",
                params![from, to],
                |r| r.get(0),
            )?;
            let all: i64 = tx.query_row("SELECT coalesce(max(key), 0) FROM deals", [], |r| r.get(0))?;
            let by = if dated.saturating_mul(SCAN_SHARE) < all { "INDEXED BY deals_by_date" } else { "NOT INDEXED" };
            let mut st = tx.prepare(&format!(
                "SELECT id, client, attrs, imported_by FROM deals {by} \
                 WHERE sold_on BETWEEN ?1 AND ?2 OR sold_on IS NULL ORDER BY key"
            ))?;
            let mut rows = st.query(params![from, to])?;
            while let Some(r) = rows.next()? {
                let routed = routes.contains(&r.get::<_, i64>(3)?);
                visit(SalesRow::Deal { id: text(r, 0)?, client: r.get(1)?, attrs: text(r, 2)?, routed });
            }
        }
        tx.commit()?;
        Ok(revision)
    }
}

/// A period whose deals are fewer than 1/`SCAN_SHARE` of the store's is read by the sale dates'
/// index; a longer one by the table in key order.
const SCAN_SHARE: i64 = 4;

/// A text cell, borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    Ok(r.get_ref(i)?.as_str()?)
}

fn opt_day(s: Option<String>) -> Result<Option<Day>> {
    s.as_deref().map(text_day).transpose()
}

/// What a backup holds: its change log's revision and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backed {
    pub revision: i64,
    pub bytes: u64,
}

/// Copies the store at `from` to a new file `to` with SQLite's online backup API, in one step: one
/// read of a consistent state while a server goes on writing (WAL readers block no writer). The
/// copy is made beside `to` and moved into place only when whole and checked (`integrity_check`);
/// an existing `to` is refused.
pub fn backup(from: &Path, to: &Path) -> Result<Backed> {
    if to.exists() {
        return Err(StoreError::Refused(format!("{} exists already: name a new file for the backup", to.display())));
    }
    let source = SqliteStore::open(from)?;
    let partial = to.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let result = (|| -> Result<Backed> {
        let mut copy = Connection::open(&partial)?;
        {
            let b = rusqlite::backup::Backup::new(&source.conn, &mut copy)?;
            // Every page in one step (-1): one read transaction, one state. A moment's lock is
            // waited out, a bounded number of times.
            let mut tries = 0;
            loop {
                match b.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    rusqlite::backup::StepResult::More => {}
                    _ if tries < 600 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    _ => return Err(StoreError::Refused("the store stayed locked for 30 s: try the backup again".into())),
                }
            }
        }
        check_copy(&copy)
    })();
    match result {
        Ok(backed) => {
            std::fs::rename(&partial, to).map_err(|e| StoreError::Refused(format!("cannot move the backup to {}: {e}", to.display())))?;
            Ok(Backed { bytes: std::fs::metadata(to).map(|m| m.len()).unwrap_or(backed.bytes), ..backed })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Whether a copied store is whole and allot's: its integrity and its revision.
fn check_copy(conn: &Connection) -> Result<Backed> {
    let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if ok != "ok" {
        return Err(StoreError::Refused(format!("the copy is damaged: {ok}")));
    }
    let revision: i64 = conn
        .query_row("SELECT coalesce(max(id), 0) FROM changes", [], |r| r.get(0))
        .map_err(|_| StoreError::Refused("the file is not an allot store (it has no change log)".into()))?;
    Ok(Backed { revision, bytes: 0 })
}

/// Restores backup `from` as the store `to`: checked first (whole, an allot store), copied beside
/// `to` and moved into place in one step. An existing `to` is replaced only with `replace` (no
/// server may be using it then: stop `allot serve` first).
pub fn restore(from: &Path, to: &Path, replace: bool) -> Result<Backed> {
    if to.exists() && !replace {
        return Err(StoreError::Refused(format!(
            "{} exists: restoring replaces it — stop every server using it and give --replace",
            to.display()
        )));
    }
    let backed = {
        let conn = Connection::open_with_flags(from, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::Open { url: format!("sqlite:{}", from.display()), message: e.to_string() })?;
        check_copy(&conn)?
    };
    let partial = to.with_extension("restoring");
    std::fs::copy(from, &partial)
        .map_err(|e| StoreError::Refused(format!("cannot copy {} beside {}: {e}", from.display(), to.display())))?;
    // The old store's log belongs to the old file: gone with it.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
    }
    std::fs::rename(&partial, to).map_err(|e| StoreError::Refused(format!("cannot move the copy to {}: {e}", to.display())))?;
    // Opened once: migrated if the backup is older than this allot.
    SqliteStore::open(to)?;
    Ok(Backed { bytes: std::fs::metadata(to).map(|m| m.len()).unwrap_or(0), ..backed })
}
