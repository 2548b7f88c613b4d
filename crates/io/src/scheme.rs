//! The scheme file: one TOML file a head of sales can read. See `docs/scheme.md` for the format.
//!
//! Reading happens in two steps because the conditions are type-checked against the data:
//! [`SchemeFile::parse`] checks the TOML and its shape and gives the declared column types (which
//! the data readers need); [`SchemeFile::build`] resolves every reference (roles, employees,
//! teams, territories) and type-checks every condition against the loaded data. Both report every
//! problem at once, located at file:line:column with the text underlined.

use std::collections::BTreeMap;

use allot_core::credit::{CreditRule, CreditScheme, Policy};
use allot_core::data::{Data, DataSchema, Subject};
use allot_core::diag::Diagnostic;
use allot_core::model::{Employee, Member, Role, RoleIx, Rule, Scheme, Strategy, Target, Territory};
use allot_rules::Type;
use serde::Deserialize;
use toml::Spanned;

use crate::sheet::Sheet;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Doc {
    name: Option<String>,
    #[serde(default)]
    columns: BTreeMap<String, Spanned<ColumnDoc>>,
    #[serde(default)]
    deal_columns: BTreeMap<String, Spanned<ColumnDoc>>,
    /// Value dictionaries per column: what the file says → what the scheme uses.
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    measures: Measures,
    #[serde(default)]
    roles: Vec<Spanned<RoleDoc>>,
    #[serde(default)]
    teams: Vec<Spanned<TeamDoc>>,
    #[serde(default)]
    territories: Vec<Spanned<TerritoryDoc>>,
    #[serde(default)]
    rules: Vec<Spanned<RuleDoc>>,
    credit: Option<Spanned<CreditDoc>>,
    crm: Option<Spanned<CrmDoc>>,
    notify: Option<Spanned<NotifyDoc>>,
}

/// `[notify]`: who is told that clients became theirs (issue #18 §4).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyDoc {
    owners: Option<bool>,
    managers: Option<bool>,
    unassigned_after: Option<Spanned<i64>>,
}

/// The `[notify]` section, checked: who is told that clients became theirs, and when a lead left
/// with nobody alerts the managers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// Each new owner is told of the clients the change gave them (default: yes).
    pub owners: bool,
    /// The managers of the new owner's teams are told too (default: no).
    pub managers: bool,
    /// Minutes after which a routed lead still with nobody in a role alerts its team's managers.
    pub unassigned_after: Option<u32>,
}

/// `[crm]`: the CRM where the sales team works, and how its records become allot's (issue #18).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CrmDoc {
    system: Spanned<String>,
    /// The portal's user field that holds the employee's id in allot.
    employee: Option<Spanned<String>>,
    /// The portal's company fields → the clients' attributes.
    #[serde(default)]
    clients: BTreeMap<String, Spanned<String>>,
    /// The role whose person is the record's responsible (`ASSIGNED_BY_ID`).
    owner: Option<Spanned<String>>,
    /// Other roles → the company's user field (of type user) that holds their person.
    #[serde(default)]
    roles: BTreeMap<String, Spanned<String>>,
    /// Whether the CRM's leads are clients too (`lead-ID`), beside its companies.
    leads: Option<bool>,
    /// Whether the CRM's contacts are clients too (`contact-ID`): a company selling to people.
    contacts: Option<bool>,
    /// The CRM's deal fields → the deals' attributes (a deal's client is its company, else its
    /// contact).
    #[serde(default)]
    deals: BTreeMap<String, Spanned<String>>,
}

/// The CRMs allot connects to.
pub const CRM_SYSTEMS: &[&str] = &["bitrix24", "amocrm"];
/// The user fields that may name an employee (Bitrix24's `user.get`).
pub const CRM_EMPLOYEE_FIELDS: &[&str] = &["ID", "EMAIL", "XML_ID"];

/// The `[crm]` section, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmMap {
    pub system: String,
    /// The user field that holds the employee's id (`ID` unless given).
    pub employee: String,
    /// (the portal's company field, the client attribute), by field.
    pub clients: Vec<(String, String)>,
    /// The role written back as the company's responsible (`ASSIGNED_BY_ID`): `sales` unless given.
    pub owner: String,
    /// (role, the company's user field written back with its person), by role.
    pub roles: Vec<(String, String)>,
    /// Whether a pull reads the CRM's leads too, as clients `lead-ID` (by the same field map).
    pub leads: bool,
    /// Whether a pull reads the CRM's contacts too, as clients `contact-ID`.
    pub contacts: bool,
    /// (the CRM's deal field, the deal attribute), by field: a pull reads the deals when given.
    pub deals: Vec<(String, String)>,
}

/// Whether `field` names a company field of `system`: Bitrix24 writes its fields `TITLE`,
/// `ADDRESS_REGION`, `UF_CRM_1700000000`; amoCRM has `name`, the codes of its standard custom
/// fields (`PHONE`, `EMAIL`, `WEB`, `ADDRESS`), a lead's `price` and the ids of the account's own (`cf_512345`).
fn system_field(system: &str, field: &str) -> bool {
    if system == "amocrm" {
        return field == "name"
            || field == "price"
            || field.strip_prefix("cf_").is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
            || (crm_field(field) && !field.starts_with("UF_"));
    }
    crm_field(field)
}

