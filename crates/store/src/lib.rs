//! Responsibility kept on disk: clients, employees and deals as imported, every scheme version,
//! and every (client, role, employee) link with the dates it was valid, its cause and the change
//! that made it (S1.1–S1.3: responsibility kept over time, every change previewed, "who was
//! responsible for client X in role R on date D, and why?" answerable forever).
//!
//! One use-case-shaped port, [`Store`], with two implementations: [`sqlite::SqliteStore`] (the
//! embedded default, a file such as `allot.db`) and [`pg::PgStore`] (PostgreSQL for production).
//! [`open`] picks one by the URL. Each backend carries its own migrations (`migrations/`), applied
//! on open. SQL lives only in this crate.
//!
//! Invariants the databases enforce, not only this code:
//! - links are never deleted; a change closes a link by setting `valid_to` (half-open
//!   `[valid_from, valid_to)`), and `valid_to >= valid_from`;
//! - at most one open link per (client, role) unless the role allows several (a partial unique
//!   index; `several` travels with the link under a foreign key to the role, so it cannot lie);
//! - every link, pin, absence and import names the change that made it (who, when);
//! - every write is one transaction that also appends to `changes`; the store's revision is the
//!   newest change id, so a plan made at an older revision is refused.
//!
//! What it does not do: decide anything. The plan (which links to close and open) is computed by
//! `allot-app` from a [`Snapshot`]; the store only checks that it applies to the state it was
//! computed on and lands it all or nothing.

pub mod pg;
mod shared;
mod sql;
pub mod sqlite;

use std::fmt;

pub use allot_rules::{civil_from_days, parse_iso_date};

/// A calendar day, as days since 1970-01-01. PostgreSQL keeps it as a `date`, SQLite as
/// `YYYY-MM-DD` text; [`sql`] converts both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Day(pub i32);

impl Day {
    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Day> {
        parse_iso_date(s).map(Day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&civil_from_days(self.0))
    }
}

/// The store's own integer keys, one type per table, so that a client's key can never be passed
/// where an employee's is meant. Stable forever; never shown to a person (ids are).
macro_rules! key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for sql::Param<'_> {
            fn from(k: $name) -> Self {
                sql::Param::Int(k.0)
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                i64::column_result(v).map($name)
            }
        }

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.0.into())
            }
        }

        impl<'a> postgres::types::FromSql<'a> for $name {
            fn from_sql(ty: &postgres::types::Type, raw: &'a [u8]) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                i64::from_sql(ty, raw).map($name)
            }
            fn accepts(ty: &postgres::types::Type) -> bool {
                <i64 as postgres::types::FromSql>::accepts(ty)
            }
        }

        impl postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }
            fn accepts(ty: &postgres::types::Type) -> bool {
                <i64 as postgres::types::ToSql>::accepts(ty)
            }
            postgres::types::to_sql_checked!();
        }
    };
}

key!(
    /// A stored client's key.
    ClientKey
);
key!(
    /// A stored employee's key.
    EmployeeKey
);
key!(
    /// A link's id.
    LinkId
);

/// Store errors. `Stale`, `NotFound` and `Refused` are the user's to fix; `Db` is the database's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store changed since the plan was made (the plan was made at revision {planned}, the store is now at revision {now}: {last}); make a new plan")]
    Stale { planned: i64, now: i64, last: String },
    #[error("no {what} `{id}` in the store")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Refused(String),
    /// A refusal a person reads, in their language (its `Display` is the English text).
    #[error("{0}")]
    Said(allot_i18n::Message),
    #[error("cannot open the store `{url}`: {message}")]
    Open { url: String, message: String },
    /// The connection to the database is gone (the server restarted, or terminated it): a new
    /// connection may succeed where this one cannot.
    #[error("the connection to the database was lost: {0}")]
    Connection(String),
    #[error("the database refused: {0}")]
    Db(String),
    /// Deals of an import whose client is not in the store, as (the row's place among the rows
    /// given, counted from 0; the client's id), the first [`UNKNOWN_CLIENTS_LISTED`]; nothing landed.
    #[error("{} deal(s) name a client that is not in the store (the first: `{}`)", .0.len(), .0.first().map_or("", |u| u.1.as_str()))]
    UnknownClients(Vec<(u64, String)>),
}

/// At most this many unknown clients are listed by [`StoreError::UnknownClients`].
pub const UNKNOWN_CLIENTS_LISTED: usize = 1_000;

impl StoreError {
    /// Whether the connection is unusable and should be replaced (not returned to a pool).
    pub fn is_connection(&self) -> bool {
        matches!(self, StoreError::Connection(_) | StoreError::Open { .. })
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        use postgres::error::SqlState;
        // A closed socket, or the server telling this session to go (pg_terminate_backend, a
        // shutdown, a restart): the connection is lost, not the request wrong.
        let lost = [SqlState::ADMIN_SHUTDOWN, SqlState::CRASH_SHUTDOWN, SqlState::CANNOT_CONNECT_NOW, SqlState::CONNECTION_FAILURE];
        if e.is_closed() || e.code().is_some_and(|c| lost.contains(c)) || (e.as_db_error().is_none() && e.code().is_none()) {
            return StoreError::Connection(e.to_string());
        }
        // The server's message (with its detail) says more than the client's summary.
        match e.as_db_error() {
            Some(db) => StoreError::Db(match db.detail() {
                Some(d) => format!("{} ({d})", db.message()),
                None => db.message().to_string(),
            }),
            None => StoreError::Db(e.to_string()),
        }
    }
}

