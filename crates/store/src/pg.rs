//! The production store: PostgreSQL through the synchronous `postgres` client. What is written here
//! is what PostgreSQL does otherwise than SQLite: connecting and migrating, its write lock, and the
//! bulk paths, which bind whole columns as arrays (`unnest`), so a million rows are a few hundred
//! statements; the rest is `shared.rs`.

use std::collections::{BTreeMap, HashMap};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, IsolationLevel, NoTls, Statement, Transaction};

use crate::shared::{revision_of, table_of, Backend, Staging, Tx};
use crate::sql::{pg_row, Db, Param, SqlRow};
use crate::*;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "book", include_str!("../migrations/postgres/0001_book.sql")),
    (2, "routing", include_str!("../migrations/postgres/0002_routing.sql")),
    (3, "operations", include_str!("../migrations/postgres/0003_operations.sql")),
    (4, "people", include_str!("../migrations/postgres/0004_people.sql")),
    (5, "pages", include_str!("../migrations/postgres/0005_pages.sql")),
    (6, "approval", include_str!("../migrations/postgres/0006_approval.sql")),
    (7, "search", include_str!("../migrations/postgres/0007_search.sql")),
    (8, "webhooks", include_str!("../migrations/postgres/0008_webhooks.sql")),
    (9, "connectors", include_str!("../migrations/postgres/0009_connectors.sql")),
    (10, "sales", include_str!("../migrations/postgres/0010_sales.sql")),
];

/// Every write transaction starts so. One writer at a time: the revision read next cannot go
/// stale (readers are not blocked). Bulk statements join arrays of unknown length to large
/// tables; without this the planner hashes the whole table for a few rows.
const WRITE_SETUP: &str = "LOCK TABLE changes IN EXCLUSIVE MODE; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off";

/// Rows per bulk statement.
const CHUNK: usize = 20_000;

pub struct PgStore {
    client: Client,
    /// The written-once statements, prepared once per connection (one round trip each use, not two).
    statements: HashMap<String, Statement>,
    /// Whether the store has the search's trigram index (migration 0007: only where `pg_trgm`
    /// could be created).
    text_index: bool,
}

impl PgStore {
    /// Connects and migrates. `schema`, when given, is created if needed and used instead of the
    /// default search path (tests give each run its own).
    pub fn connect(url: &str, schema: Option<&str>) -> Result<PgStore> {
        let fail = |e: postgres::Error| StoreError::Open { url: redact(url), message: StoreError::from(e).to_string() };
        let mut client = Client::connect(url, NoTls).map_err(fail)?;
        if let Some(s) = schema {
            let q = quote_ident(s);
            client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {q}; SET search_path TO {q}")).map_err(fail)?;
        }
        migrate(&mut client).map_err(|e| StoreError::Open { url: redact(url), message: e.to_string() })?;
        let text_index = client.query_one("SELECT to_regclass('clients_text') IS NOT NULL", &[]).map_err(fail)?.get(0);
        Ok(PgStore { client, statements: HashMap::new(), text_index })
    }

