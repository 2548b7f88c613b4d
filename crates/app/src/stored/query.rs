//! Questions (history, owners on a day, an employee's book, explanations) and registrations (pins,
//! absences, leavers).

use super::*;

/// Every link a client ever had.
pub fn history(store: &mut dyn Store, client: &str) -> Result<Vec<LinkEntry>, AppError> {
    Ok(store.history(client)?)
}

/// The book on a day: every link, or one client's.
pub fn owners_at(store: &mut dyn Store, date: i32, client: Option<&str>) -> Result<Vec<LinkEntry>, AppError> {
    let _span = tracing::info_span!("owners_at").entered();
    Ok(store.owners_at(allot_store::Day(date), client)?)
}

/// An employee's clients on a day.
pub fn book_of(store: &mut dyn Store, employee: &str, date: i32) -> Result<Vec<LinkEntry>, AppError> {
    Ok(store.book(employee, allot_store::Day(date))?)
}

/// The attributes a person needs to recognise a client in a list: its name and the segmentation
/// attributes of MISSION.md S2 with its potential, those it has.
pub const KEY_ATTRIBUTES: [&str; 7] = ["name", "region", "industry", "significance", "channel", "ownership", "potential"];

/// A client as a list shows it: id, name and [`KEY_ATTRIBUTES`] (as text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientSummary {
    pub id: String,
    pub name: Option<String>,
    pub attributes: Vec<(String, String)>,
}

impl ClientSummary {
    /// The value of one of the [`KEY_ATTRIBUTES`] after the name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A stored attribute's value as a person reads it: numbers as allot prints them, lists joined by
/// `; `, nothing for null or an object.
fn attr_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => n.as_f64().map(allot_core::data::fmt_number),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Array(a) => Some(a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("; ")),
        _ => None,
    }
}

/// Summaries of stored clients, by id (those not stored are left out).
pub fn client_summaries(store: &mut dyn Store, ids: &[String]) -> Result<BTreeMap<String, ClientSummary>, AppError> {
    let mut out = BTreeMap::new();
    for (id, attrs) in store.client_attributes(ids)? {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&attrs).unwrap_or_default();
        let name = map.get("name").and_then(attr_text);
        let attributes = KEY_ATTRIBUTES[1..].iter().filter_map(|k| map.get(*k).and_then(attr_text).map(|v| (k.to_string(), v))).collect();
        out.insert(id.clone(), ClientSummary { id, name, attributes });
    }
    Ok(out)
}

/// Explains a stored client on a day: every rule tried and why its employees are its employees,
/// then the attributes stored with the client that no column declares (a routed lead's extra
/// form fields), so that nothing sent is invisible.
///
/// Bounded by the client, not the book (issue #13): the routing model (scheme, employees, their
/// absences on the day), the client's own attributes and its links on the day — never every client.
/// The explanation is the engine's over that one client: rules, territory, and its current
/// owners kept (or pinned) as the book keeps them.
pub fn explain_stored(store: &mut dyn Store, id: &str, day: i32, lang: allot_i18n::Lang) -> Result<String, AppError> {
    let mut model = crate::routing::Model::load(store).map_err(|e| match e {
        crate::routing::LoadError::Store(s) => AppError::Store(s),
        crate::routing::LoadError::Scheme(m) => AppError::Refused(m),
    })?;
    model.on(day);
    let Some((_, attrs)) = store.client_attributes(&[id.to_string()])?.pop() else {
        return Err(AppError::NotFound(format!("no client with id `{id}` in the store")));
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&attrs).unwrap_or_default();
    let mut data = Data::default();
    let mut table = Table::with_capacity(&model.columns, 1);
    let _ = table.begin_row(id);
    for (c, (name, ty)) in model.columns.iter().enumerate() {
        crate::routing::push_json(&mut table, c, *ty, map.get(name), &mut data);
    }
    data.clients = table;
    data.deals = Table::new(&model.deal_columns);
    let scheme = model.scheme;
    let current = store
        .owners_at(allot_store::Day(day), Some(id))?
        .iter()
        .filter_map(|s| {
            Some(CurrentLink {
                client: 0,
                role: scheme.role(&s.role)?,
                employee: scheme.employee(&s.employee)?,
                pinned: matches!(s.cause, Cause::Pin | Cause::Cover),
            })
        })
        .collect();
    let compiled = Compiled::new(&scheme, &data);
    let loaded = Loaded { scheme, data, compiled, current, warnings: vec![] };
    let opts = Options { today: day, ..Default::default() };
    let x = crate::explain(&loaded, id, false, &opts)
        .map_err(|e| AppError::NotFound(e.to_string().replace("the clients file", "the store")))?;
    let mut text = crate::report::explanation(&loaded.scheme, &loaded.data, &x, lang);
    let other: Vec<String> = map
        .iter()
        .filter(|(k, _)| loaded.data.clients.column_index(k).is_none())
        .filter_map(|(k, v)| attr_text(v).map(|t| format!("{k}={t}")))
        .collect();
    if !other.is_empty() {
        let other = other.join(", ");
        text.push_str(&format!("\n{}\n", lang.text("why-stored-only", &[("attrs", allot_i18n::Arg::Text(&other))])));
    }
    Ok(text)
}

