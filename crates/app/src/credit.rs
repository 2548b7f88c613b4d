//! `allot credit` (issue #6): the stored deals of a period credited to whoever held each role,
//! by the scheme's `[credit]` section. Sales that cannot be credited are listed with the reason,
//! never skipped silently.
//!
//! Millions of deals are never held at once: the store streams them ([`Store::read_sales`]) to a
//! reader thread that picks the attributes the credit needs out of each deal's JSON, and this
//! thread types them a chunk at a time, credits each sale and hands it to the caller's visitor.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::mpsc;

use allot_core::credit::{Credit, CreditScheme, Crediting, LinkSpan, Policy, RoleShare};
use allot_core::data::{RowRef, Table};
use allot_io::sheet::CellRef;
use allot_rules::{Matcher, Tri, Type};
use allot_store::{SalesRow, Store, StoreError};
use rustc_hash::FxHashMap;

use crate::stored::{open_state_without_deals, AppError, AttrSink, State, TextSink, Wire, WireSeed};
use crate::Names;

/// What to credit: the sales dated `first..=last`, by the active scheme or `scheme` (text, file).
pub struct CreditRequest {
    pub first: i32,
    pub last: i32,
    pub scheme: Option<(String, String)>,
}

/// One credited part of a sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    /// `revenue` (the parts of a sale add up to it) or `overlay` (extra, kept apart).
    pub kind: &'static str,
    pub role: &'a str,
    /// Empty: nobody held the role (unassigned).
    pub employee: &'a str,
    /// Minor units (kopecks).
    pub amount: i64,
}

/// A credited sale with its parts, lent to the visitor of [`credit_sales`].
#[derive(Debug)]
pub struct Sale<'a> {
    pub deal: &'a str,
    pub client: &'a str,
    /// The client's row in the book's data (reports group by its attributes).
    pub client_row: u32,
    pub date: i32,
    pub currency: &'a str,
    pub parts: &'a [Part<'a>],
}

/// A deal of the period that was not credited, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncredited {
    pub deal: String,
    pub reason: String,
}

/// What crediting a period found besides the sales themselves.
#[derive(Debug)]
pub struct Outcome {
    /// Sales credited.
    pub sales: usize,
    pub policy: Policy,
    pub uncredited: Vec<Uncredited>,
}

/// Deal columns the credit reads; `owner_<role>` names an explicit owner for a role.
const DATE: &str = "date";
const OPENED: &str = "opened";
const CURRENCY: &str = "currency";
const STAGE: &str = "stage";

/// Deals typed and credited at a time.
const CHUNK: usize = 1 << 15;

/// The book as of the period's last day, with the request's scheme, without its deals (they are
/// read one chunk at a time by [`credit_sales`]); a period that ends before it starts is refused.
pub fn open_period(store: &mut dyn Store, req: &CreditRequest) -> Result<State, AppError> {
    if req.first > req.last {
        return Err(AppError::Refused(format!(
            "the period ends ({}) before it starts ({})",
            allot_rules::civil_from_days(req.last),
            allot_rules::civil_from_days(req.first)
        )));
    }
    // Said before the book is read (seconds on a million clients): a scheme without [credit].
    let text = match &req.scheme {
        Some((t, f)) => Some((t.clone(), f.clone())),
        None => store.active_scheme()?.map(|a| (a.text, format!("scheme version {}", a.version))),
    };
    if let Some((text, file)) = text {
        if allot_io::scheme::outline(&text).is_ok_and(|o| !o.contains_key("credit")) {
            return Err(AppError::Said(allot_i18n::Message::new("refused-no-credit").text("scheme", file)));
        }
    }
    let book = open_state_without_deals(store, req.last, req.scheme.as_ref().map(|(t, f)| (t.as_str(), f.as_str())))?;
    if book.loaded.scheme.credit.is_none() {
        return Err(AppError::Refused(format!(
            "{} has no [credit] section: add one to say how sales are credited (docs/scheme.md, Credit)",
            book.scheme_file
        )));
    }
    Ok(book)
}