/// Whether `field` is written as the portal writes its fields: `TITLE`, `ADDRESS_REGION`,
/// `UF_CRM_1700000000`.
fn crm_field(field: &str) -> bool {
    field.starts_with(|c: char| c.is_ascii_uppercase()) && field.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// An entry of `[columns]`: a type (`"number"`), the file's header that holds the attribute
/// (`"Регион"`), or both (`{ from = "Регион", type = "text" }`).
#[derive(Deserialize)]
#[serde(untagged)]
enum ColumnDoc {
    Word(String),
    Table(ColumnTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnTable {
    from: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreditDoc {
    policy: Option<Spanned<String>>,
    stages: Option<Vec<String>>,
    /// Whether deals routed over HTTP count as sales.
    routed_sales: Option<bool>,
    #[serde(default)]
    shares: Vec<Spanned<SharesDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SharesDoc {
    when: Option<Spanned<String>>,
    #[serde(default)]
    revenue: BTreeMap<String, Spanned<f64>>,
    #[serde(default)]
    overlay: BTreeMap<String, Spanned<f64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Measures {
    potential: Option<String>,
    workload: Option<String>,
    amount: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleDoc {
    id: Spanned<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamDoc {
    id: Spanned<String>,
    /// For the people who read the file; allot shows team ids.
    #[allow(dead_code)]
    name: Option<String>,
    #[serde(default)]
    members: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TerritoryDoc {
    id: Spanned<String>,
    name: Option<String>,
    parent: Option<Spanned<String>>,
    #[serde(rename = "where")]
    cond: Option<Spanned<String>>,
    attribute: Option<Spanned<String>>,
    values: Option<Vec<String>>,
    #[serde(default)]
    owners: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    id: Spanned<String>,
    role: Spanned<String>,
    on: Option<Spanned<String>>,
    when: Option<Spanned<String>>,
    employee: Option<Spanned<String>>,
    team: Option<Spanned<String>>,
    employees: Option<Vec<Spanned<String>>>,
    skills: Option<Vec<String>>,
    strategy: Option<Spanned<String>>,
    #[serde(default)]
    weights: BTreeMap<String, Spanned<f64>>,
    territory_owner: Option<Spanned<bool>>,
    /// Real-time routing: per-member caps in this role.
    caps: Option<Spanned<CapsDoc>>,
    /// Real-time routing: extra share a returning member catches up at.
    catch_up: Option<Spanned<f64>>,
    /// Real-time routing: the rule to try when this one's target cannot take the item.
    fallback: Option<Spanned<String>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct CapsDoc {
    day: Option<u32>,
    week: Option<u32>,
    month: Option<u32>,
}

/// A parsed scheme file, not yet resolved against data.
pub struct SchemeFile {
    pub file: String,
    text: String,
    /// Byte offset where each line starts (the first is 0).
    line_starts: Vec<usize>,
    doc: Doc,
    /// Declared types of client columns.
    pub columns: BTreeMap<String, Type>,
    /// Declared types of deal columns.
    pub deal_columns: BTreeMap<String, Type>,
    /// Client attributes read from a header of another name: (attribute, header, where in the scheme).
    renames: Vec<(String, String, std::ops::Range<usize>)>,
    /// The same for deals.
    deal_renames: Vec<(String, String, std::ops::Range<usize>)>,
    /// Value dictionaries of client columns (the built-in regions and the scheme's `[values]`).
    pub values: crate::values::ValueMaps,
}

fn suggest<'a>(name: &str, options: impl IntoIterator<Item = &'a str>) -> Option<String> {
    options
        .into_iter()
        .map(|o| (strsim::levenshtein(o, name), o))
        .filter(|(d, o)| *d <= (o.chars().count() / 3).max(2))
        .min()
        .map(|(_, o)| format!("did you mean `{o}`?"))
}

impl SchemeFile {
    fn err<T>(&self, s: &Spanned<T>, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(msg).file(self.file.clone()).span_in(&self.text, s.span().start, s.span().end)
    }

    /// The `[crm]` section, when the scheme has one (checked by [`SchemeFile::parse`]).
    pub fn crm(&self) -> Option<CrmMap> {
        let c = self.doc.crm.as_ref()?.get_ref();
        Some(CrmMap {
            system: c.system.get_ref().clone(),
            employee: c.employee.as_ref().map_or_else(|| "ID".to_string(), |e| e.get_ref().clone()),
            clients: c.clients.iter().map(|(f, a)| (f.clone(), a.get_ref().trim().to_string())).collect(),
            owner: c.owner.as_ref().map_or_else(|| "sales".to_string(), |o| o.get_ref().trim().to_string()),
            roles: c.roles.iter().map(|(r, f)| (r.clone(), f.get_ref().trim().to_string())).collect(),
            leads: c.leads.unwrap_or(false),
            contacts: c.contacts.unwrap_or(false),
            deals: c.deals.iter().map(|(f, a)| (f.clone(), a.get_ref().trim().to_string())).collect(),
        })
    }

    /// The `[notify]` section, when the scheme has one (checked by [`SchemeFile::parse`]).
    pub fn notify(&self) -> Option<NotifySettings> {
        let n = self.doc.notify.as_ref()?.get_ref();
        Some(NotifySettings {
            owners: n.owners.unwrap_or(true),
            managers: n.managers.unwrap_or(false),
            unassigned_after: n.unassigned_after.as_ref().and_then(|m| u32::try_from(*m.get_ref()).ok()),
        })
    }

    /// Parses the TOML and checks its shape.
    pub fn parse(text: &str, file: &str) -> Result<SchemeFile, Vec<Diagnostic>> {
        let doc: Doc = toml::from_str(text).map_err(|e| {
            let mut d = Diagnostic::error(format!("the scheme is not valid: {}", e.message().trim())).file(file);
            if let Some(s) = e.span() {
                d = d.span_in(text, s.start, s.end);
            }
            vec![d]
        })?;
        let mut errors = Vec::new();
        let mut declared = [BTreeMap::new(), BTreeMap::new()];
        let mut renames = [Vec::new(), Vec::new()];
        for ((table, out), ren) in [&doc.columns, &doc.deal_columns].into_iter().zip(declared.iter_mut()).zip(renames.iter_mut()) {
            for (name, entry) in table {
                let span = entry.span();
                let (from, ty) = match entry.get_ref() {
                    // A word is a type when it names one, else the header that holds the column.
                    ColumnDoc::Word(w) if Type::parse(w).is_some() => (None, Some(w)),
                    ColumnDoc::Word(w) => (Some(w), None),
                    ColumnDoc::Table(t) => (t.from.as_ref(), t.ty.as_ref()),
                };
                if let Some(ty) = ty {
                    match Type::parse(ty) {
                        Some(t) => {
                            out.insert(name.clone(), t);
                        }
                        None => errors.push(
                            Diagnostic::error(format!("unknown type `{ty}` for column `{name}`"))
                                .file(file)
                                .span_in(text, span.start, span.end)
                                .expected("one of number, text, bool, date, list"),
                        ),
                    }
                }
                if let Some(from) = from {
                    if from.trim().is_empty() {
                        errors.push(
                            Diagnostic::error(format!("column `{name}` is read from an empty header name"))
                                .file(file)
                                .span_in(text, span.start, span.end)
                                .expected("a type (number, text, bool, date, list) or the file's header, e.g. region = \"Регион\""),
                        );
                    } else {
                        ren.push((name.clone(), from.trim().to_string(), span));
                    }
                }
            }
        }
        if let Some(crm) = &doc.crm {
            let at = |s: std::ops::Range<usize>, msg: String, expected: &str| {
                Diagnostic::error(msg).file(file).span_in(text, s.start, s.end).expected(expected)
            };
            let system = crm.get_ref().system.get_ref();
            if !CRM_SYSTEMS.contains(&system.as_str()) {
                errors.push(at(
                    crm.get_ref().system.span(),
                    format!("[crm] system `{system}` is not one allot connects to"),
                    "bitrix24 or amocrm",
                ));
            }
            if let Some(e) = &crm.get_ref().employee {
                if system == "amocrm" && !["ID", "EMAIL"].contains(&e.get_ref().as_str()) {
                    let msg = format!("[crm] employee: `{}` is not a field of amoCRM's users that can name an employee", e.get_ref());
                    errors.push(at(e.span(), msg, "ID or EMAIL: the user field that holds the employee's id"));
                } else if !CRM_EMPLOYEE_FIELDS.contains(&e.get_ref().as_str()) {
                    let msg = format!("[crm] employee: `{}` is not a user field that can name an employee", e.get_ref());
                    errors.push(at(e.span(), msg, "ID, EMAIL or XML_ID: the user field that holds the employee's id"));
                }
            }
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            for (field, attribute) in &crm.get_ref().clients {
                let (span, attr) = (attribute.span(), attribute.get_ref().trim());
                if !system_field(system, field) {
                    let msg = format!("[crm.clients]: `{field}` is not a field of the portal's companies");
                    let expected = if system == "amocrm" {
                        "name, a standard field's code (PHONE, EMAIL, WEB, ADDRESS) or a custom field's id, e.g. cf_512345"
                    } else {
                        "the field's code as the portal writes it, e.g. TITLE, INDUSTRY, ADDRESS_REGION, UF_CRM_1700000000"
                    };
                    errors.push(at(span, msg, expected));
                } else if attr.is_empty() || attr == "id" {
                    let msg = format!("[crm.clients] {field} = \"{attr}\": a client's id is the company's ID; name another attribute");
                    errors.push(at(span, msg, "an attribute of the clients, e.g. name, industry, region, potential"));
                } else if let Some(other) = seen.insert(attr, field) {
                    let msg = format!("[crm.clients]: `{attr}` would be read from two fields, {other} and {field}");
                    errors.push(at(span, msg, "one field per attribute"));
                }
            }
            let mut deal_attrs: BTreeMap<&str, &str> = BTreeMap::new();
            for (field, attribute) in &crm.get_ref().deals {
                let (span, attr) = (attribute.span(), attribute.get_ref().trim());
                if system == "amocrm" {
                    errors.push(at(span, "[crm.deals]: amoCRM's deals are its leads (`leads = true`)".into(), "no [crm.deals] for amoCRM"));
                } else if !crm_field(field) {
                    let msg = format!("[crm.deals]: `{field}` is not a field of the portal's deals");
                    errors.push(at(span, msg, "the field's code as the portal writes it, e.g. OPPORTUNITY, CLOSEDATE, STAGE_ID, UF_CRM_…"));
                } else if attr.is_empty() || attr == "id" || attr == "client_id" {
                    let msg = format!("[crm.deals] {field} = \"{attr}\": a deal's id and client come from the portal (ID, COMPANY_ID)");
                    errors.push(at(span, msg, "an attribute of the deals, e.g. amount, date, currency, stage"));
                } else if let Some(other) = deal_attrs.insert(attr, field) {
                    let msg = format!("[crm.deals]: `{attr}` would be read from two fields, {other} and {field}");
                    errors.push(at(span, msg, "one field per attribute"));
                }
            }
            // The roles written back: the scheme's own and the five of S4.2.
            let known = |role: &str| {
                allot_core::model::STANDARD_ROLES.iter().any(|(id, _)| *id == role)
                    || doc.roles.iter().any(|r| r.get_ref().id.get_ref() == role)
            };
            let mut roles: Vec<String> = allot_core::model::STANDARD_ROLES.iter().map(|(id, _)| id.to_string()).collect();
            roles.extend(doc.roles.iter().map(|r| r.get_ref().id.get_ref().clone()));
            let owner = crm.get_ref().owner.as_ref();
            if let Some(o) = owner {
                if !known(o.get_ref().trim()) {
                    let msg = format!("[crm] owner: `{}` is not a role of the scheme", o.get_ref());
                    errors.push(at(o.span(), msg, &format!("the role whose person is the company's responsible: {}", roles.join(", "))));
                }
            }
            let owner = owner.map_or("sales", |o| o.get_ref().trim());
            let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
            for (role, field) in &crm.get_ref().roles {
                let (span, f) = (field.span(), field.get_ref().trim());
                // The key's own place is not kept by the TOML reader: the value's is said.
                if system == "amocrm" {
                    let msg = format!("[crm.roles] {role}: amoCRM keeps one responsible user per record, written from the owner role");
                    errors.push(at(span, msg, "no [crm.roles] for amoCRM; `owner` says which role is the responsible user"));
                } else if !known(role) {
                    let msg = format!("[crm.roles]: `{role}` is not a role of the scheme");
                    errors.push(at(span, msg, &format!("a role: {}", roles.join(", "))));
                } else if role == owner {
                    let msg = format!("[crm.roles]: `{role}` is the owner role, written to ASSIGNED_BY_ID");
                    errors.push(at(span, msg, "another role, or leave this one out"));
                } else if !(f.starts_with("UF_CRM_") && crm_field(f)) {
                    let msg = format!("[crm.roles] {role} = \"{f}\": the field must be a user field of the companies");
                    errors.push(at(span, msg, "a user field of type user, e.g. UF_CRM_SERVICE_MANAGER"));
                } else if let Some(other) = fields.insert(f, role) {
                    let msg = format!("[crm.roles]: {f} would hold two roles, {other} and {role}");
                    errors.push(at(span, msg, "one field per role"));
                }
            }
        }
        if let Some(m) = doc.notify.as_ref().and_then(|n| n.get_ref().unassigned_after.as_ref()) {
            if !(1..=43_200).contains(m.get_ref()) {
                errors.push(
                    Diagnostic::error(format!("[notify] unassigned_after = {}: minutes from 1 to 43200 (30 days)", m.get_ref()))
                        .file(file)
                        .span_in(text, m.span().start, m.span().end)
                        .expected("the minutes a routed lead may wait for a person before the managers are told, e.g. 30"),
                );
            }
        }
        let mut maps = BTreeMap::new();
        for (column, pairs) in &doc.values {
            maps.insert(column.clone(), crate::values::ValueMap::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
        }
        let [columns, deal_columns] = declared;
        let [renames, deal_renames] = renames;
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let mut sf = SchemeFile {
            file: file.into(),
            text: text.into(),
            line_starts,
            doc: Doc::default(),
            columns,
            deal_columns,
            renames,
            deal_renames,
            values: crate::values::ValueMaps::with(maps),
        };
        sf.doc = doc;
        if errors.is_empty() {
            Ok(sf)
        } else {
            Err(errors)
        }
    }

    /// Gives the file's headers the attribute names `[columns]` (or `[deal_columns]`) maps them to:
    /// `region = "Регион"` reads the column headed `Регион` (in any case) as `region`. A header
    /// that is neither in the file nor already named as the attribute is an error located in the
    /// scheme, with the file's nearest header.
    pub fn rename_headers(&self, sheet: &mut Sheet, deals: bool) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for (attr, from, span) in if deals { &self.deal_renames } else { &self.renames } {
            let at = sheet
                .headers
                .iter()
                .position(|h| h == from)
                .or_else(|| sheet.headers.iter().position(|h| crate::values::key(h) == crate::values::key(from)));
            match at {
                Some(i) => {
                    if let Some(j) = sheet.headers.iter().position(|h| h == attr).filter(|&j| j != i) {
                        errors.push(
                            Diagnostic::error(format!("`{attr}` would be read from two columns of {}", sheet.file))
                                .file(self.file.clone())
                                .span_in(&self.text, span.start, span.end)
                                .expected(format!("one column for `{attr}`"))
                                .found(format!("columns {} (`{from}`) and {} (`{attr}`)", i + 1, j + 1)),
                        );
                    } else {
                        sheet.headers[i] = attr.clone();
                    }
                }
                None if sheet.headers.iter().any(|h| h == attr) => {}
                None => {
                    let mut d = Diagnostic::error(format!("column `{from}` is not in {}", sheet.file))
                        .file(self.file.clone())
                        .span_in(&self.text, span.start, span.end)
                        .expected(format!("a header of the file: {}", sheet.headers.join(", ")));
                    d.help = suggest(from, sheet.headers.iter().map(String::as_str));
                    errors.push(d);
                }
            }
        }
        errors
    }

    /// Byte offset in the file where the text of a string value starts.
    fn value_start(&self, s: &Spanned<String>) -> usize {
        let raw = self.text.get(s.span().start..s.span().end).unwrap_or("");
        let mut off = if raw.starts_with("'''") || raw.starts_with("\"\"\"") { 3 } else { 1 };
        if off == 3 && raw[3..].starts_with('\n') {
            off += 1;
        } else if off == 3 && raw[3..].starts_with("\r\n") {
            off += 2;
        }
        s.span().start + off
    }

    fn condition(&self, s: &Spanned<String>, data: &Data, subject: Subject, errors: &mut Vec<Diagnostic>) -> allot_rules::Cond {
        let schema = DataSchema { data, subject };
        match allot_rules::compile_text(s.get_ref(), &schema) {
            Ok(c) => c,
            Err(es) => {
                let base = self.value_start(s);
                for e in es {
                    let mut d = Diagnostic::error(e.message.clone()).file(self.file.clone()).span_in(
                        &self.text,
                        base + e.span.start,
                        base + e.span.end.max(e.span.start + 1),
                    );
                    d.expected = e.expected;
                    d.found = e.found;
                    d.help = e.help;
                    errors.push(d);
                }
                allot_rules::Cond::Const(false)
            }
        }
    }

    /// 1-based line and column (in characters) of a span's start, by binary search over the
    /// line starts (a scheme of 10,000 rules is not scanned 10,000 times).
    fn line_col<T>(&self, s: &Spanned<T>) -> (usize, usize) {
        let at = s.span().start.min(self.text.len());
        let line = self.line_starts.partition_point(|&l| l <= at);
        let start = self.line_starts[line - 1];
        (line, self.text.get(start..at).map_or(1, |t| t.chars().count() + 1))
    }

    /// Resolves the scheme against the loaded data and employees: roles, measures, teams,
    /// territories, rules and their fallbacks, credit — every problem of every part at once.
    pub fn build(&self, data: &Data, employees: Vec<Employee>) -> Result<Scheme, Vec<Diagnostic>> {
        let doc = &self.doc;
        let mut errors = Vec::new();
        let mut scheme = Scheme::new(employees);
        scheme.name = doc.name.clone().unwrap_or_default();
        scheme.file = Some(self.file.clone());
        scheme.potential = doc.measures.potential.clone();
        scheme.workload = doc.measures.workload.clone();
        scheme.amount = doc.measures.amount.clone();
        self.roles(&mut scheme, &mut errors);
        self.measures(data, &mut errors);
        let teams = self.teams(&scheme, &mut errors);
        self.territories(data, &mut scheme, &mut errors);
        let fallbacks = self.rules(data, &teams, &mut scheme, &mut errors);
        self.fallbacks(fallbacks, &mut scheme, &mut errors);
        if let Some(c) = &doc.credit {
            scheme.credit = Some(self.credit(c, data, &scheme, &mut errors));
        }
        if errors.is_empty() {
            Ok(scheme)
        } else {
            Err(errors)
        }
    }

    fn role_of(&self, s: &Spanned<String>, errors: &mut Vec<Diagnostic>, scheme: &Scheme) -> Option<usize> {
        let r = scheme.role(s.get_ref());
        if r.is_none() {
            let ids: Vec<&str> = scheme.roles.iter().map(|r| r.id.as_str()).collect();
            let mut d = self.err(s, format!("unknown role `{}`", s.get_ref())).expected(format!("one of {}", ids.join(", ")));
            d.help = suggest(s.get_ref(), ids.iter().copied());
            errors.push(d);
        }
        r
    }

    fn emp_of(&self, s: &Spanned<String>, errors: &mut Vec<Diagnostic>, scheme: &Scheme) -> Option<u32> {
        let e = scheme.employee(s.get_ref());
        if e.is_none() {
            let mut d = self.err(s, format!("unknown employee `{}`", s.get_ref())).expected("the id of an employee in the employees file");
            d.help = suggest(s.get_ref(), scheme.employees.iter().map(|e| e.id.as_str()));
            errors.push(d);
        }
        e
    }

    /// The scheme's own roles beside the five of S4.2.
    fn roles(&self, scheme: &mut Scheme, errors: &mut Vec<Diagnostic>) {
        let doc = &self.doc;
        for r in &doc.roles {
            let r = r.get_ref();
            if scheme.role(r.id.get_ref()).is_some() {
                errors.push(
                    self.err(&r.id, format!("role `{}` is defined twice", r.id.get_ref()))
                        .help("the five roles of S4.2 (lead, sales, account, service, admin) always exist"),
                );
                continue;
            }
            scheme.roles.push(Role { id: r.id.get_ref().clone(), name: r.name.clone().unwrap_or_else(|| r.id.get_ref().clone()) });
        }
    }

    /// The measure columns must be in the clients file.
    fn measures(&self, data: &Data, errors: &mut Vec<Diagnostic>) {
        let doc = &self.doc;
        for n in [&doc.measures.potential, &doc.measures.workload].into_iter().flatten() {
            if data.clients.column_index(n).is_none() {
                errors.push(
                    Diagnostic::error(format!("measure column `{n}` is not in the clients file")).file(self.file.clone()).field("measures"),
                );
            }
        }
    }

    /// Teams: members named in the scheme, plus employees whose `teams` column names the team.
    fn teams(&self, scheme: &Scheme, errors: &mut Vec<Diagnostic>) -> BTreeMap<String, Vec<u32>> {
        let doc = &self.doc;
        let mut teams: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for t in &doc.teams {
            let t = t.get_ref();
            if teams.contains_key(t.id.get_ref()) {
                errors.push(self.err(&t.id, format!("team `{}` is defined twice", t.id.get_ref())));
                continue;
            }
            let mut members = Vec::new();
            for m in &t.members {
                if let Some(e) = self.emp_of(m, errors, scheme) {
                    members.push(e);
                }
            }
            teams.insert(t.id.get_ref().clone(), members);
        }
        for (i, e) in scheme.employees.iter().enumerate() {
            for t in &e.teams {
                let v = teams.entry(t.clone()).or_default();
                if !v.contains(&(i as u32)) {
                    v.push(i as u32);
                }
            }
        }

        teams
    }

    /// The territory hierarchy with its owners per role (S2.1).
    fn territories(&self, data: &Data, scheme: &mut Scheme, errors: &mut Vec<Diagnostic>) {
        let doc = &self.doc;
        for t in &doc.territories {
            let origin = Some(self.line_col(t));
            let t = t.get_ref();
            let id = t.id.get_ref().clone();
            if scheme.territories.iter().any(|x| x.id == id) {
                errors.push(self.err(&t.id, format!("territory `{id}` is defined twice")));
                continue;
            }
            let parent = t.parent.as_ref().and_then(|p| {
                let found = scheme.territories.iter().position(|x| &x.id == p.get_ref());
                if found.is_none() {
                    let mut d =
                        self.err(p, format!("unknown parent territory `{}`", p.get_ref())).expected("a territory defined above this one");
                    d.help = suggest(p.get_ref(), scheme.territories.iter().map(|x| x.id.as_str()));
                    errors.push(d);
                }
                found
            });
            let (source, cond) = match (&t.cond, &t.attribute, &t.values) {
                (Some(w), None, None) => (w.get_ref().clone(), self.condition(w, data, Subject::Client, errors)),
                (None, Some(a), Some(vals)) => {
                    let src = format!("{} in [{}]", a.get_ref(), vals.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "));
                    let schema = DataSchema { data, subject: Subject::Client };
                    match allot_rules::compile_text(&src, &schema) {
                        Ok(c) => (src, c),
                        Err(es) => {
                            for e in es {
                                let mut d = self.err(a, e.message.clone());
                                d.expected = e.expected;
                                d.help = e.help;
                                errors.push(d);
                            }
                            (src, allot_rules::Cond::Const(false))
                        }
                    }
                }
                _ => {
                    errors.push(
                        self.err(&t.id, format!("territory `{id}` needs either `where = \"condition\"` or `attribute` with `values`"))
                            .expected("exactly one of the two"),
                    );
                    (String::new(), allot_rules::Cond::Const(false))
                }
            };
            let mut owners = Vec::new();
            for (role, emp) in &t.owners {
                let r = scheme.role(role);
                if r.is_none() {
                    let ids: Vec<&str> = scheme.roles.iter().map(|r| r.id.as_str()).collect();
                    let mut d = self
                        .err(emp, format!("unknown role `{role}` in the owners of territory `{id}`"))
                        .expected(format!("one of {}", ids.join(", ")));
                    d.help = suggest(role, ids.iter().copied());
                    errors.push(d);
                }
                if let (Some(r), Some(e)) = (r, self.emp_of(emp, errors, scheme)) {
                    owners.push((r, e));
                }
            }
            scheme.territories.push(Territory {
                origin,
                id,
                name: t.name.clone().unwrap_or_else(|| t.id.get_ref().clone()),
                parent,
                source,
                cond,
                owners,
            });
        }
    }

    /// The rules in priority order; returns each kept rule's position with the fallback it names.
    fn rules(
        &self,
        data: &Data,
        teams: &BTreeMap<String, Vec<u32>>,
        scheme: &mut Scheme,
        errors: &mut Vec<Diagnostic>,
    ) -> Vec<(usize, Option<Spanned<String>>)> {
        let doc = &self.doc;
        let has_potential = data.clients.column_index(doc.measures.potential.as_deref().unwrap_or("potential")).is_some();
        let mut fallbacks: Vec<(usize, Option<Spanned<String>>)> = Vec::new();
        for r in &doc.rules {
            let origin = Some(self.line_col(r));
            let r = r.get_ref();
            let id = r.id.get_ref().clone();
            if scheme.rules.iter().any(|x| x.id == id) {
                errors.push(self.err(&r.id, format!("rule `{id}` is defined twice")).expected("a unique id for every rule"));
            }
            let role = self.role_of(&r.role, errors, scheme);
            let subject = match r.on.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("client") => Subject::Client,
                Some("deal") => Subject::Deal,
                Some(other) => {
                    errors.push(
                        self.err(r.on.as_ref().expect("matched Some"), format!("`on = \"{other}\"` is not a subject"))
                            .expected("\"client\" or \"deal\""),
                    );
                    Subject::Client
                }
            };
            let (source, cond) = match &r.when {
                Some(w) => (w.get_ref().clone(), self.condition(w, data, subject, errors)),
                None => ("true".to_string(), allot_rules::Cond::Const(true)),
            };
            let pool_given = r.team.is_some() || r.employees.is_some();
            let owner_given = r.territory_owner.as_ref().is_some_and(|b| *b.get_ref());
            let n_targets = r.employee.is_some() as u8 + pool_given as u8 + owner_given as u8;
            if n_targets != 1 {
                errors.push(
                    self.err(&r.id, format!("rule `{id}` must name exactly one target"))
                        .expected("`employee = \"id\"`, a pool (`team = \"id\"` or `employees = [...]`), or `territory_owner = true`")
                        .found(if n_targets == 0 { "none".to_string() } else { format!("{n_targets}") }),
                );
                continue;
            }
            if !pool_given {
                for (what, given) in
                    [("strategy", r.strategy.is_some()), ("weights", !r.weights.is_empty()), ("skills", r.skills.is_some())]
                {
                    if given {
                        errors.push(self.err(&r.id, format!("rule `{id}` sets `{what}`, which only a pool (team or employees) uses")));
                    }
                }
            }
            let target = self.rule_target(r, subject, has_potential, teams, scheme, errors);
            let caps = r.caps.as_ref().map_or(Default::default(), |c| {
                let c = *c.get_ref();
                allot_core::model::Caps { day: c.day, week: c.week, month: c.month }
            });
            if let (Some(c), Some(Target::Employee(_) | Target::TerritoryOwner)) = (&r.caps, &target) {
                errors.push(self.err(c, "caps apply to pools only").expected("caps on a rule with `team` or `employees`"));
            }
            if let (Some(role), Some(target)) = (role, target) {
                fallbacks.push((scheme.rules.len(), r.fallback.clone()));
                let catch_up = r.catch_up.as_ref().map_or(0.0, |c| *c.get_ref());
                if let Some(c) = &r.catch_up {
                    if !(0.0..=10.0).contains(c.get_ref()) {
                        errors.push(
                            self.err(c, "catch_up must be between 0 and 10")
                                .expected("e.g. 0.5: up to 1.5 times the share until caught up")
                                .found(c.get_ref().to_string()),
                        );
                    }
                }
                scheme.rules.push(Rule { origin, id, role, subject, source, cond, target, caps, catch_up, fallback: None });
            }
        }
        fallbacks
    }

    /// A rule's one target: an employee, the territory's owner, or a pool with its strategy,
    /// weights and skills.
    fn rule_target(
        &self,
        r: &RuleDoc,
        subject: Subject,
        has_potential: bool,
        teams: &BTreeMap<String, Vec<u32>>,
        scheme: &Scheme,
        errors: &mut Vec<Diagnostic>,
    ) -> Option<Target> {
        let owner_given = r.territory_owner.as_ref().is_some_and(|b| *b.get_ref());
        if let Some(e) = &r.employee {
            self.emp_of(e, errors, scheme).map(Target::Employee)
        } else if owner_given {
            Some(Target::TerritoryOwner)
        } else {
            let mut members: Vec<u32> = Vec::new();
            if let Some(t) = &r.team {
                match teams.get(t.get_ref()) {
                    Some(m) => members.extend(m),
                    None => {
                        let mut d = self
                            .err(t, format!("unknown team `{}`", t.get_ref()))
                            .expected("a team of the scheme's [[teams]] or of the employees' `teams` column");
                        d.help = suggest(t.get_ref(), teams.keys().map(|k| k.as_str()));
                        errors.push(d);
                    }
                }
            }
            for e in r.employees.iter().flatten() {
                if let Some(e) = self.emp_of(e, errors, scheme) {
                    if !members.contains(&e) {
                        members.push(e);
                    }
                }
            }
            if let Some(skills) = &r.skills {
                members.retain(|&e| skills.iter().all(|s| scheme.employees[e as usize].skills.contains(s)));
            }
            let strategy = match &r.strategy {
                None if has_potential || subject == Subject::Deal => Strategy::BalancePotential,
                None => Strategy::BalanceCount,
                Some(s) => match Strategy::parse(s.get_ref()) {
                    Some(st) => st,
                    None => {
                        let names = Strategy::ALL.map(|(n, _)| n);
                        let mut d =
                            self.err(s, format!("unknown strategy `{}`", s.get_ref())).expected(format!("one of {}", names.join(", ")));
                        d.help = suggest(s.get_ref(), names);
                        errors.push(d);
                        Strategy::BalanceCount
                    }
                },
            };
            for (name, w) in &r.weights {
                let ok = scheme.employee(name).is_some_and(|e| members.contains(&e));
                if !ok {
                    errors.push(
                        self.err(w, format!("weight for `{name}`, who is not a member of this pool"))
                            .expected("weights only for the pool's members"),
                    );
                }
                if !(w.get_ref().is_finite() && *w.get_ref() >= 0.0) {
                    errors.push(self.err(w, "a weight must be a number of 0 or more").found(w.get_ref().to_string()));
                }
            }
            Some(Target::Pool {
                members: members
                    .into_iter()
                    .map(|e| Member { employee: e, weight: r.weights.get(&scheme.employees[e as usize].id).map_or(1.0, |w| *w.get_ref()) })
                    .collect(),
                strategy,
            })
        }
    }

    /// Each rule's fallback: another rule of the same role.
    fn fallbacks(&self, fallbacks: Vec<(usize, Option<Spanned<String>>)>, scheme: &mut Scheme, errors: &mut Vec<Diagnostic>) {
        for (i, name) in fallbacks {
            let Some(name) = name else { continue };
            let found = scheme.rules.iter().position(|x| &x.id == name.get_ref());
            match found {
                Some(f) if f == i => errors.push(self.err(&name, "a rule cannot fall back to itself")),
                Some(f) if scheme.rules[f].role != scheme.rules[i].role => errors.push(
                    self.err(&name, format!("rule `{}` is for another role", name.get_ref()))
                        .expected(format!("a rule of role `{}`", scheme.roles[scheme.rules[i].role].id)),
                ),
                Some(f) => scheme.rules[i].fallback = Some(f),
                None => {
                    let mut d = self.err(&name, format!("no rule `{}` to fall back to", name.get_ref())).expected("the id of another rule");
                    d.help = suggest(name.get_ref(), scheme.rules.iter().map(|x| x.id.as_str()));
                    errors.push(d);
                }
            }
        }
    }

    /// The `[credit]` section: a policy and `[[credit.shares]]`, each with revenue shares per role
    /// that sum to exactly 100% (to the basis point) and overlay shares of at most 100% each.
    fn credit(&self, c: &Spanned<CreditDoc>, data: &Data, scheme: &Scheme, errors: &mut Vec<Diagnostic>) -> CreditScheme {
        let doc = c.get_ref();
        let policy = match doc.policy.as_ref().map(|p| p.get_ref().as_str()) {
            None | Some("sale-date") => Policy::SaleDate,
            Some("time-in-role") => Policy::TimeInRole,
            Some(other) => {
                let p = doc.policy.as_ref().expect("matched Some");
                let mut d = self.err(p, format!("unknown credit policy `{other}`")).expected("\"sale-date\" or \"time-in-role\"");
                d.help = suggest(other, ["sale-date", "time-in-role"]);
                errors.push(d);
                Policy::SaleDate
            }
        };
        if doc.shares.is_empty() {
            errors.push(
                self.err(c, "the credit section has no shares")
                    .help("add [[credit.shares]] with revenue = { sales = 70, account = 20, service = 10 }"),
            );
        }
        let mut rules = Vec::new();
        for sh in &doc.shares {
            let origin = Some(self.line_col(sh));
            let r = sh.get_ref();
            let (source, cond) = match &r.when {
                Some(w) => (w.get_ref().clone(), self.condition(w, data, Subject::Deal, errors)),
                None => (String::new(), allot_rules::Cond::Const(true)),
            };
            let mut shares = |map: &BTreeMap<String, Spanned<f64>>, what: &str| -> Vec<(RoleIx, u32)> {
                let mut out = Vec::new();
                for (role, pct) in map {
                    let v = *pct.get_ref();
                    let bp = v * 100.0;
                    if !(0.0..=100.0).contains(&v) || (bp - bp.round()).abs() > 1e-6 {
                        errors.push(
                            self.err(pct, format!("`{v}` is not a share of {what} credit"))
                                .expected("a percentage from 0 to 100 with at most two decimals, e.g. 70 or 33.33"),
                        );
                        continue;
                    }
                    match scheme.role(role) {
                        Some(ix) => out.push((ix, bp.round() as u32)),
                        None => {
                            let ids: Vec<&str> = scheme.roles.iter().map(|r| r.id.as_str()).collect();
                            let mut d = self
                                .err(pct, format!("unknown role `{role}` in {what} credit"))
                                .expected(format!("one of {}", ids.join(", ")));
                            d.help = suggest(role, ids.iter().copied());
                            errors.push(d);
                        }
                    }
                }
                out
            };
            let revenue = shares(&r.revenue, "revenue");
            let overlay = shares(&r.overlay, "overlay");
            let total: u32 = revenue.iter().map(|x| x.1).sum();
            if total != 10_000 && r.revenue.len() == revenue.len() {
                errors.push(
                    self.err(sh, format!("revenue shares sum to {}%, not 100%", total as f64 / 100.0))
                        .help("revenue credit splits each sale exactly; put extra credit (e.g. a VIP head's) in `overlay`"),
                );
            }
            rules.push(CreditRule { origin, source, cond, revenue, overlay });
        }
        let stages = doc.stages.clone().unwrap_or_else(|| vec!["won".to_string()]);
        if stages.is_empty() {
            errors.push(self.err(c, "`stages` is empty: no deal could be a sale").help("e.g. stages = [\"won\"]"));
        }
        CreditScheme { policy, rules, stages, routed_sales: doc.routed_sales.unwrap_or(false) }
    }
}

/// The scheme's own roles, each with the title it gives (`name`, in the users' language), in the
/// order written; roles without an id are left out (the scheme's check reports them).
pub fn role_titles(text: &str) -> Result<Vec<(String, Option<String>)>, toml::de::Error> {
    let doc: toml::Table = toml::from_str(text)?;
    let roles = doc.get("roles").and_then(|r| r.as_array()).map(Vec::as_slice).unwrap_or_default();
    Ok(roles
        .iter()
        .filter_map(|r| {
            let id = r.get("id")?.as_str()?.to_string();
            Some((id, r.get("name").and_then(|n| n.as_str()).map(str::to_string)))
        })
        .collect())
}

/// The parts of a scheme that a change can touch, each with a canonical text: `rule <id>` (with its
/// priority position, since order decides), `territory <id>`, `role <id>`, `team <id>`, and the
/// settings (`columns`, `deal_columns`, `measures`, `name`). Comparing two outlines says what a
/// new scheme version changes.
pub fn outline(text: &str) -> Result<BTreeMap<String, String>, toml::de::Error> {
    let doc: toml::Table = toml::from_str(text)?;
    let mut out = BTreeMap::new();
    for (key, value) in &doc {
        match (key.as_str(), value) {
            ("rules" | "territories" | "roles" | "teams", toml::Value::Array(items)) => {
                let kind = match key.as_str() {
                    "rules" => "rule",
                    "territories" => "territory",
                    "roles" => "role",
                    _ => "team",
                };
                for (i, item) in items.iter().enumerate() {
                    let id = item.get("id").and_then(|v| v.as_str()).map_or_else(|| format!("#{}", i + 1), str::to_string);
                    let mut canon = toml::to_string(item).unwrap_or_default().trim().replace('\n', "; ");
                    if kind == "rule" {
                        canon = format!("{canon} (priority {})", i + 1);
                    }
                    out.insert(format!("{kind} {id}"), canon);
                }
            }
            (other, v) => {
                out.insert(
                    other.to_string(),
                    toml::to_string(&toml::Table::from_iter([(other.to_string(), v.clone())]))
                        .unwrap_or_default()
                        .trim()
                        .replace('\n', "; "),
                );
            }
        }
    }
    Ok(out)
}