/// What imported rows describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    Client,
    Employee,
    Deal,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Client => "client",
            Subject::Employee => "employee",
            Subject::Deal => "deal",
        }
    }
}

/// Why a link exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// The client (or its role) had no employee before.
    New,
    /// A rule of the scheme decided (a rule or scheme change moved it, or it became assignable).
    Rule,
    /// A manual pin.
    Pin,
    /// A temporary cover for an absent owner.
    Cover,
    /// The owner back from an absence.
    Return,
    /// The previous owner left.
    Leaver,
    /// The previous owner was absent with no cover arranged.
    Absence,
    /// A deliberate rebalance.
    Rebalance,
}

impl Cause {
    pub const ALL: [Cause; 8] =
        [Cause::New, Cause::Rule, Cause::Pin, Cause::Cover, Cause::Return, Cause::Leaver, Cause::Absence, Cause::Rebalance];
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::New => "new",
            Cause::Rule => "rule",
            Cause::Pin => "pin",
            Cause::Cover => "cover",
            Cause::Return => "return",
            Cause::Leaver => "leaver",
            Cause::Absence => "absence",
            Cause::Rebalance => "rebalance",
        }
    }
    pub fn parse(s: &str) -> Result<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| StoreError::Db(format!("unknown cause `{s}` in the links table")))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who makes a change, and when (UTC, RFC 3339). The caller's clock: the store reads none.
#[derive(Debug, Clone)]
pub struct Actor {
    pub by: String,
    pub at: String,
}

/// An attribute column and its type name (`number`, `text`, `bool`, `date`, `list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: String,
}

/// One imported row: its id, its attributes as a JSON object (a `null` removes the attribute),
/// and for a deal the id of its client.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub attrs: String,
    pub client: Option<String>,
    /// For clients: the keys a returning client is recognised by (`inn`, `email_domain`,
    /// `phone`), with their values.
    pub keys: Vec<(String, String)>,
}

/// An import landing in one transaction, given its rows a chunk at a time ([`Store::begin_import`]):
/// nothing of it is visible until [`Landing::finish`], and dropped unfinished it leaves nothing.
pub trait Landing {
    /// Writes (or stages) a chunk of validated rows.
    fn push(&mut self, rows: &[Row]) -> Result<()>;
    /// Makes the whole import visible in one step, or refuses it with nothing written
    /// ([`StoreError::UnknownClients`]: deals whose client is unknown).
    fn finish(self: Box<Self>) -> Result<Imported>;
    /// Lands nothing (the file had other errors), but says which deals name a client the store
    /// does not know, as [`StoreError::UnknownClients`] does.
    fn unknown_clients(self: Box<Self>) -> Result<Vec<(u64, String)>>;
}

/// A validated file to upsert by id.
#[derive(Debug, Clone)]
pub struct Import<'a> {
    pub subject: Subject,
    pub file: &'a str,
    pub columns: &'a [Column],
    pub rows: &'a [Row],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub change: i64,
    pub inserted: u64,
    pub updated: u64,
    /// Rows whose stored attributes were already what the file says.
    pub unchanged: u64,
}

/// A stored client, employee or deal. `key` is the store's own integer key (stable forever).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<K = i64> {
    pub key: K,
    pub id: String,
    pub attrs: String,
    /// For deals: the client's key.
    pub client: Option<ClientKey>,
}

/// Who held a role for a client over which days, by store keys (what crediting sales needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSpan {
    pub client: ClientKey,
    pub role: String,
    pub employee: EmployeeKey,
    pub from: Day,
    /// First day no longer held; `None`: still held.
    pub to: Option<Day>,
}

/// What [`Store::read_sales`] reads: first every holding, then every deal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SalesRow<'a> {
    Link(LinkSpan),
    /// A stored deal: its id, its client's key, its attributes (JSON), and whether it came in
    /// through routing (`POST /v1/route`) rather than an import.
    Deal {
        id: &'a str,
        client: ClientKey,
        attrs: &'a str,
        routed: bool,
    },
}

pub type SalesVisit<'a> = dyn FnMut(SalesRow<'_>) + 'a;

/// The days [`Store::read_sales`] reads: the sales dated `first..=last`, and who held each client
/// from `held_from` (`None`: from the beginning; a credit by time in role looks back) to `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesPeriod {
    pub held_from: Option<Day>,
    pub first: Day,
    pub last: Day,
}

/// What a snapshot reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Columns, employees, the scheme, pins, absences and leavers (what routing needs).
    People,
    /// Everything but the deals.
    WithoutDeals,
    Everything,
}

/// A (client, role, employee) link as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: LinkId,
    pub client: ClientKey,
    pub role: String,
    pub employee: EmployeeKey,
    pub from: Day,
    pub to: Option<Day>,
    pub cause: Cause,
    pub rule: Option<String>,
    pub scheme: Option<i64>,
    pub note: String,
    pub absence: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub id: i64,
    pub client: ClientKey,
    pub role: String,
    pub employee: EmployeeKey,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absence {
    pub id: i64,
    pub employee: EmployeeKey,
    pub first: Day,
    pub last: Day,
    /// The one employee who covers; none means: spread over eligible peers.
    pub cover: Option<EmployeeKey>,
    pub applied: bool,
}

/// An absence a change registered or ended early (for the webhooks' `absence.started` and
/// `absence.ended`), by employee ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceNews {
    pub employee: String,
    pub first: Day,
    /// The last day away (after an early end: the new one).
    pub last: Day,
    pub cover: Option<String>,
    /// Whether the change ended it early (else it registered it).
    pub ended: bool,
}