/// The columns of the stored deals the credit reads, by position in the book's (empty) deals
/// table: `[credit]`'s own columns and those its share conditions name.
struct Reading {
    amount: usize,
    date: usize,
    opened: Option<usize>,
    currency: Option<usize>,
    stage: Option<usize>,
    /// (role, column) of `owner_<role>` columns.
    explicit: Vec<(usize, usize)>,
    /// The columns to pick out of each deal's attributes.
    wanted: Vec<usize>,
}

impl Reading {
    fn of(book: &State, cs: &CreditScheme) -> Result<Reading, AppError> {
        let (scheme, deals) = (&book.loaded.scheme, &book.loaded.data.deals);
        let col = |n: &str| deals.column_index(n);
        let amount_col = scheme.amount.as_deref().unwrap_or("amount");
        let Some(amount) = col(amount_col) else {
            return Err(AppError::Refused(format!("the stored deals have no `{amount_col}` column (the amount in kopecks)")));
        };
        let Some(date) = col(DATE) else {
            return Err(AppError::Refused("the stored deals have no `date` column (the sale date)".into()));
        };
        let explicit: Vec<(usize, usize)> =
            scheme.roles.iter().enumerate().filter_map(|(r, role)| col(&format!("owner_{}", role.id)).map(|c| (r, c))).collect();
        let mut wanted: Vec<usize> = [Some(amount), Some(date), col(OPENED), col(CURRENCY), col(STAGE)].into_iter().flatten().collect();
        wanted.extend(explicit.iter().map(|&(_, c)| c));
        let conditions = cs.rules.iter().flat_map(|r| r.cond.tests());
        wanted.extend(conditions.filter(|t| !t.name.starts_with("client.")).filter_map(|t| col(&t.name)));
        wanted.sort_unstable();
        wanted.dedup();
        Ok(Reading { amount, date, opened: col(OPENED), currency: col(CURRENCY), stage: col(STAGE), explicit, wanted })
    }
}

/// Deals as the reader thread passes them on, without a string per value: ids and text values
/// end to end in `text`, the wanted attributes of each deal in `cells` (`width` per deal).
#[derive(Default)]
struct Chunk {
    text: String,
    /// Each deal's id in `text`.
    ids: Vec<(u32, u32)>,
    cells: Vec<Raw>,
    clients: Vec<allot_store::ClientKey>,
    /// Whether each deal came in through routing.
    routed: Vec<bool>,
    unreadable: Vec<Uncredited>,
}

/// One stored attribute value, its text in the chunk's `text`.
type Raw = Wire<(u32, u32)>;

impl Chunk {
    fn clear(&mut self) {
        self.text.clear();
        self.ids.clear();
        self.cells.clear();
        self.clients.clear();
        self.routed.clear();
        self.unreadable.clear();
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        (start, self.text.len() as u32)
    }

    /// Appends a deal: its id, client and the wanted attributes picked out of its JSON.
    fn push(&mut self, id: &str, client: allot_store::ClientKey, attrs: &str, routed: bool, wanted: &FxHashMap<&str, usize>, width: usize) {
        let (text, cells) = (self.text.len(), self.cells.len());
        let id_at = self.push_text(id);
        self.cells.resize(cells + width, Wire::Empty);
        let mut sink = Sink { chunk: self, base: cells };
        match crate::stored::read_attrs(attrs, wanted, &mut sink) {
            Ok(()) => {
                self.ids.push(id_at);
                self.clients.push(client);
                self.routed.push(routed);
            }
            Err(e) => {
                self.text.truncate(text);
                self.cells.truncate(cells);
                self.unreadable.push(Uncredited { deal: id.into(), reason: format!("stored attributes unreadable: {e}") });
            }
        }
    }

    fn cell<'a>(&'a self, c: &'a Raw) -> CellRef<'a> {
        match c {
            Wire::Empty => CellRef::Empty,
            Wire::Text((a, b)) => match &self.text[*a as usize..*b as usize] {
                t if t.trim().is_empty() => CellRef::Empty,
                t => CellRef::Text(t),
            },
            Wire::Number(n) => CellRef::Number(*n),
            Wire::Bool(b) => CellRef::Bool(*b),
            Wire::List(l) => CellRef::List(l),
        }
    }
}

impl TextSink for Chunk {
    type Text = (u32, u32);
    fn text(&mut self, s: &str) -> (u32, u32) {
        self.push_text(s)
    }
}