    fn read_snapshot(&mut self, date: Day, what: Reading) -> Result<Snapshot> {
        let _span = tracing::info_span!("snapshot").entered();
        let full = what != Reading::People;
        let d = date.to_string();
        let tx = self.client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let mut db = PgTx { tx, statements: &mut self.statements };
        let mut s = Snapshot {
            revision: revision_of(&mut db)?,
            date,
            client_columns: shared::columns_of(&mut db, Subject::Client)?,
            deal_columns: shared::columns_of(&mut db, Subject::Deal)?,
            employee_columns: shared::columns_of(&mut db, Subject::Employee)?,
            scheme: shared::active_scheme(&mut db)?,
            ..Default::default()
        };
        if full {
            s.clients = stored_rows(&mut db.tx, "clients")?;
        }
        s.employees = stored_rows(&mut db.tx, "employees")?;
        let deals = what == Reading::Everything;
        for r in if deals { db.tx.query("SELECT key, id, attrs::text, client FROM deals ORDER BY key", &[])? } else { vec![] } {
            s.deals.push(Stored { key: r.get(0), id: r.get(1), attrs: r.get(2), client: Some(r.get(3)) });
        }
        // Streamed row by row, in no particular order (the plan indexes them itself).
        let mut rows = db.tx.query_raw(
            "SELECT id, client, role, employee, valid_from::text, valid_to::text, cause, rule, scheme, note, absence \
             FROM links WHERE $2 AND (valid_to IS NULL OR (($1::text IS NULL OR valid_to > $1::text::date) AND valid_to > valid_from))",
            [&d as &(dyn postgres::types::ToSql + Sync), &full],
        )?;
        while let Some(r) = rows.next()? {
            s.links.push(Link {
                id: r.get(0),
                client: r.get(1),
                role: r.get(2),
                employee: r.get(3),
                from: text_day(r.get::<_, &str>(4))?,
                to: opt_day(r.get(5))?,
                cause: Cause::parse(r.get(6))?,
                rule: r.get(7),
                scheme: r.get(8),
                note: r.get(9),
                absence: r.get(10),
            });
        }
        drop(rows);
        s.past = db
            .tx
            .query(
                "SELECT DISTINCT client, role FROM links WHERE $2 AND valid_to IS NOT NULL AND valid_to <= $1::text::date AND valid_to > valid_from \
                 ORDER BY client, role",
                &[&d, &full],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        s.pins = db
            .tx
            .query("SELECT id, client, role, employee, reason FROM pins WHERE unpinned_by IS NULL ORDER BY id", &[])?
            .iter()
            .map(|r| Pin { id: r.get(0), client: r.get(1), role: r.get(2), employee: r.get(3), reason: r.get(4) })
            .collect();
        for r in db.tx.query(
            "SELECT id, employee, to_char(first_day, 'YYYY-MM-DD'), to_char(last_day, 'YYYY-MM-DD'), cover, applied_by IS NOT NULL \
             FROM absences ORDER BY id",
            &[],
        )? {
            s.absences.push(Absence {
                id: r.get(0),
                employee: r.get(1),
                first: text_day(r.get::<_, &str>(2))?,
                last: text_day(r.get::<_, &str>(3))?,
                cover: r.get(4),
                applied: r.get(5),
            });
        }
        for r in db.tx.query("SELECT id, employee, to_char(left_on, 'YYYY-MM-DD'), applied_by IS NOT NULL FROM leavers ORDER BY id", &[])? {
            s.leavers.push(Leaver { id: r.get(0), employee: r.get(1), on: text_day(r.get::<_, &str>(2))?, applied: r.get(3) });
        }
        db.tx.commit()?;
        Ok(s)
    }
}

/// A table's rows in key order: a sequential scan, sorted here (cheaper than the server's sort or
/// index walk).
fn stored_rows<K: for<'a> postgres::types::FromSql<'a> + Ord + Copy>(tx: &mut Transaction<'_>, table: &str) -> Result<Vec<Stored<K>>> {
    let mut out = Vec::new();
    let mut rows = tx.query_raw(&format!("SELECT key, id, attrs::text FROM {table}"), std::iter::empty::<i64>())?;
    while let Some(r) = rows.next()? {
        out.push(Stored { key: r.get(0), id: r.get(1), attrs: r.get(2), client: None });
    }
    drop(rows);
    if !out.is_sorted_by_key(|c| c.key) {
        out.sort_unstable_by_key(|c| c.key);
    }
    Ok(out)
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn migrate(client: &mut Client) -> Result<()> {
    // The common case, up to date, costs one round trip and takes no lock. Dates are read as
    // ISO text, whatever the server's default style.
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    let probe = client.simple_query("SET DateStyle TO ISO; SELECT coalesce(max(version), 0) FROM allot_migrations");
    let current = match probe {
        Ok(msgs) => msgs.iter().find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse::<i64>().ok()),
            _ => None,
        }),
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(v) = current.filter(|&v| v > newest) {
        return Err(crate::newer_schema(v, newest));
    }
    if current.is_some_and(|v| v >= newest) {
        return Ok(());
    }
    client.batch_execute("SET DateStyle TO ISO")?;
    let mut tx = client.transaction()?;
    // Two processes starting at once migrate one after the other.
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(7469120386); \
         CREATE TABLE IF NOT EXISTS allot_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    for &(version, name, sql) in MIGRATIONS {
        if tx.query_opt("SELECT version FROM allot_migrations WHERE version = $1", &[&version])?.is_none() {
            tracing::info!(version, name, "migrating the PostgreSQL store");
            tx.batch_execute(sql)?;
            tx.execute("INSERT INTO allot_migrations (version, name) VALUES ($1, $2)", &[&version, &name])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A write of many rows into a table that holds fewer (the first plan of a whole book): the
/// table's foreign keys and the indexes that only speed up reads are set aside inside the
/// transaction and made again at its end, so that each key is checked once for the whole table
/// (one join) rather than by a trigger per row, and each index is built by one sort. The unique
/// indexes stay. The table is locked for the transaction (`ALTER TABLE`): readers wait for it.
struct PgBulk {
    table: &'static str,
    /// (name, definition) of the foreign keys set aside.
    keys: Vec<(String, String)>,
    /// Definitions of the indexes set aside.
    indexes: Vec<String>,
}

/// Rows written at once from which a write counts as bulk.
const PG_BULK_ROWS: u64 = 50_000;

impl PgBulk {
    fn begin(tx: &mut Transaction<'_>, table: &'static str, rows: u64) -> Result<PgBulk> {
        let mut bulk = PgBulk { table, keys: vec![], indexes: vec![] };
        if rows < PG_BULK_ROWS {
            return Ok(bulk);
        }
        // The planner's estimate (kept by ANALYZE after each bulk apply) is enough to tell a first
        // plan of a whole book from a later one.
        let held: f32 = tx.query_one("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::text::regclass", &[&table])?.get(0);
        if rows as f32 <= held {
            return Ok(bulk);
        }
        let keys = tx.query(
            "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::text::regclass AND contype = 'f' ORDER BY conname",
            &[&table],
        )?;
        for k in keys {
            let (name, def): (String, String) = (k.get(0), k.get(1));
            tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT {}", quote_ident(&name)))?;
            bulk.keys.push((name, def));
        }
        let indexes = tx.query(
            "SELECT i.relname::text, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indrelid = $1::text::regclass AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.relname",
            &[&table],
        )?;
        for i in indexes {
            let (name, def): (String, String) = (i.get(0), i.get(1));
            tx.batch_execute(&format!("DROP INDEX {}", quote_ident(&name)))?;
            bulk.indexes.push(def);
        }
        Ok(bulk)
    }

    fn end(self, tx: &mut Transaction<'_>) -> Result<()> {
        if self.keys.is_empty() && self.indexes.is_empty() {
            return Ok(());
        }
        tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")?;
        for def in &self.indexes {
            tx.batch_execute(def)?;
        }
        for (name, def) in &self.keys {
            // Added back valid: PostgreSQL checks every row against the referenced table at once.
            tx.batch_execute(&format!("ALTER TABLE {} ADD CONSTRAINT {} {def}", self.table, quote_ident(name))).map_err(|e| {
                match e.code() {
                    Some(c) if *c == postgres::error::SqlState::FOREIGN_KEY_VIOLATION => {
                        StoreError::Refused("a link of the plan names something the store does not know".into())
                    }
                    _ => StoreError::from(e),
                }
            })?;
        }
        Ok(())
    }
}

/// A PostgreSQL transaction as [`Db`], with the connection's prepared statements.
pub(crate) struct PgTx<'c> {
    tx: Transaction<'c>,
    statements: &'c mut HashMap<String, Statement>,
}

fn prepared(client: &mut impl postgres::GenericClient, statements: &mut HashMap<String, Statement>, sql: &str) -> Result<Statement> {
    if let Some(s) = statements.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql)?;
    statements.insert(sql.to_string(), s.clone());
    Ok(s)
}

fn bind<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

/// Rows as the server sends them, one at a time.
fn stream(mut rows: postgres::RowIter<'_>, visit: &mut dyn FnMut(&mut SqlRow) -> Result<()>) -> Result<()> {
    let mut row = SqlRow(Vec::new());
    while let Some(r) = rows.next()? {
        pg_row(&r, &mut row)?;
        visit(&mut row)?;
    }
    Ok(())
}

impl Db for PgTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let st = prepared(&mut self.tx, self.statements, sql)?;
        Ok(self.tx.execute(&st, &bind(params))?)
    }
    fn each(&mut self, sql: &str, params: &[Param<'_>], visit: &mut dyn FnMut(&mut SqlRow) -> Result<()>) -> Result<()> {
        let st = prepared(&mut self.tx, self.statements, sql)?;
        stream(self.tx.query_raw(&st, bind(params))?, visit)
    }
}