/// What ending an absence early changes (or would change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceEnd {
    pub employee: String,
    pub first: Day,
    /// The last day as it was registered.
    pub was_last: Day,
    pub last: Day,
    /// Cover links that now end the day after `last`.
    pub covers_ended: u64,
    /// The absentee's links that now start again the day after `last`.
    pub returns_moved: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaver {
    pub id: i64,
    pub employee: EmployeeKey,
    /// The first day the employee no longer holds clients.
    pub on: Day,
    pub applied: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeVersion {
    pub version: i64,
    pub text: String,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub kind: String,
    pub by: String,
    pub at: String,
    pub file: Option<String>,
    pub summary: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "change {} ({}) by {} at {}", self.id, self.kind, self.by, self.at)?;
        if let Some(file) = &self.file {
            write!(f, " from {file}")?;
        }
        if !self.summary.is_empty() {
            write!(f, ": {}", allot_i18n::kept::say(&self.summary, allot_i18n::Lang::En))?;
        }
        Ok(())
    }
}

/// Everything a plan is computed from, read in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub revision: i64,
    pub date: Day,
    pub client_columns: Vec<Column>,
    pub deal_columns: Vec<Column>,
    pub employee_columns: Vec<Column>,
    /// In key order.
    pub clients: Vec<Stored<ClientKey>>,
    pub employees: Vec<Stored<EmployeeKey>>,
    pub deals: Vec<Stored>,
    pub scheme: Option<SchemeVersion>,
    /// Links valid on `date`, and links that start after it (scheduled), in no particular order.
    pub links: Vec<Link>,
    /// (client, role) pairs that had a link that ended on or before `date`.
    pub past: Vec<(ClientKey, String)>,
    pub pins: Vec<Pin>,
    pub absences: Vec<Absence>,
    pub leavers: Vec<Leaver>,
}

/// Close a link: it stops being valid on `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub link: LinkId,
    pub at: Day,
}

/// Open a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub client: ClientKey,
    pub role: String,
    pub employee: EmployeeKey,
    pub from: Day,
    pub to: Option<Day>,
    pub cause: Cause,
    pub rule: Option<String>,
    pub scheme: Option<i64>,
    pub note: String,
    pub absence: Option<i64>,
}

/// A computed plan, as the store lands it.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// The revision the plan was computed on.
    pub base: i64,
    /// A new scheme version's text (its number is the active one plus one).
    pub scheme: Option<String>,
    /// Roles the links name, with whether the role allows several employees per client.
    pub roles: Vec<(String, bool)>,
    pub closes: Vec<Close>,
    pub opens: Vec<Open>,
    /// Absences and leavers this plan carries out.
    pub absences: Vec<i64>,
    pub leavers: Vec<i64>,
    pub summary: String,
    /// The kept plan this lands, marked applied in the same transaction with who decided and why.
    pub decided: Option<Decision>,
}

/// A kept plan's approval, recorded with the change that applies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    pub plan: String,
    pub comment: String,
}

/// What made a kept plan: who may approve it is configured per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PlanKind {
    /// An absence or a leaver registered by a manager or an admin.
    Team,
    Import,
    /// A new version of the scheme.
    Scheme,
    /// A territory design or re-balance.
    Territories,
    /// Made by an integration over the API.
    Api,
}

impl PlanKind {
    pub const ALL: [PlanKind; 5] = [PlanKind::Team, PlanKind::Import, PlanKind::Scheme, PlanKind::Territories, PlanKind::Api];
    pub fn as_str(self) -> &'static str {
        match self {
            PlanKind::Team => "team",
            PlanKind::Import => "import",
            PlanKind::Scheme => "scheme",
            PlanKind::Territories => "territories",
            PlanKind::Api => "api",
        }
    }
    pub fn parse(s: &str) -> Option<PlanKind> {
        PlanKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a kept plan stands: made, proposed with a comment, then applied or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlanState {
    Made,
    Proposed,
    Applied,
    Rejected,
}

impl PlanState {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Made => "made",
            PlanState::Proposed => "proposed",
            PlanState::Applied => "applied",
            PlanState::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<PlanState> {
        [PlanState::Made, PlanState::Proposed, PlanState::Applied, PlanState::Rejected].into_iter().find(|k| k.as_str() == s)
    }
}

/// A kept plan without its body: what it is, who proposed and decided it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRecord {
    pub id: String,
    pub kind: PlanKind,
    pub state: PlanState,
    /// What the plan is for, as its maker said it (a kept message or plain text).
    pub title: String,
    pub made_by: String,
    pub made_at: String,
    pub proposed_by: Option<String>,
    pub proposed_at: Option<String>,
    pub comment: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision: String,
    /// The change that applied it.
    pub change: Option<i64>,
}

/// The ids behind a plan's keys, for showing its clients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanNames {
    pub clients: Vec<(ClientKey, String)>,
    pub employees: Vec<(EmployeeKey, String)>,
    /// The links a plan closes, as history shows them.
    pub links: Vec<(LinkId, LinkEntry)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub change: i64,
    pub closed: u64,
    pub opened: u64,
    pub scheme: Option<i64>,
}

/// A link as history shows it: with ids, not keys, and who made and ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEntry {
    pub client: String,
    pub role: String,
    pub employee: String,
    pub from: Day,
    pub to: Option<Day>,
    pub cause: Cause,
    pub rule: Option<String>,
    pub scheme: Option<i64>,
    pub note: String,
    pub opened_by: String,
    pub opened_at: String,
    pub closed_by: Option<String>,
    pub closed_at: Option<String>,
}