/// Writes picked attributes into a chunk.
struct Sink<'a> {
    chunk: &'a mut Chunk,
    base: usize,
}

impl AttrSink for Sink<'_> {
    fn put<'de, A: serde::de::MapAccess<'de>>(&mut self, slot: usize, m: &mut A) -> Result<(), A::Error> {
        let raw = m.next_value_seed(WireSeed(&mut *self.chunk))?;
        self.chunk.cells[self.base + slot] = raw;
        Ok(())
    }
}

enum Msg {
    Links(Vec<allot_store::LinkSpan>),
    Deals(Chunk),
}

/// Who held each role of each client over the period, by client row and role, employees as
/// indices into `people` (employees in id order first, so that ties go to the smaller id).
struct Holders {
    people: Names,
    /// Spans by (client row × roles + role), in `spans[start[i]..start[i + 1]]`.
    start: Vec<u32>,
    spans: Vec<LinkSpan<u32>>,
}

impl Holders {
    fn new(book: &State, held: Vec<allot_store::LinkSpan>) -> Holders {
        let scheme = &book.loaded.scheme;
        let mut ids: Vec<&str> = scheme.employees.iter().map(|e| e.id.as_str()).collect();
        ids.sort_unstable();
        let mut people = Names::default();
        ids.into_iter().for_each(|id| {
            people.intern(id);
        });
        let by_key: FxHashMap<allot_store::EmployeeKey, u32> =
            book.employee_keys.iter().enumerate().filter_map(|(i, &k)| Some((k, people.get(&scheme.employees[i].id)?))).collect();
        let roles = scheme.roles.len();
        let mut keyed: Vec<(usize, LinkSpan<u32>)> = held
            .into_iter()
            .filter_map(|h| {
                let (row, role, employee) = (book.row_of_key(h.client)?, scheme.role(&h.role)?, *by_key.get(&h.employee)?);
                Some((row as usize * roles + role, LinkSpan { employee, from: h.from.0, until: h.to.map(|d| d.0) }))
            })
            .collect();
        keyed.sort_unstable_by_key(|(slot, t)| (*slot, t.from, t.employee));
        let mut start = vec![0u32; book.client_keys.len() * roles + 1];
        for (slot, _) in &keyed {
            start[slot + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        Holders { people, start, spans: keyed.into_iter().map(|(_, t)| t).collect() }
    }

    fn of(&self, client_row: u32, role: usize, roles: usize) -> &[LinkSpan<u32>] {
        let slot = client_row as usize * roles + role;
        &self.spans[self.start[slot] as usize..self.start[slot + 1] as usize]
    }
}

/// Credits the sales of `req`'s period in the book [`open_period`] opened, one at a time, to
/// `visit`, in the store's order of deals. The store must not have changed since the book was
/// opened (it is refused otherwise: run again).
pub fn credit_sales(
    store: &mut dyn Store,
    book: &mut State,
    req: &CreditRequest,
    visit: &mut dyn FnMut(&Sale<'_>),
) -> Result<Outcome, AppError> {
    let _span = tracing::info_span!("credit_sales").entered();
    let cs = book.loaded.scheme.credit.clone().ok_or_else(|| AppError::Refused("the scheme has no [credit] section".into()))?;
    let reading = Reading::of(book, &cs)?;
    let shape: Vec<(String, Type)> = book.loaded.data.deals.columns().map(|(n, t)| (n.to_string(), t)).collect();
    let index: FxHashMap<&str, usize> = reading.wanted.iter().map(|&c| (shape[c].0.as_str(), c)).collect();
    let width = shape.len();
    // By time in role a deal's history reaches back to when it was opened, which may be before
    // the period; at the sale date only the period's own days count.
    let since = match cs.policy {
        Policy::SaleDate => Some(req.first),
        Policy::TimeInRole => None,
    };

    let period = allot_store::SalesPeriod {
        held_from: since.map(allot_store::Day),
        first: allot_store::Day(req.first),
        last: allot_store::Day(req.last),
    };
    let (tx, rx) = mpsc::sync_channel::<Msg>(4);
    // Chunks go back to the reader once credited, so that their buffers are filled again rather
    // than allocated anew.
    let (back_tx, back) = mpsc::channel::<Chunk>();
    std::thread::scope(|scope| -> Result<Outcome, AppError> {
        let reader = scope.spawn(move || -> Result<i64, StoreError> {
            let (mut held, mut chunk) = (Vec::new(), Chunk::default());
            let mut deals_begun = false;
            let mut gone = false;
            let revision = store.read_sales(&period, &mut |row| match row {
                SalesRow::Link(h) => held.push(h),
                SalesRow::Deal { id, client, attrs, routed } => {
                    if !deals_begun {
                        deals_begun = true;
                        gone |= tx.send(Msg::Links(std::mem::take(&mut held))).is_err();
                    }
                    chunk.push(id, client, attrs, routed, &index, width);
                    if chunk.ids.len() == CHUNK && !gone {
                        let next = back.try_recv().unwrap_or_default();
                        gone |= tx.send(Msg::Deals(std::mem::replace(&mut chunk, next))).is_err();
                    }
                }
            })?;
            if !deals_begun {
                let _ = tx.send(Msg::Links(held));
            }
            let _ = tx.send(Msg::Deals(chunk));
            Ok(revision)
        });
        let credited = credit_stream(book, req, (&cs, &reading, &shape), (rx, back_tx), visit);
        let revision = reader.join().map_err(|_| AppError::Refused("reading the store's deals failed".into()))??;
        if revision != book.snap.revision {
            return Err(AppError::Refused(format!(
                "the store changed while the sales were read (revision {} → {revision}): run the command again",
                book.snap.revision
            )));
        }
        credited
    })
}

/// The consuming side of [`credit_sales`]: types each chunk, credits its sales of the period on
/// both cores, and hands them to `visit` in the store's order.
fn credit_stream(
    book: &mut State,
    req: &CreditRequest,
    (cs, reading, shape): (&CreditScheme, &Reading, &[(String, Type)]),
    (rx, back): (mpsc::Receiver<Msg>, mpsc::Sender<Chunk>),
    visit: &mut dyn FnMut(&Sale<'_>),
) -> Result<Outcome, AppError> {
    let mut out = Outcome { sales: 0, policy: cs.policy, uncredited: Vec::new() };
    let Ok(Msg::Links(held)) = rx.recv() else {
        return Ok(out); // the reader failed; its error is reported
    };
    let mut holders = Holders::new(book, held);
    let roles = book.loaded.scheme.roles.len();
    let (mut rows, mut owners, mut scratch, mut routed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut bad = Vec::<(u32, String)>::new();
    while let Ok(Msg::Deals(mut chunk)) = rx.recv() {
        out.uncredited.append(&mut chunk.unreadable);
        let loaded = &mut book.loaded;
        // The chunk's table, of the book's deal columns; only the wanted ones are filled.
        let mut deals = Table::with_capacity(shape, chunk.ids.len());
        bad.clear();
        rows.clear();
        routed.clear();
        for (i, &(a, b)) in chunk.ids.iter().enumerate() {
            let id = &chunk.text[a as usize..b as usize];
            if deals.begin_row(id).is_err() {
                out.uncredited.push(Uncredited { deal: id.into(), reason: "its id is stored twice".into() });
                continue;
            }
            rows.push(book.client_keys.binary_search(&chunk.clients[i]).map_or(u32::MAX, |r| r as u32));
            routed.push(chunk.routed[i]);
            for (c, (name, ty)) in shape.iter().enumerate() {
                let raw = &chunk.cells[i * shape.len() + c];
                if let Err(found) = allot_io::tables::push_typed(&mut deals, c, chunk.cell(raw), *ty, &mut loaded.data, &mut scratch) {
                    bad.push((deals.len() as u32 - 1, format!("`{name}` is {found}, not {}", ty.name())));
                }
            }
        }
        chunk.clear();
        let _ = back.send(chunk);
        loaded.data.deal_client = rows.iter().map(|&r| if r == u32::MAX { 0 } else { r }).collect();
        loaded.data.deals = deals;
        let (scheme, data) = (&loaded.scheme, &loaded.data);
        let n = data.deals.len() as u32;
        // Explicit owners first: they may be people the book does not know.
        owners.clear();
        for row in 0..n {
            for &(_, c) in &reading.explicit {
                owners.push(data.deals.display(c, row, data).map_or(u32::MAX, |who| holders.people.intern(&who)));
            }
        }
        let ctx = Rows {
            req,
            cs,
            reading,
            scheme,
            data,
            // Compiled per chunk: the chunk may have brought a condition's text value into the dictionary.
            matchers: cs.rules.iter().map(|r| Matcher::compile(&r.cond, &data.dict)).collect(),
            holders: &holders,
            roles,
            client_rows: &rows,
            owners: &owners,
            bad: &bad,
            routed: &routed,
        };
        let (first, second) = rayon::join(|| ctx.credit(0..n / 2), || ctx.credit(n / 2..n));
        for half in [first, second] {
            for (row, done) in half.done {
                let deal = data.deals.id(row);
                match done {
                    Done::Outside => {}
                    Done::Refused(reason) => out.uncredited.push(Uncredited { deal: deal.into(), reason }),
                    Done::Sale { client_row, date, currency, parts } => {
                        let client = data.clients.id(client_row);
                        visit(&Sale { deal, client, client_row, date, currency, parts: &half.parts[parts] });
                        out.sales += 1;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// What one deal of a chunk came to.
enum Done<'a> {
    /// Dated outside the period.
    Outside,
    Refused(String),
    /// Credited; its parts are `parts` of the half's buffer.
    Sale {
        client_row: u32,
        date: i32,
        currency: &'a str,
        parts: std::ops::Range<usize>,
    },
}

/// The rows of a half chunk, credited.
struct Half<'a> {
    done: Vec<(u32, Done<'a>)>,
    parts: Vec<Part<'a>>,
}

/// What crediting a chunk's rows reads (shared by both halves).
struct Rows<'a> {
    req: &'a CreditRequest,
    cs: &'a CreditScheme,
    reading: &'a Reading,
    scheme: &'a allot_core::Scheme,
    data: &'a allot_core::data::Data,
    matchers: Vec<Matcher>,
    holders: &'a Holders,
    roles: usize,
    /// Each deal's client row (`u32::MAX`: not in the book).
    client_rows: &'a [u32],
    /// Each deal's explicit owners (`reading.explicit.len()` per deal; `u32::MAX`: none).
    owners: &'a [u32],
    /// Deals with a value not of its column's type, by row.
    bad: &'a [(u32, String)],
    /// Whether each deal (by row) came in through routing.
    routed: &'a [bool],
}

impl<'a> Rows<'a> {
    fn credit(&self, range: std::ops::Range<u32>) -> Half<'a> {
        let mut half = Half { done: Vec::with_capacity(range.len()), parts: Vec::with_capacity(range.len() * 3) };
        let (mut crediting, mut parts) = (Crediting::default(), Vec::new());
        for row in range {
            let done = self.credit_row(row, &mut crediting, &mut parts, &mut half.parts);
            half.done.push((row, done));
        }
        half
    }

    /// One deal: refused with the reason, outside the period, or credited into `out`.
    fn credit_row(&self, row: u32, crediting: &mut Crediting<u32>, parts: &mut Vec<Credit<u32>>, out: &mut Vec<Part<'a>>) -> Done<'a> {
        let (reading, cs, data) = (self.reading, self.cs, self.data);
        let deals = &data.deals;
        if let Ok(i) = self.bad.binary_search_by_key(&row, |b| b.0) {
            return Done::Refused(self.bad[i].1.clone());
        }
        let day = |c: usize| -> Result<Option<i32>, String> {
            if let Some(d) = deals.date(c, row) {
                return Ok(Some(d));
            }
            match deals.display(c, row, data) {
                None => Ok(None),
                Some(t) => allot_rules::parse_iso_date(t.trim())
                    .map(Some)
                    .ok_or_else(|| format!("`{}` = `{t}` is not a date (YYYY-MM-DD)", deals.column_name(c))),
            }
        };
        let (d, o) = match (day(reading.date), reading.opened.map(day).transpose()) {
            (Ok(Some(d)), Ok(o)) => (d, o.flatten()),
            (Ok(None), _) => return Done::Refused("no sale date".into()),
            (Err(e), _) | (_, Err(e)) => return Done::Refused(e),
        };
        if d < self.req.first || d > self.req.last {
            return Done::Outside;
        }
        if self.routed[row as usize] && !cs.routed_sales {
            return Done::Refused(
                "routed over HTTP (POST /v1/route): a lead in progress, not a sale ([credit] routed_sales = false)".into(),
            );
        }
        if let Some(c) = reading.stage {
            let st = text_of(data, c, row);
            if !st.as_deref().is_some_and(|st| cs.stages.iter().any(|x| x == st)) {
                let said = st.map_or_else(|| "no stage".to_string(), |s| format!("stage `{s}`"));
                return Done::Refused(format!("{said} is not a sale ([credit] stages = {:?})", cs.stages));
            }
        }
        let client_row = self.client_rows[row as usize];
        if client_row == u32::MAX {
            return Done::Refused("its client is not in the store's snapshot".into());
        }
        let a = match deals.number(reading.amount, row) {
            Some(x) if x.fract() != 0.0 || !x.is_finite() => return Done::Refused(format!("amount {x} is not a whole number of kopecks")),
            Some(x) if x < 0.0 => return Done::Refused(format!("amount {x} is negative")),
            Some(x) => x as i64,
            None => {
                let shown = deals.display(reading.amount, row, data).unwrap_or_else(|| "empty".into());
                return Done::Refused(format!("amount `{shown}` is not a number"));
            }
        };
        let row_ref = RowRef { data, client: client_row, deal: Some(row) };
        let Some(rule) = self.matchers.iter().position(|m| m.eval(&row_ref) == Tri::True) else {
            return Done::Refused("no [[credit.shares]] applies".into());
        };
        let holders = self.holders;
        let owners = &self.owners[row as usize * reading.explicit.len()..][..reading.explicit.len()];
        let explicit: Vec<(usize, [LinkSpan<u32>; 1])> = (reading.explicit.iter().zip(owners))
            .filter(|(_, &who)| who != u32::MAX)
            .map(|(&(r, _), &who)| (r, [LinkSpan { employee: who, from: i32::MIN, until: None }]))
            .collect();
        let held = |r: usize| -> &[LinkSpan<u32>] {
            explicit.iter().find(|x| x.0 == r).map(|x| &x.1[..]).unwrap_or_else(|| holders.of(client_row, r, self.roles))
        };
        let start = out.len();
        for (kind, shares) in [("revenue", &cs.rules[rule].revenue), ("overlay", &cs.rules[rule].overlay)] {
            let rs: Vec<RoleShare<u32>> = shares.iter().map(|&(r, bp)| RoleShare { basis_points: bp, spans: held(r) }).collect();
            crediting.credit(a, d, o, &rs, cs.policy, parts);
            out.extend(parts.iter().map(|c| Part {
                kind,
                role: self.scheme.roles[shares[c.share].0].id.as_str(),
                employee: c.employee.map_or("", |e| holders.people.name(e)),
                amount: c.amount,
            }));
        }
        let currency = reading.currency.and_then(|c| deals.text(c, row)).map_or("", |s| data.dict.str(s));
        Done::Sale { client_row, date: d, currency, parts: start..out.len() }
    }
}

/// A cell as text (a text column's value without a copy).
fn text_of<'d>(data: &'d allot_core::data::Data, col: usize, row: u32) -> Option<std::borrow::Cow<'d, str>> {
    match data.deals.text(col, row) {
        Some(s) => Some(std::borrow::Cow::Borrowed(data.dict.str(s))),
        None => data.deals.display(col, row, data).map(std::borrow::Cow::Owned),
    }
}

/// The credit lines as CSV: deal, client, date, kind, role, employee, amount (kopecks), currency.
pub struct CsvLines<'w> {
    out: csv::Writer<&'w mut dyn std::io::Write>,
    failed: Option<std::io::Error>,
    /// Dates as text, once per day.
    days: FxHashMap<i32, String>,
    amount: String,
}

impl<'w> CsvLines<'w> {
    pub fn new(w: &'w mut dyn std::io::Write) -> std::io::Result<CsvLines<'w>> {
        let mut out = csv::WriterBuilder::new().buffer_capacity(1 << 20).from_writer(w);
        out.write_record(["deal_id", "client_id", "date", "kind", "role", "employee_id", "amount", "currency"])?;
        Ok(CsvLines { out, failed: None, days: FxHashMap::default(), amount: String::new() })
    }
    pub fn add(&mut self, s: &Sale<'_>) {
        if self.failed.is_some() {
            return;
        }
        let date = self.days.entry(s.date).or_insert_with(|| allot_rules::civil_from_days(s.date));
        for p in s.parts {
            self.amount.clear();
            let _ = write!(self.amount, "{}", p.amount);
            if let Err(e) = self.out.write_record([s.deal, s.client, date, p.kind, p.role, p.employee, &self.amount, s.currency]) {
                self.failed = Some(e.into());
                return;
            }
        }
    }
    pub fn finish(mut self) -> std::io::Result<()> {
        match self.failed.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

/// Kopecks as roubles, digits grouped as in the other reports: 1234567 → "12 345,67".
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{},{:02}", crate::report::group((abs / 100) as f64), abs % 100)
}

/// Revenue credit by role, overlay credit, and the sales an employee was credited for.
#[derive(Default)]
struct Tally {
    roles: FxHashMap<u32, i64>,
    overlay: i64,
    sales: usize,
}

/// Per employee and currency: revenue credit by role, overlay, and the number of sales; fed one
/// sale at a time.
#[derive(Default)]
pub struct Summary {
    /// (employee, currency) → tally, by the names below.
    by: FxHashMap<(u32, u32), Tally>,
    employees: Names,
    currencies: Names,
    roles: Names,
}

impl Summary {
    pub fn add(&mut self, s: &Sale<'_>) {
        let cur = self.currencies.intern(s.currency);
        for (i, p) in s.parts.iter().enumerate() {
            let who = self.employees.intern(if p.employee.is_empty() { "(unassigned)" } else { p.employee });
            let t = self.by.entry((who, cur)).or_default();
            match p.kind {
                "revenue" => *t.roles.entry(self.roles.intern(p.role)).or_default() += p.amount,
                _ => t.overlay += p.amount,
            }
            // A sale counts once per employee, however many parts they have of it.
            if !s.parts[..i].iter().any(|q| q.employee == p.employee) {
                t.sales += 1;
            }
        }
    }

    pub fn text(&self, o: &Outcome) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} sales credited ({}); {} not credited",
            o.sales,
            match o.policy {
                Policy::SaleDate => "to the holder on the sale date",
                Policy::TimeInRole => "by time in role",
            },
            o.uncredited.len()
        );
        let _ = writeln!(s, "{:<24} {:>4} {:>18} {:>18}  {:>6}  by role", "employee", "cur", "revenue credit", "overlay", "sales");
        let mut by: Vec<(&str, &str, &Tally)> =
            self.by.iter().map(|(&(e, c), t)| (self.employees.name(e), self.currencies.name(c), t)).collect();
        by.sort_by_key(|x| (x.0, x.1));
        for (e, cur, t) in by {
            let total: i64 = t.roles.values().sum();
            let roles: BTreeMap<&str, i64> = t.roles.iter().map(|(&r, &a)| (self.roles.name(r), a)).collect();
            let parts: Vec<String> = roles.iter().map(|(r, a)| format!("{r} {}", money(*a))).collect();
            let _ = writeln!(s, "{e:<24} {cur:>4} {:>18} {:>18}  {:>6}  {}", money(total), money(t.overlay), t.sales, parts.join(", "));
        }
        not_credited(&o.uncredited, &mut s);
        s
    }
}

/// How many of the deals not credited a terminal shows.
const SHOWN: usize = 20;

/// The deals not credited, for a terminal: the first [`SHOWN`] with the reason, then how many more.
pub fn not_credited(list: &[Uncredited], s: &mut String) {
    if list.is_empty() {
        return;
    }
    let _ = writeln!(s, "\nnot credited ({}):", list.len());
    for u in list.iter().take(SHOWN) {
        let _ = writeln!(s, "  {:<16} {}", u.deal, u.reason);
    }
    if list.len() > SHOWN {
        let _ = writeln!(s, "  … and {} more (--uncredited FILE lists them all)", list.len() - SHOWN);
    }
}

/// The deals not credited as CSV: deal_id, reason.
pub fn write_uncredited(list: &[Uncredited], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(["deal_id", "reason"])?;
    for u in list {
        out.write_record([&u.deal, &u.reason])?;
    }
    out.flush()
}