impl Db for PgStore {
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let st = prepared(&mut self.client, &mut self.statements, sql)?;
        Ok(self.client.execute(&st, &bind(params))?)
    }
    fn each(&mut self, sql: &str, params: &[Param<'_>], visit: &mut dyn FnMut(&mut SqlRow) -> Result<()>) -> Result<()> {
        let st = prepared(&mut self.client, &mut self.statements, sql)?;
        stream(self.client.query_raw(&st, bind(params))?, visit)
    }
}

impl Tx for PgTx<'_> {
    fn commit(self: Box<Self>) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    fn stage_rows(&mut self, _subject: Subject, rows: &[Row], _change: i64, staging: &mut Staging) -> Result<()> {
        use postgres::types::Type;
        let tx = &mut self.tx;
        if !staging.begun {
            // Dropped with the transaction, committed or not; never in the statement cache.
            tx.batch_execute(
                "CREATE TEMP TABLE allot_staged (n BIGINT NOT NULL, id TEXT NOT NULL, client TEXT, attrs TEXT NOT NULL) ON COMMIT DROP; \
                 CREATE TEMP TABLE allot_staged_keys (n BIGINT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL) ON COMMIT DROP",
            )?;
            staging.begun = true;
        }
        let _span = tracing::info_span!("copy", rows = rows.len()).entered();
        let copy = tx.copy_in("COPY allot_staged (n, id, client, attrs) FROM STDIN (FORMAT binary)")?;
        let mut w = postgres::binary_copy::BinaryCopyInWriter::new(copy, &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT]);
        for (i, r) in rows.iter().enumerate() {
            let n = (staging.rows + i as u64) as i64;
            w.write(&[&n, &r.id, &r.client, &r.attrs])?;
        }
        w.finish()?;
        if rows.iter().any(|r| !r.keys.is_empty()) {
            let copy = tx.copy_in("COPY allot_staged_keys (n, id, kind, value) FROM STDIN (FORMAT binary)")?;
            let mut w = postgres::binary_copy::BinaryCopyInWriter::new(copy, &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT]);
            for (i, r) in rows.iter().enumerate() {
                let n = (staging.rows + i as u64) as i64;
                for (kind, value) in &r.keys {
                    w.write(&[&n, &r.id, kind, value])?;
                }
            }
            w.finish()?;
        }
        Ok(())
    }

    fn unknown_clients(&mut self, staging: &mut Staging) -> Result<()> {
        if !staging.begun {
            return Ok(());
        }
        let unknown = self.tx.query(
            "SELECT s.n, s.client FROM allot_staged s WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = s.client) \
             ORDER BY s.n LIMIT $1",
            &[&(UNKNOWN_CLIENTS_LISTED as i64)],
        )?;
        for r in unknown {
            staging.unknown(r.get::<_, i64>(0) as u64, r.get::<_, Option<&str>>(1).unwrap_or(""));
        }
        Ok(())
    }

    fn land_rows(&mut self, subject: Subject, change: i64, staging: &mut Staging) -> Result<()> {
        if !staging.begun {
            return Ok(());
        }
        let tx = &mut self.tx;
        // Statistics of the staged rows, so that the merge joins them by hash, not row by row.
        tx.batch_execute("ANALYZE allot_staged")?;
        let table = table_of(subject);
        // Writers are serialised (see `write`), so merging with the stored attributes read here
        // cannot lose a concurrent update. The file's ids are unique (checked before).
        let sql = match subject {
            Subject::Deal => "INSERT INTO deals (id, client, attrs, imported_by) \
                 SELECT u.id, c.key, jsonb_strip_nulls(coalesce(d.attrs, '{}'::jsonb) || u.attrs::jsonb), $1 \
                 FROM allot_staged u JOIN clients c ON c.id = u.client LEFT JOIN deals d ON d.id = u.id \
                 ON CONFLICT (id) DO UPDATE SET client = EXCLUDED.client, attrs = EXCLUDED.attrs, imported_by = EXCLUDED.imported_by \
                 WHERE deals.client IS DISTINCT FROM EXCLUDED.client OR deals.attrs IS DISTINCT FROM EXCLUDED.attrs"
                .to_string(),
            _ => format!(
                "INSERT INTO {table} (id, attrs, imported_by) \
                 SELECT u.id, jsonb_strip_nulls(coalesce(t.attrs, '{{}}'::jsonb) || u.attrs::jsonb), $1 \
                 FROM allot_staged u LEFT JOIN {table} t ON t.id = u.id \
                 ON CONFLICT (id) DO UPDATE SET attrs = EXCLUDED.attrs, imported_by = EXCLUDED.imported_by \
                 WHERE {table}.attrs IS DISTINCT FROM EXCLUDED.attrs"
            ),
        };
        // Many rows into a table holding fewer: its foreign keys and read indexes (the clients'
        // trigram index above all) are made again once, after the merge.
        let bulk = PgBulk::begin(tx, table, staging.rows)?;
        // Rows inserted or changed; a row already so is not counted.
        staging.touched += tracing::info_span!("merge").in_scope(|| tx.execute(sql.as_str(), &[&change]))?;
        tracing::info_span!("rebuild").in_scope(|| bulk.end(tx))?;
        if subject == Subject::Client {
            // The last row to name a key wins it.
            tx.execute(
                "INSERT INTO client_keys (kind, value, client) \
                 SELECT DISTINCT ON (u.kind, u.value) u.kind, u.value, c.key FROM allot_staged_keys u \
                 JOIN clients c ON c.id = u.id ORDER BY u.kind, u.value, u.n DESC \
                 ON CONFLICT (kind, value) DO UPDATE SET client = EXCLUDED.client",
                &[],
            )?;
        }
        Ok(())
    }

    fn close_links(&mut self, closes: &[Close], change: i64) -> Result<()> {
        // Closes by day (a plan has one or two): `id = ANY(…)` walks the primary key, whatever the
        // planner believes about the table's size.
        let close = prepared(
            &mut self.tx,
            self.statements,
            "UPDATE links SET valid_to = $2, closed_by = $3 \
             WHERE id = ANY($1) AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2)",
        )?;
        let mut by_day: BTreeMap<Day, Vec<i64>> = BTreeMap::new();
        for c in closes {
            by_day.entry(c.at).or_default().push(c.link.0);
        }
        for (&day, ids) in &by_day {
            for chunk in ids.chunks(CHUNK) {
                let n = self.tx.execute(&close, &bind(&[Param::Ints(chunk), Param::Day(day), Param::Int(change)]))?;
                if n != chunk.len() as u64 {
                    return Err(StoreError::Refused(format!(
                        "{} of the plan's links are not valid on {day}: the plan does not fit the store",
                        chunk.len() as u64 - n
                    )));
                }
            }
        }
        Ok(())
    }

    fn open_links(&mut self, opens: &[Open], change: i64) -> Result<()> {
        let bulk = PgBulk::begin(&mut self.tx, "links", opens.len() as u64)?;
        let open = prepared(
            &mut self.tx,
            self.statements,
            "INSERT INTO links (client, role, several, employee, valid_from, valid_to, cause, rule, scheme, note, absence, opened_by, closed_by, client_id) \
             SELECT u.client, u.role, r.several, u.employee, u.f::date, u.t::date, u.cause, u.rule, u.scheme, u.note, u.absence, $11, \
             CASE WHEN u.t IS NULL THEN NULL ELSE $11::bigint END, c.id \
             FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::bigint[]) \
             AS u(client, role, employee, f, t, cause, rule, scheme, note, absence) JOIN roles r ON r.id = u.role JOIN clients c ON c.key = u.client",
        )?;
        for chunk in opens.chunks(CHUNK) {
            let client: Vec<i64> = chunk.iter().map(|o| o.client.0).collect();
            let role: Vec<&str> = chunk.iter().map(|o| o.role.as_str()).collect();
            let employee: Vec<i64> = chunk.iter().map(|o| o.employee.0).collect();
            let from: Vec<String> = chunk.iter().map(|o| o.from.to_string()).collect();
            let to: Vec<Option<String>> = chunk.iter().map(|o| o.to.map(|d| d.to_string())).collect();
            let cause: Vec<&str> = chunk.iter().map(|o| o.cause.as_str()).collect();
            let rule: Vec<Option<&str>> = chunk.iter().map(|o| o.rule.as_deref()).collect();
            let scheme: Vec<Option<i64>> = chunk.iter().map(|o| o.scheme).collect();
            let note: Vec<&str> = chunk.iter().map(|o| o.note.as_str()).collect();
            let absence: Vec<Option<i64>> = chunk.iter().map(|o| o.absence).collect();
            let n = self.tx.execute(&open, &[&client, &role, &employee, &from, &to, &cause, &rule, &scheme, &note, &absence, &change])?;
            if n != chunk.len() as u64 {
                return Err(StoreError::Refused("a link of the plan names a role or a client the store does not know".into()));
            }
        }
        bulk.end(&mut self.tx)
    }

    fn add_clients(&mut self, clients: &[NewClient], change: i64) -> Result<Vec<ClientKey>> {
        let ids: Vec<&str> = clients.iter().map(|c| c.id.as_str()).collect();
        let attrs: Vec<&str> = clients.iter().map(|c| c.attrs.as_str()).collect();
        let st = prepared(
            &mut self.tx,
            self.statements,
            "INSERT INTO clients (id, attrs, imported_by) \
             SELECT u.id, jsonb_strip_nulls(coalesce(t.attrs, '{}'::jsonb) || u.attrs::jsonb), $3 \
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(id, attrs, n) LEFT JOIN clients t ON t.id = u.id ORDER BY u.n \
             ON CONFLICT (id) DO UPDATE SET attrs = EXCLUDED.attrs, imported_by = EXCLUDED.imported_by RETURNING id, key",
        )?;
        let rows = self.tx.query(&st, &[&ids, &attrs, &change])?;
        let by_id: HashMap<String, ClientKey> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let keys = clients
            .iter()
            .map(|c| by_id.get(&c.id).copied().ok_or_else(|| StoreError::Db(format!("client `{}` was not written", c.id))))
            .collect::<Result<Vec<ClientKey>>>()?;
        let (mut kinds, mut values, mut owners) = (Vec::new(), Vec::new(), Vec::new());
        for (c, key) in clients.iter().zip(&keys) {
            for (k, v) in &c.keys {
                kinds.push(k.as_str());
                values.push(v.as_str());
                owners.push(*key);
            }
        }
        if !kinds.is_empty() {
            let st = prepared(
                &mut self.tx,
                self.statements,
                "INSERT INTO client_keys (kind, value, client) \
                 SELECT DISTINCT ON (kind, value) kind, value, client FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS u(kind, value, client, n) \
                 ORDER BY kind, value, n DESC \
                 ON CONFLICT (kind, value) DO UPDATE SET client = EXCLUDED.client",
            )?;
            self.tx.execute(&st, &[&kinds, &values, &owners])?;
        }
        Ok(keys)
    }

    fn add_deals(&mut self, deals: &[NewDeal], change: i64) -> Result<()> {
        let ids: Vec<&str> = deals.iter().map(|d| d.id.as_str()).collect();
        let clients: Vec<i64> = deals.iter().map(|d| d.client.0).collect();
        let attrs: Vec<&str> = deals.iter().map(|d| d.attrs.as_str()).collect();
        let st = prepared(
            &mut self.tx,
            self.statements,
            "INSERT INTO deals (id, client, attrs, imported_by) SELECT u.id, u.client, u.attrs::jsonb, $4 \
             FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(id, client, attrs)",
        )?;
        self.tx.execute(&st, &[&ids, &clients, &attrs, &change])?;
        Ok(())
    }

    fn record_routes(&mut self, routed: &[(Option<&str>, &str, ClientKey, &str)], change: i64) -> Result<()> {
        let key: Vec<Option<&str>> = routed.iter().map(|r| r.0).collect();
        let hash: Vec<&str> = routed.iter().map(|r| r.1).collect();
        let client: Vec<i64> = routed.iter().map(|r| r.2 .0).collect();
        let response: Vec<&str> = routed.iter().map(|r| r.3).collect();
        let st = prepared(
            &mut self.tx,
            self.statements,
            "INSERT INTO routes (idem_key, request_hash, client, response, routed_by) \
             SELECT k, h, c, r, $5 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS u(k, h, c, r)",
        )?;
        self.tx.execute(&st, &[&key, &hash, &client, &response, &change])?;
        Ok(())
    }
}