impl LinkEntry {
    /// The note as `lang` says it: the reasons allot kept (routing's, a cover's) from the
    /// catalogue, a person's own words (a pin's reason) as written.
    pub fn note_in(&self, lang: allot_i18n::Lang) -> String {
        allot_i18n::kept::say(&self.note, lang)
    }
}

/// A webhook (issue #18 §3): an address told of the book's changes, and how far it has been told;
/// or a CRM connector (§1, `kind` `bitrix24`): a portal written the owners the changes make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    /// `http` (a webhook) or the CRM written back to (`bitrix24`).
    pub kind: String,
    pub url: String,
    /// The events subscribed to (`link.opened`, `link.closed`, `plan.applied`, …).
    pub events: Vec<String>,
    /// The signing key: allot's own, never shown after it was made.
    pub secret: String,
    pub created_by: String,
    pub created_at: String,
    /// The last change delivered whole.
    pub delivered: i64,
    /// Failed tries of the next change in a row.
    pub attempts: i64,
    /// When the next try is due (RFC 3339, UTC).
    pub next_at: Option<String>,
    /// The receiver's last answer: HTTP status (0: not reached) and what it said.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_at: Option<String>,
    /// A connector: when the CRM's records were last read (RFC 3339, UTC).
    pub pulled_at: Option<String>,
}

/// What a webhook's latest try came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery<'a> {
    /// Every delivery of change `change` was taken: the webhook moves on past it.
    Done { change: i64, status: i64 },
    /// A delivery failed: tried again at `next_at`.
    Failed { status: i64, error: &'a str, next_at: &'a str },
}

/// A manual pin request, by the ids a person gives.
#[derive(Debug, Clone)]
pub struct PinRequest<'a> {
    pub client: &'a str,
    pub role: &'a str,
    pub employee: &'a str,
    pub reason: &'a str,
    /// The day the pinned employee takes over if someone else holds the link.
    pub date: Day,
}

/// The link a pin would replace: its id and its employee's key and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLink {
    pub link: LinkId,
    pub employee: EmployeeKey,
    pub employee_id: String,
}

/// What a pin is decided from ([`Store::pin_site`]): the client's and the employee's keys, who
/// holds the role on the day, when a link scheduled after the day starts, the active scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinSite {
    pub client: ClientKey,
    pub employee: EmployeeKey,
    pub held: Option<HeldLink>,
    pub next: Option<Day>,
    pub scheme: Option<i64>,
}

/// A pin as `allot-app` decided it: the pin to record and, when it moves the link, the link it
/// closes and the one it opens. The store refuses it if the close no longer fits.
#[derive(Debug, Clone)]
pub struct PinLanding<'a> {
    pub request: &'a PinRequest<'a>,
    pub client: ClientKey,
    pub employee: EmployeeKey,
    pub close: Option<Close>,
    pub open: Option<Open>,
    /// The employee who held the link before, when the pin moves it.
    pub moved_from: Option<String>,
}

/// What a pin changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub change: i64,
    /// The employee who held the link before, when the pin moved it.
    pub moved_from: Option<String>,
    pub replaced_pin: bool,
}

/// A token to store: the hash of its secret (never the secret), its scope, whose clients a
/// `manager` or `employee` token sees, a label, and the first day it no longer works.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub hash: &'a str,
    pub scope: &'a str,
    pub employee: Option<&'a str>,
    pub label: &'a str,
    pub expires: Option<Day>,
}

/// An API token as stored (its secret is never stored, only a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: i64,
    pub scope: String,
    pub employee: Option<String>,
    pub label: String,
    /// The day it stops working (exclusive), if it expires.
    pub expires: Option<Day>,
}

/// A token as `allot token list` shows it (never its secret, which is not stored).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub token: Token,
    pub created_by: String,
    pub created_at: String,
    /// Who revoked it and when, if it is revoked.
    pub revoked: Option<(String, String)>,
}

/// The order of a book's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BookOrder {
    /// By client id, then role.
    #[default]
    Client,
    /// The newest links first, then by client id.
    Since,
    /// By role, then client id.
    Role,
}

/// One page of an employee's book on a day ([`Store::book_page`]).
#[derive(Debug, Clone)]
pub struct BookPageRequest<'a> {
    pub employee: &'a str,
    pub date: Day,
    /// Only the clients whose id or `name` contains it, whatever the case.
    pub search: Option<&'a str>,
    pub order: BookOrder,
    pub offset: u64,
    pub limit: u64,
}

/// A person who signs in to the workspace (issue #16), as the store keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub login: String,
    /// The employee they are (an admin may be nobody's employee).
    pub employee: Option<String>,
    /// `admin`, `manager` or `employee`: the API's scopes.
    pub role: String,
    /// The password's argon2id hash (PHC string); never the password.
    pub password: String,
    pub created_by: String,
    pub created_at: String,
    /// Who last changed the password, and when.
    pub changed: Option<(String, String)>,
    /// Who disabled the user, and when.
    pub disabled: Option<(String, String)>,
    /// Failed sign-ins in a row.
    pub failures: i64,
    /// No sign-in until then (RFC 3339, UTC).
    pub locked_until: Option<String>,
}

/// A user to add.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub login: &'a str,
    pub employee: Option<&'a str>,
    pub role: &'a str,
    /// The argon2id hash (PHC string).
    pub password: &'a str,
}