/// An employee's clients on a day with what identifies each (name, region, potential ...).
pub fn book_with_clients(
    store: &mut dyn Store,
    employee: &str,
    date: i32,
) -> Result<(Vec<LinkEntry>, BTreeMap<String, ClientSummary>), AppError> {
    let rows = store.book(employee, allot_store::Day(date))?;
    let mut ids: Vec<String> = rows.iter().map(|r| r.client.clone()).collect();
    ids.dedup();
    let clients = client_summaries(store, &ids)?;
    Ok((rows, clients))
}

/// One page of an employee's book: the links of the page with their clients' names, and how many
/// links the whole (searched) book has.
#[derive(Debug, Clone, Default)]
pub struct BookPage {
    pub rows: Vec<(LinkEntry, ClientSummary)>,
    pub total: u64,
}

/// Page `page` (from 0) of `per_page` links of an employee's book on `date`, by client id;
/// `search` finds clients by id or name, whatever the case. Reads the page, not the book.
pub fn book_page(
    store: &mut dyn Store,
    employee: &str,
    date: i32,
    search: Option<&str>,
    order: allot_store::BookOrder,
    page: u64,
    per_page: u64,
) -> Result<BookPage, AppError> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    let request = allot_store::BookPageRequest {
        employee,
        date: allot_store::Day(date),
        search,
        order,
        offset: page.saturating_mul(per_page),
        limit: per_page,
    };
    let (rows, total) = store.book_page(&request)?;
    let mut ids: Vec<String> = rows.iter().map(|r| r.client.clone()).collect();
    ids.dedup();
    let clients = client_summaries(store, &ids)?;
    let rows = rows.into_iter().map(|r| {
        let summary = clients.get(&r.client).cloned().unwrap_or_else(|| ClientSummary { id: r.client.clone(), ..Default::default() });
        (r, summary)
    });
    Ok(BookPage { rows: rows.collect(), total })
}

/// Roles the active scheme knows (standard ones when there is no scheme yet).
pub fn known_roles(store: &mut dyn Store) -> Result<Vec<String>, AppError> {
    Ok(role_titles(store, allot_i18n::Lang::En)?.0.into_iter().map(|(id, _)| id).collect())
}

/// The roles a person reads, by id: the five of S4.2 by the catalogue, in `lang`; the active
/// scheme's own by the `name` the scheme gives them (S4.3: a role is not a job title, so its name
/// is the scheme's to choose, often in Russian), or their id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleTitles(pub Vec<(String, String)>);

impl RoleTitles {
    /// The title of `id`; the id itself for a role no longer in the scheme (history keeps those).
    pub fn of<'a>(&'a self, id: &'a str) -> &'a str {
        self.0.iter().find(|(r, _)| r == id).map_or(id, |(_, t)| t.as_str())
    }
}

pub fn role_titles(store: &mut dyn Store, lang: allot_i18n::Lang) -> Result<RoleTitles, AppError> {
    let mut roles: Vec<(String, String)> =
        allot_core::model::STANDARD_ROLES.iter().map(|(id, _)| (id.to_string(), lang.t(&format!("role-title-{id}")))).collect();
    if let Some(active) = store.active_scheme()? {
        if let Ok(own) = allot_io::scheme::role_titles(&active.text) {
            roles.extend(own.into_iter().map(|(id, name)| {
                let title = name.unwrap_or_else(|| id.clone());
                (id, title)
            }));
        }
    }
    Ok(RoleTitles(roles))
}