impl Backend for PgStore {
    const NAME: &'static str = "postgres";

    fn db(&mut self) -> &mut dyn Db {
        self
    }

    fn write(&mut self) -> Result<Box<dyn Tx + '_>> {
        let mut tx = self.client.transaction()?;
        tx.batch_execute(WRITE_SETUP)?;
        Ok(Box::new(PgTx { tx, statements: &mut self.statements }))
    }

    fn read(&mut self, date: Day, what: Reading) -> Result<Snapshot> {
        self.read_snapshot(date, what)
    }

    fn writable(&mut self) -> Result<bool> {
        // A standby, or a session whose transactions default to read-only, refuses every write.
        let r = self.client.query_one("SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'", &[])?;
        let (standby, read_only): (bool, bool) = (r.get(0), r.get(1));
        Ok(!standby && !read_only)
    }

    fn text_match(&mut self, needle: &str, cap: usize) -> Result<Option<Vec<i64>>> {
        // Trigrams answer three characters or more. The index is asked for the clients (a bitmap
        // of the matching ones, then those rows): without it, a `LIMIT` could tempt the planner
        // into reading the table from the start, hoping for early matches.
        if !self.text_index || needle.chars().count() < 3 {
            return Ok(None);
        }
        let mut pattern = String::with_capacity(needle.len() + 2);
        pattern.push('%');
        for c in needle.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let mut tx = self.client.build_transaction().read_only(true).start()?;
        tx.batch_execute("SET LOCAL enable_seqscan = off")?;
        let keys: Vec<i64> = tx
            .query("SELECT key FROM clients WHERE find LIKE $1 LIMIT $2", &[&pattern, &(cap as i64 + 1)])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.commit()?;
        Ok((keys.len() <= cap).then_some(keys))
    }

    fn after_apply(&mut self, rows: usize) -> Result<()> {
        if rows > 100_000 {
            // Fresh statistics after a bulk change keep the planner on the indexes.
            self.client.batch_execute("ANALYZE links")?;
        }
        Ok(())
    }

    fn read_sales(&mut self, period: &SalesPeriod, visit: &mut SalesVisit<'_>) -> Result<i64> {
        let _span = tracing::info_span!("read_sales").entered();
        let (f, l) = (period.held_from.map(|d| d.to_string()), period.last.to_string());
        let mut tx = self.client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
        let revision: i64 = tx.query_one("SELECT coalesce(max(id), 0) FROM changes", &[])?.get(0);
        let mut rows = tx.query_raw(
            "SELECT client, role, employee, to_char(valid_from, 'YYYY-MM-DD'), to_char(valid_to, 'YYYY-MM-DD') FROM links \
             WHERE valid_from <= $2::text::date AND (valid_to IS NULL OR (($1::text IS NULL OR valid_to > $1::text::date) AND valid_to > valid_from))",
            [&f as &(dyn postgres::types::ToSql + Sync), &l],
        )?;
        while let Some(r) = rows.next()? {
            visit(SalesRow::Link(LinkSpan {
                client: r.get(0),
                role: r.get(1),
                employee: r.get(2),
                from: text_day(r.get::<_, &str>(3))?,
                to: r.get::<_, Option<&str>>(4).map(text_day).transpose()?,
            }));
        }
        drop(rows);
        // The changes that routed (few beside millions of deals): a set, not a join per deal.
        let routes: std::collections::HashSet<i64> =
            tx.query("SELECT id FROM changes WHERE kind = 'route'", &[])?.iter().map(|r| r.get(0)).collect();
        // The deals dated in the period and those without a date (listed as not credited), in
        // the order of their keys; the planner weighs the sale dates' index against a scan.
        let first = period.first.to_string();
        let mut rows = tx.query_raw(
            "SELECT id, client, attrs::text, imported_by FROM deals \
             WHERE sold_on BETWEEN $1::text::date AND $2::text::date OR sold_on IS NULL ORDER BY key",
            [&first as &(dyn postgres::types::ToSql + Sync), &l],
        )?;
        while let Some(r) = rows.next()? {
            let routed = routes.contains(&r.get::<_, i64>(3));
            visit(SalesRow::Deal { id: r.get(0), client: r.get(1), attrs: r.get(2), routed });
        }
        drop(rows);
        tx.commit()?;
        Ok(revision)
    }
}

fn opt_day(s: Option<String>) -> Result<Option<Day>> {
    s.as_deref().map(text_day).transpose()
}