/// A session to keep: the SHA-256 of the cookie's secret, its user, its CSRF token and its times
/// (RFC 3339, UTC).
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user: i64,
    pub csrf: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
}

/// A live session and its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub created_at: String,
    pub expires_at: String,
}

/// What `/health` reports of the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub revision: i64,
    /// Whether a write would be accepted (a read-only file, a standby server, a read-only
    /// transaction default refuse every route).
    pub writable: bool,
}

/// A client, stored or added by this batch (the index into [`RouteWrites::clients`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientRef {
    Stored(ClientKey),
    New(usize),
}

/// A client a routing batch adds.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: String,
    /// Attributes as a JSON object without nulls.
    pub attrs: String,
    pub keys: Vec<(String, String)>,
}

/// One routed item's record: its idempotency key, request hash and answer.
#[derive(Debug, Clone)]
pub struct Routed {
    pub key: Option<String>,
    pub hash: String,
    pub client: ClientRef,
    pub response: String,
}

/// A deal a routing batch adds, for a stored client.
#[derive(Debug, Clone)]
pub struct NewDeal {
    pub id: String,
    pub client: ClientKey,
    /// Attributes as a JSON object without nulls.
    pub attrs: String,
}

/// Everything a routing batch writes, in bulk (a few statements however many items).
#[derive(Debug, Clone, Default)]
pub struct RouteWrites {
    pub clients: Vec<NewClient>,
    pub deals: Vec<NewDeal>,
    /// Links to open; `Open::client` is ignored, the [`ClientRef`] says whose.
    pub links: Vec<(ClientRef, Open)>,
    pub routed: Vec<Routed>,
}

/// A stored answer of an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    pub key: String,
    /// SHA-256 of the request that was answered: a retry must carry the same one.
    pub hash: String,
    pub response: String,
}

/// A stored client found by a key (`id`, `inn`, `email_domain`, `phone`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundClient {
    /// The value looked up.
    pub value: String,
    pub key: ClientKey,
    pub id: String,
}

/// A client's holder of a role on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub role: String,
    pub employee: EmployeeKey,
    pub rule: Option<String>,
}

/// A stored client's attributes (JSON), by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAttrs {
    pub key: ClientKey,
    pub attrs: String,
}

/// A pool's stored state (JSON), by its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRow {
    pub rule: String,
    pub state: String,
}

/// The reads and writes of routing, inside the one transaction of a batch of routed items. Reads
/// take every item's values at once, so a batch costs a few round trips, not a few per item.
pub trait RouteTx {
    /// The change this batch records.
    fn change(&self) -> i64;
    /// Stored answers of idempotency keys.
    fn replays(&mut self, keys: &[String]) -> Result<Vec<Replay>>;
    /// Clients by `id` or by a key kind (`inn`, `email_domain`, `phone`).
    fn find_clients(&mut self, kind: &str, values: &[String]) -> Result<Vec<FoundClient>>;
    /// A client's links valid on a day.
    fn owners(&mut self, client: ClientKey, date: Day) -> Result<Vec<Holder>>;
    /// Stored clients' attributes (JSON), by key.
    fn client_attrs(&mut self, clients: &[ClientKey]) -> Result<Vec<ClientAttrs>>;
    /// Which of these deal ids are stored already.
    fn find_deals(&mut self, ids: &[String]) -> Result<Vec<String>>;
    /// Every pool's stored state (rule id, JSON), locked for the batch.
    fn pools(&mut self) -> Result<Vec<PoolRow>>;
    fn save_pool(&mut self, rule: &str, state: &str) -> Result<()>;
    /// Adds the clients, then opens the links and records the items.
    fn write(&mut self, w: &RouteWrites) -> Result<()>;
}

/// The work of one routing batch, run inside its transaction.
pub type RouteWork<'a> = dyn FnMut(&mut dyn RouteTx) -> Result<()> + 'a;