/// Pins a (client, role) to an employee; rules never move it until it is unpinned.
pub fn pin(store: &mut dyn Store, req: &allot_store::PinRequest<'_>, actor: &Actor) -> Result<allot_store::Pinned, AppError> {
    let roles = known_roles(store)?;
    if !roles.iter().any(|r| r == req.role) {
        let near = roles.iter().min_by_key(|r| strsim::levenshtein(r, req.role)).cloned().unwrap_or_default();
        let m = Message::new("refused-unknown-role").text("role", req.role).text("near", near).text("roles", roles.join(", "));
        return Err(AppError::Said(m));
    }
    if req.reason.trim().is_empty() {
        return Err(AppError::Said(Message::new("refused-pin-reason")));
    }
    let site = store.pin_site(req)?;
    Ok(store.pin(&pin_landing(req, site), actor)?)
}

/// What a pin does to the links (S1.1): when someone else holds the role on the pin's day, their
/// link ends that day and the pinned employee's starts, up to a link scheduled after it; when the
/// pinned employee holds it already, only the pin is recorded.
fn pin_landing<'a>(req: &'a allot_store::PinRequest<'a>, site: allot_store::PinSite) -> allot_store::PinLanding<'a> {
    let moves = site.held.as_ref().map(|h| h.employee) != Some(site.employee);
    let (mut close, mut open, mut moved_from) = (None, None, None);
    if moves {
        if let Some(h) = site.held {
            close = Some(allot_store::Close { link: h.link, at: req.date });
            moved_from = Some(h.employee_id);
        }
        open = Some(allot_store::Open {
            client: site.client,
            role: req.role.to_string(),
            employee: site.employee,
            from: req.date,
            to: site.next,
            cause: allot_store::Cause::Pin,
            rule: None,
            scheme: site.scheme,
            note: req.reason.to_string(),
            absence: None,
        });
    }
    allot_store::PinLanding { request: req, client: site.client, employee: site.employee, close, open, moved_from }
}

/// Ends the pin of (client, role); the next plan may move the link by the rules.
pub fn unpin(store: &mut dyn Store, client: &str, role: &str, actor: &Actor) -> Result<i64, AppError> {
    Ok(store.unpin(client, role, actor)?)
}

/// Corrects a routed client dated ahead (issue #13): its routed links start on `day`, today or
/// earlier. Returns the change and the links moved.
pub fn redate(store: &mut dyn Store, client: &str, day: i32, today: i32, actor: &Actor) -> Result<(i64, usize), AppError> {
    redate_day(day, today)?;
    Ok(store.redate_routed(client, allot_store::Day(day), actor)?)
}

/// A routed client is redated to today or earlier (checked before a front end opens the store).
pub fn redate_day(day: i32, today: i32) -> Result<(), AppError> {
    if day > today {
        return Err(AppError::Refused(format!("{} is after today; a routed client is redated to today or earlier", civil_from_days(day))));
    }
    Ok(())
}

/// Registers an absence; the next plan on a day within it arranges the cover.
pub fn absent(store: &mut dyn Store, employee: &str, first: i32, last: i32, cover: Option<&str>, actor: &Actor) -> Result<i64, AppError> {
    if last < first {
        return Err(AppError::Said(Message::new("refused-absence-order").day("first", first).day("last", last)));
    }
    if cover == Some(employee) {
        return Err(AppError::Said(Message::new("refused-cover-self")));
    }
    Ok(store.add_absence(employee, allot_store::Day(first), allot_store::Day(last), cover, actor)?)
}

/// Ends an absence early, on `last` (the employee is back the next day): the covers end and the
/// clients return then. History is kept: the absentee cannot be back before `today`, and the
/// covers' own days stay as they were. With `apply` false it only says what it would change.
pub fn end_absence(
    store: &mut dyn Store,
    id: i64,
    last: i32,
    today: i32,
    apply: bool,
    actor: &Actor,
) -> Result<allot_store::AbsenceEnd, AppError> {
    if last + 1 < today {
        return Err(AppError::Said(Message::new("refused-end-in-past").day("earliest", today - 1)));
    }
    Ok(store.end_absence(id, allot_store::Day(last), apply, actor)?)
}

/// Registers a leaver; the next plan on or after `on` hands their clients over for good.
pub fn leave(store: &mut dyn Store, employee: &str, on: i32, actor: &Actor) -> Result<i64, AppError> {
    Ok(store.add_leaver(employee, allot_store::Day(on), actor)?)
}