/// The store port: the use cases of the CLI and the server, not generic CRUD.
pub trait Store: Send {
    /// Runs `work` in one transaction that records a `route` change; roles named by its links
    /// are made known first. All or nothing.
    fn route(&mut self, actor: &Actor, roles: &[String], work: &mut RouteWork<'_>) -> Result<i64>;
    /// For a connection that commits a stream of small transactions (the router): leave copying
    /// the log back into the database to [`Store::checkpoint`] on another connection, so commits
    /// never wait for it. A no-op where the database does this itself (PostgreSQL).
    fn defer_checkpoints(&mut self) -> Result<()> {
        Ok(())
    }
    /// Copies what it can of the log back into the database without blocking writers (SQLite's
    /// passive checkpoint) and returns the log's length in frames; a no-op on PostgreSQL (0).
    ///
    /// Under a steady stream of commits a log checkpointed from another connection is never found
    /// wholly copied when the next commit starts, so it never starts over and grows without end
    /// (950 MB in 20 s was seen: issue #13). Past `sqlite::WAL_FRAMES_LIMIT` the writer calls this
    /// on its own connection between two transactions: nothing is written meanwhile, the copy
    /// completes (little is left: the other connection copied the rest), and the next commit
    /// starts the log over; `journal_size_limit` then cuts the file back.
    fn checkpoint(&mut self) -> Result<i64> {
        Ok(0)
    }
    /// The newest change that is not a routing batch (a new scheme, an import, a pin ...): when it
    /// moves, a server reloads what it routes by.
    fn routing_revision(&mut self) -> Result<i64>;
    /// A pool's stored state (JSON), if it has routed anything.
    fn pool_state(&mut self, rule: &str) -> Result<Option<String>>;
    /// Stores a token's hash with its scope; its id.
    fn add_token(&mut self, token: &NewToken<'_>, actor: &Actor) -> Result<i64>;
    /// Every token, newest last, revoked ones included.
    fn tokens(&mut self) -> Result<Vec<TokenInfo>>;
    /// Revokes a token by id (a change of the book, kind `token`); refused if it is revoked already.
    fn revoke_token(&mut self, id: i64, actor: &Actor) -> Result<i64>;
    /// Adds a user (refused when the login is taken; the employee must be stored).
    fn add_user(&mut self, user: &NewUser<'_>, actor: &Actor) -> Result<i64>;
    /// Every user, by login.
    fn users(&mut self) -> Result<Vec<User>>;
    /// A user by login.
    fn user(&mut self, login: &str) -> Result<Option<User>>;
    /// Replaces a user's password hash, clears their lock-out, and ends their sessions.
    fn set_password(&mut self, login: &str, password: &str, actor: &Actor) -> Result<()>;
    /// Disables a user and ends their sessions (refused when disabled already).
    fn disable_user(&mut self, login: &str, actor: &Actor) -> Result<()>;
    /// Records the outcome of a sign-in: failures in a row and the lock-out they earned.
    fn record_sign_in(&mut self, user: i64, failures: i64, locked_until: Option<&str>) -> Result<()>;
    fn add_session(&mut self, session: &NewSession<'_>) -> Result<()>;
    /// The session with this id if it is live at `now`: not ended, not expired, its user enabled.
    fn session(&mut self, id: &str, now: &str) -> Result<Option<Session>>;
    /// Ends a session; whether it was live.
    fn end_session(&mut self, id: &str, at: &str) -> Result<bool>;
    /// When the user's latest session other than `current` (a session id) began: their previous
    /// visit, if any.
    fn previous_visit(&mut self, user: i64, current: &str) -> Result<Option<String>>;
    /// An employee's links opened or closed by a change made after `since` (RFC 3339), newest
    /// change first, at most `limit`.
    fn link_changes(&mut self, employee: &str, since: &str, limit: u64) -> Result<Vec<LinkEntry>>;
    /// Keeps a plan's JSON under an id, for applying it by that id later, with what made it.
    fn save_plan(&mut self, id: &str, body: &str, kind: PlanKind, title: &str, actor: &Actor) -> Result<()>;
    /// A kept plan's JSON.
    fn plan_body(&mut self, id: &str) -> Result<Option<String>>;
    /// A kept plan's record (without its body).
    fn plan_record(&mut self, id: &str) -> Result<Option<PlanRecord>>;
    /// Kept plans in a state, newest first, at most `limit`.
    fn plans(&mut self, state: PlanState, limit: u64) -> Result<Vec<PlanRecord>>;
    /// The plans the given changes applied.
    fn plans_applied_by(&mut self, changes: &[i64]) -> Result<Vec<PlanRecord>>;
    /// Proposes a made plan with a comment; refused unless it is only made.
    fn propose_plan(&mut self, id: &str, comment: &str, actor: &Actor) -> Result<()>;
    /// Rejects a made or proposed plan with a comment.
    fn reject_plan(&mut self, id: &str, comment: &str, actor: &Actor) -> Result<()>;
    /// The attributes (JSON) of the first `limit` clients by key: a sample of the values the data
    /// holds, for suggesting them.
    fn sample_clients(&mut self, limit: u64) -> Result<Vec<String>>;
    /// The ids of the clients and employees a plan names by key, and the links it closes.
    fn plan_names(&mut self, clients: &[ClientKey], employees: &[EmployeeKey], links: &[LinkId]) -> Result<PlanNames>;
    /// The store's state for a health check: reachable (this answers), revision, writable.
    fn health(&mut self) -> Result<Health>;
    /// Corrects a client that routing dated wrongly ahead (before routed dates were checked): its
    /// links that start after `day` start on `day`. Only for a client whose every link routing
    /// opened and none is closed — anything else is history, never rewritten. Returns the change
    /// recorded (kind `route`) and the links moved.
    fn redate_routed(&mut self, client: &str, day: Day, actor: &Actor) -> Result<(i64, usize)>;
    /// The token with this hash, unless revoked.
    fn token(&mut self, hash: &str) -> Result<Option<Token>>;
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The newest change id (0 for an empty store).
    fn revision(&mut self) -> Result<i64>;
    /// The change log, newest last.
    fn changes(&mut self) -> Result<Vec<Change>>;
    /// The latest `limit` routed items, newest first: (client id, when it was routed).
    fn latest_routed(&mut self, limit: u64) -> Result<Vec<(String, String)>>;
    /// Among the latest `window` routed items, at most `limit` whose client has nobody in one of
    /// `roles` on `date`, newest first: (client id, when it was routed, the roles nobody holds).
    fn unassigned_routed(&mut self, roles: &[String], date: Day, window: u64, limit: u64) -> Result<Vec<(String, String, Vec<String>)>>;
    /// At most `limit` changes after change `after`, oldest first.
    fn changes_after(&mut self, after: i64, limit: u64) -> Result<Vec<Change>>;
    /// Up to `limit` links change `change` opened (`opened`) or closed, by link id after `after`:
    /// (link id, the link).
    fn change_links(&mut self, change: i64, opened: bool, after: i64, limit: u64) -> Result<Vec<(i64, LinkEntry)>>;
    /// Claims the alert of routed lead `client` waiting for a person in `role` (at `at`): whether
    /// it was not claimed before.
    fn claim_alert(&mut self, client: &str, role: &str, at: &str) -> Result<bool>;
    /// Gives a claimed alert back (its letter could not be sent): the next look claims it again.
    fn release_alert(&mut self, client: &str, role: &str) -> Result<()>;
    /// The absences change `change` registered or ended early.
    fn absences_of_change(&mut self, change: i64) -> Result<Vec<AbsenceNews>>;
    /// The items routing batch `change` answered, in their order: (client id, the answer's JSON).
    fn routed_in(&mut self, change: i64) -> Result<Vec<(String, String)>>;
    /// Adds a webhook for `events` (told of the changes after the store's revision now).
    fn add_webhook(&mut self, url: &str, events: &[String], secret: &str, actor: &Actor) -> Result<i64>;
    /// The connector of CRM `kind` (`bitrix24`) at the portal `url`, made if there is none (told of
    /// the changes after the store's revision now); its id and whether it was made now.
    fn add_connector(&mut self, kind: &str, url: &str, actor: &Actor) -> Result<(i64, bool)>;
    /// Keeps connector `id`'s credentials (amoCRM's token pair) in its `secret`.
    fn set_connector_secret(&mut self, id: i64, secret: &str) -> Result<()>;
    /// Records that connector `id` read its CRM's records at `at` (RFC 3339, UTC).
    fn mark_pulled(&mut self, id: i64, at: &str) -> Result<()>;
    /// The webhooks and connectors not removed, by id.
    fn webhooks(&mut self) -> Result<Vec<Webhook>>;
    /// Removes a webhook (kept, marked, for the record).
    fn remove_webhook(&mut self, id: i64, actor: &Actor) -> Result<()>;
    /// Takes webhook `id` for `holder` until `until` unless another holder has it past `now`;
    /// whether it was taken.
    fn lease_webhook(&mut self, id: i64, holder: &str, now: &str, until: &str) -> Result<bool>;
    /// Records a try of webhook `id` at `at`.
    fn record_delivery(&mut self, id: i64, outcome: &Delivery<'_>, at: &str) -> Result<()>;
    /// Makes webhook `id`'s next try due now (`allot outbox --resend`).
    fn retry_webhook(&mut self, id: i64) -> Result<()>;
    /// At most `limit` changes before change `before` (the newest without it), newest first; with
    /// `routing` false, without routing's batches.
    fn change_page(&mut self, before: Option<i64>, limit: u64, routing: bool) -> Result<Vec<Change>>;
    /// Stored attribute columns of a subject, in first-seen order.
    fn columns(&mut self, subject: Subject) -> Result<Vec<Column>>;
    /// Upserts rows by id in one transaction (attributes merge: a file's columns replace those
    /// attributes, others stay) and records the import.
    fn import(&mut self, import: &Import<'_>, actor: &Actor) -> Result<Imported>;
    /// An import given a chunk of rows at a time (a file of ten million deals is never held
    /// whole), landed in one transaction by [`Landing::finish`]. The file's columns are
    /// registered at once; the rows are staged (PostgreSQL: `COPY` into a temporary table, merged
    /// in one statement at the end) or written inside the transaction (SQLite). `expected`: about
    /// how many rows will come (a bulk write is prepared for many).
    fn begin_import(
        &mut self,
        subject: Subject,
        file: &str,
        columns: &[Column],
        expected: u64,
        actor: &Actor,
    ) -> Result<Box<dyn Landing + '_>>;
    /// The active scheme version.
    fn active_scheme(&mut self) -> Result<Option<SchemeVersion>>;
    /// Every stored scheme version, oldest first.
    fn schemes(&mut self) -> Result<Vec<SchemeVersion>>;
    /// Everything a plan on `date` needs, read consistently.
    fn snapshot(&mut self, date: Day) -> Result<Snapshot>;
    /// [`Store::snapshot`] without the deals, for reading them one at a time ([`Store::read_sales`]).
    fn snapshot_without_deals(&mut self, date: Day) -> Result<Snapshot>;
    /// The snapshot without clients, deals and links: columns, employees, the active scheme,
    /// pins, absences and leavers (what routing needs).
    fn people(&mut self) -> Result<Snapshot>;
    /// Lands a plan all or nothing; refuses it when the store's revision is not `changes.base`.
    fn apply(&mut self, changes: &Changes, actor: &Actor) -> Result<Applied>;
    /// What a pin is decided from (the client and employee must be stored).
    fn pin_site(&mut self, pin: &PinRequest<'_>) -> Result<PinSite>;
    /// Records a pin (replacing the role's active pin) and lands the close and open it carries.
    fn pin(&mut self, pin: &PinLanding<'_>, actor: &Actor) -> Result<Pinned>;
    fn unpin(&mut self, client: &str, role: &str, actor: &Actor) -> Result<i64>;
    /// A client's deals, oldest first, at most `limit`: (deal id, attributes as JSON).
    fn client_deals(&mut self, client: &str, limit: u64) -> Result<Vec<(String, String)>>;
    /// A client's active pins: (role, employee id, reason), by role.
    fn client_pins(&mut self, client: &str) -> Result<Vec<(String, String, String)>>;
    /// Registers an absence (the next plan arranges the cover).
    fn add_absence(&mut self, employee: &str, first: Day, last: Day, cover: Option<&str>, actor: &Actor) -> Result<i64>;
    /// Ends an absence early: its last day becomes `last`, the employee is back the day after.
    /// Covers arranged for it end then, and the absentee's clients return then. With `apply`
    /// false it says what it would change and changes nothing (the preview a person confirms).
    fn end_absence(&mut self, id: i64, last: Day, apply: bool, actor: &Actor) -> Result<AbsenceEnd>;
    /// Registers a leaver (the next plan on or after `on` hands their clients over).
    fn add_leaver(&mut self, employee: &str, on: Day, actor: &Actor) -> Result<i64>;
    /// Every link the client ever had, by role and date.
    fn history(&mut self, client: &str) -> Result<Vec<LinkEntry>>;
    /// Links valid on `date`: all of them, or one client's.
    fn owners_at(&mut self, date: Day, client: Option<&str>) -> Result<Vec<LinkEntry>>;
    /// An employee's links valid on `date`.
    fn book(&mut self, employee: &str, date: Day) -> Result<Vec<LinkEntry>>;
    /// How many links each employee holds in each role on `date`: (employee id, role, count), by
    /// employee and role; employees holding nothing are absent. `employees`: only these (a team).
    fn loads(&mut self, date: Day, employees: Option<&[String]>) -> Result<Vec<(String, String, u64)>>;
    /// One page of [`Store::book`] (by client id, then role) and how many links the whole has;
    /// with `search`, only the clients whose id or `name` contains it, whatever the case.
    fn book_page(&mut self, page: &BookPageRequest<'_>) -> Result<(Vec<LinkEntry>, u64)>;
    /// Stored clients' attributes (JSON text) by id, for the ids that are stored.
    fn client_attributes(&mut self, ids: &[String]) -> Result<Vec<(String, String)>>;
    /// Stored employees' attributes (JSON text) by id, for the ids that are stored.
    fn employee_attributes(&mut self, ids: &[String]) -> Result<Vec<(String, String)>>;
    /// What crediting a period's sales reads, in one transaction and without holding every deal:
    /// every link valid on some day of `held_from..=last` (`None`: from the beginning), in no
    /// particular order, then the stored deals dated `first..=last` and those without a date, in
    /// key order, one [`SalesRow`] at a time (the sale dates' index finds a short period's). Returns
    /// the revision it read, so that the caller can tell whether the store changed since its
    /// snapshot.
    fn read_sales(&mut self, period: &SalesPeriod, visit: &mut SalesVisit<'_>) -> Result<i64>;
}

/// Where the store is: a PostgreSQL URL, or a SQLite file (`sqlite:PATH` or a plain path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Location {
    pub fn parse(s: &str) -> Location {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Location::Postgres(s.to_string())
        } else {
            let path = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")).unwrap_or(s);
            Location::Sqlite(path.into())
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            // Never print a password.
            Location::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// A PostgreSQL URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find('@');
    let host_start = rest.find('/').unwrap_or(rest.len());
    match auth_end {
        Some(at) if at < host_start => match rest[..at].find(':') {
            Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &rest[..colon], &rest[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

/// Opens (and migrates) the store at `location`.
pub fn open(location: &Location) -> Result<Box<dyn Store>> {
    Ok(match location {
        Location::Sqlite(path) => Box::new(sqlite::SqliteStore::open(path)?),
        Location::Postgres(url) => Box::new(pg::PgStore::connect(url, None)?),
    })
}

/// The error for a store whose schema a newer allot wrote: refused, never opened half-understood.
pub(crate) fn newer_schema(found: i64, known: i64) -> StoreError {
    StoreError::Refused(format!(
        "the store was written by a newer allot (schema version {found}; this allot knows up to {known}): use that version or newer"
    ))
}

pub(crate) fn text_day(s: &str) -> Result<Day> {
    Day::parse(s).ok_or_else(|| StoreError::Db(format!("a stored date is not YYYY-MM-DD: `{s}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_password_is_never_printed() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(Location::parse("postgresql://a:b@c/d").to_string(), "postgresql://a:***@c/d");
        assert_eq!(Location::parse("sqlite:x.db"), Location::Sqlite("x.db".into()));
        assert_eq!(Location::parse("books/allot.db"), Location::Sqlite("books/allot.db".into()));
    }
}

/// Test support shared by this crate's and the binaries' tests: where PostgreSQL is, and the
/// rule that CI must reach it while a developer's machine without it skips with a notice.
#[doc(hidden)]
pub mod testing {
    use std::sync::atomic::{AtomicU32, Ordering};

    /// The test server: `ALLOT_TEST_POSTGRES`, or the local one with trust auth.
    pub fn postgres_url() -> String {
        std::env::var("ALLOT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// The PostgreSQL URL when the server answers. Unreachable under `CI` is a failure; elsewhere
    /// the caller skips, and this prints that it did.
    pub fn postgres(test: &str) -> Option<String> {
        let url = postgres_url();
        match postgres::Client::connect(&url, postgres::NoTls) {
            Ok(_) => Some(url),
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("CI must run the PostgreSQL tests, but {} is unreachable: {e}", super::redact(&url))
            }
            Err(e) => {
                eprintln!("SKIPPED on PostgreSQL: {test} ({} is unreachable: {e}; set ALLOT_TEST_POSTGRES)", super::redact(&url));
                None
            }
        }
    }

    /// A schema name no other test (or test process) uses.
    pub fn fresh_schema() -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        format!("allot_test_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
    }

    /// `url` with `search_path` set to `schema` (for a child process).
    pub fn url_with_schema(url: &str, schema: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-csearch_path%3D{schema}")
    }

    /// Drops a test schema.
    pub fn drop_schema(url: &str, schema: &str) {
        if let Ok(mut c) = postgres::Client::connect(url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
        }
    }
}