/// The change log.
pub fn changes(store: &mut dyn Store) -> Result<Vec<Change>, AppError> {
    Ok(store.changes()?)
}

/// The active scheme version.
pub fn active_scheme(store: &mut dyn Store) -> Result<Option<SchemeVersion>, AppError> {
    Ok(store.active_scheme()?)
}

/// A column the rule builder offers: its name, type, and values seen in the data (value, label:
/// a region's code with its Russian name).
#[derive(Debug, Clone, PartialEq)]
pub struct BuilderColumn {
    pub name: String,
    pub ty: allot_rules::Type,
    /// Whether the store knows the column's type (else a scheme using it declares it).
    pub declared: bool,
    pub values: Vec<(String, String)>,
}

/// Clients sampled for the builder's value lists.
pub const BUILDER_SAMPLE: u64 = 50_000;
/// Values listed per column at most (a column with more is typed freely).
pub const BUILDER_VALUES: usize = 300;

/// The client columns conditions can name, with the values a sample of the stored clients
/// holds; `region` lists every region of Russia by name whether or not the sample holds it.
pub fn builder_columns(store: &mut dyn Store) -> Result<Vec<BuilderColumn>, AppError> {
    use allot_rules::Type;
    let declared = store.columns(Subject::Client)?;
    let sample = store.sample_clients(BUILDER_SAMPLE)?;
    // Per attribute of the sample: the values (while few), and the type its values have.
    let mut seen: BTreeMap<String, (BTreeSet<String>, Option<Type>)> = BTreeMap::new();
    for attrs in &sample {
        let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(attrs) else { continue };
        for (k, v) in m {
            let (set, ty) = seen.entry(k).or_default();
            let this = match &v {
                serde_json::Value::Number(_) => Type::Number,
                serde_json::Value::Bool(_) => Type::Bool,
                serde_json::Value::Array(_) => Type::List,
                _ => Type::Text,
            };
            *ty = match *ty {
                None => Some(this),
                Some(t) if t == this => Some(t),
                Some(_) => Some(Type::Text),
            };
            let mut add = |x: &serde_json::Value| {
                if let (Some(t), true) = (x.as_str(), set.len() <= BUILDER_VALUES) {
                    set.insert(t.to_string());
                }
            };
            match &v {
                serde_json::Value::Array(items) => items.iter().for_each(&mut add),
                other => add(other),
            }
        }
    }
    let mut types: BTreeMap<String, (Type, bool)> = seen.iter().filter_map(|(k, (_, t))| t.map(|t| (k.clone(), (t, false)))).collect();
    for c in declared {
        if let Some(t) = Type::parse(&c.ty) {
            types.insert(c.name, (t, true));
        }
    }
    types.entry("region".into()).or_insert((Type::Text, false));
    let mut out = Vec::new();
    for (name, (ty, declared)) in types {
        let values = if name == "region" {
            let mut r: Vec<(String, String)> =
                allot_io::values::regions().names().iter().map(|(code, n)| (code.clone(), format!("{n} ({code})"))).collect();
            r.sort_by(|a, b| a.1.cmp(&b.1));
            r
        } else if matches!(ty, Type::Text | Type::List) {
            match seen.remove(&name) {
                Some((v, _)) if v.len() <= BUILDER_VALUES => v.into_iter().map(|x| (x.clone(), x)).collect(),
                _ => vec![],
            }
        } else {
            vec![]
        };
        out.push(BuilderColumn { name, ty, declared, values });
    }
    Ok(out)
}

/// The teams an employee's stored attributes name (`teams`: a list, or text separated by `;`
/// or `,`).
pub fn teams_of(attrs: &str) -> Vec<String> {
    let split = |t: &str| t.split([';', ',']).map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect::<Vec<_>>();
    match serde_json::from_str::<serde_json::Value>(attrs) {
        Ok(serde_json::Value::Object(m)) => match m.get("teams") {
            Some(serde_json::Value::String(t)) => split(t),
            Some(serde_json::Value::Array(items)) => items.iter().filter_map(|i| i.as_str()).flat_map(split).collect(),
            _ => vec![],
        },
        _ => vec![],
    }
}

/// Every team the stored employees name, sorted.
pub fn teams(people: &allot_store::Snapshot) -> Vec<String> {
    people.employees.iter().flat_map(|e| teams_of(&e.attrs)).collect::<BTreeSet<_>>().into_iter().collect()
}
