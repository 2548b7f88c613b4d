//! Edits of a scheme's text, as the workspace's rule builder makes them (issue #17 §1): add,
//! remove and move a rule, add a role, set a territory's owner for a role. Each edit takes the TOML
//! and gives the TOML back with the rest of it untouched — comments, order, spacing — so that the
//! builder and the text view are two views of one scheme (`toml_edit` keeps the formatting).
//!
//! A condition is built from tests a person picks — a column, a comparison, a value — joined by
//! "all of" or "any of" ([`condition`]); the text it gives is the condition language of
//! `allot-rules`, checked with the rest of the scheme afterwards.

use allot_rules::syntax::write_name;
use allot_rules::Type;
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

/// What a rule gives its clients to.
#[derive(Debug, Clone, PartialEq)]
pub enum NewTarget {
    Employee(String),
    /// A pool: a team's members or named employees, a strategy, weights per member.
    Pool {
        team: Option<String>,
        employees: Vec<String>,
        strategy: String,
        weights: Vec<(String, f64)>,
    },
    /// The owner of the client's territory for the rule's role.
    TerritoryOwner,
}

/// A rule as the builder makes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRule {
    pub id: String,
    pub role: String,
    /// The condition's text (none: every client).
    pub when: Option<String>,
    pub target: NewTarget,
}

/// One change of the scheme.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// A rule, before the rule of this id (else after the last rule of its role, or at the end).
    AddRule {
        rule: NewRule,
        before: Option<String>,
    },
    RemoveRule {
        id: String,
    },
    /// A rule one place earlier or later among its role's rules (the first that matches wins).
    MoveRule {
        id: String,
        up: bool,
    },
    AddRole {
        id: String,
        name: String,
    },
    /// A territory's owner for a role (none: the territory has no owner in the role).
    SetOwner {
        territory: String,
        role: String,
        employee: Option<String>,
    },
    /// A client column the conditions may name, declared in `[columns]` with its type (unless it
    /// is declared already).
    Declare {
        name: String,
        ty: Type,
    },
    /// A territory: every client (no values) or the clients whose `attribute` is one of `values`,
    /// inside `parent`, owned per role.
    AddTerritory {
        id: String,
        name: String,
        parent: Option<String>,
        attribute: String,
        values: Vec<String>,
        owners: Vec<(String, String)>,
    },
    /// A territory design in place of the territories it re-cuts: those under `parent` (none:
    /// at the top) that have an owner in `role`. `fragment` is `[[territories]]` tables as `allot
    /// balance` writes them.
    Territories {
        parent: Option<String>,
        role: String,
        fragment: String,
    },
}

/// Why an edit cannot be made: said to the person with what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// The text is not TOML (the text view shows where).
    NotToml(String),
    /// The names are the keys of the catalogue's `edit-*` messages.
    UnknownRule(String),
    DuplicateRule(String),
    DuplicateRole(String),
    UnknownTerritory(String),
    DuplicateTerritory(String),
    BadId(String),
    NoTarget,
    Shape(String),
}

fn doc_of(text: &str) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>().map_err(|e| EditError::NotToml(e.to_string()))
}

/// An id as the scheme takes it: letters (any alphabet), digits, `-`, `_`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= 64 && id.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// The rules' `(id, role)` in the order written.
fn rule_list(doc: &DocumentMut) -> Vec<(String, String)> {
    doc.get("rules")
        .and_then(Item::as_array_of_tables)
        .map(|a| {
            a.iter()
                .map(|t| {
                    let s = |k: &str| t.get(k).and_then(Item::as_str).unwrap_or_default().to_string();
                    (s("id"), s("role"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Rebuilds `[[rules]]` in a new order (indexes into the old one, `None` for the new table),
/// keeping each table's place in the document: the written tables keep their positions in turn;
/// a new one takes the position of the table it precedes (or follows the last one).
fn reorder(doc: &mut DocumentMut, order: &[Option<usize>], new: Option<Table>) -> Result<(), EditError> {
    let array = tables_mut(doc, "rules")?;
    let old: Vec<Table> = array.iter().cloned().collect();
    let mut positions: Vec<Option<isize>> = old.iter().map(Table::position).collect();
    positions.sort();
    let mut out: Vec<Table> = Vec::with_capacity(order.len());
    let mut written = 0;
    let mut new = new;
    for (i, o) in order.iter().enumerate() {
        match o {
            Some(ix) => {
                let mut t = old[*ix].clone();
                t.set_position(positions.get(written).copied().flatten());
                written += 1;
                out.push(t);
            }
            None => {
                let mut t = new.take().unwrap_or_default();
                // Before the next written table, or after the last one.
                let at = if order[i + 1..].iter().any(Option::is_some) { positions.get(written) } else { positions.last() };
                t.set_position(at.copied().flatten());
                out.push(t);
            }
        }
    }
    array.clear();
    for t in out {
        array.push(t);
    }
    Ok(())
}

/// The `[[key]]` tables of a document, made when there are none yet.
fn tables_mut<'a>(doc: &'a mut DocumentMut, key: &str) -> Result<&'a mut ArrayOfTables, EditError> {
    let item = doc.entry(key).or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    item.as_array_of_tables_mut().ok_or_else(|| EditError::Shape(format!("`{key}` is not a list of [[{key}]] tables")))
}

/// Whether one of the tables has this id.
fn has_id(array: &ArrayOfTables, id: &str) -> bool {
    array.iter().any(|t| t.get("id").and_then(Item::as_str) == Some(id))
}

/// A new table of a list: after its last one, a blank line before it, its id and name.
fn entry(array: &ArrayOfTables, id: &str, name: &str) -> Table {
    let mut t = Table::new();
    t.decor_mut().set_prefix("\n");
    t.set_position(array.iter().filter_map(Table::position).max());
    t["id"] = value(id);
    if !name.trim().is_empty() {
        t["name"] = value(name.trim());
    }
    t
}

fn rule_table(r: &NewRule) -> Table {
    let mut t = Table::new();
    t.decor_mut().set_prefix("\n");
    t["id"] = value(r.id.as_str());
    t["role"] = value(r.role.as_str());
    if let Some(w) = r.when.as_deref().filter(|w| !w.trim().is_empty()) {
        t["when"] = value(w);
    }
    match &r.target {
        NewTarget::Employee(e) => t["employee"] = value(e.as_str()),
        NewTarget::TerritoryOwner => t["territory_owner"] = value(true),
        NewTarget::Pool { team, employees, strategy, weights } => {
            if let Some(team) = team {
                t["team"] = value(team.as_str());
            } else {
                t["employees"] = value(employees.iter().map(String::as_str).collect::<Array>());
            }
            t["strategy"] = value(strategy.as_str());
            if !weights.is_empty() {
                let mut w = InlineTable::new();
                for (k, v) in weights {
                    let v: Value = if v.fract() == 0.0 && v.abs() < 1e15 { (*v as i64).into() } else { (*v).into() };
                    w.insert(k, v);
                }
                t["weights"] = value(w);
            }
        }
    }
    t
}

/// Applies one edit to a scheme's text.
pub fn apply(text: &str, edit: &Edit) -> Result<String, EditError> {
    let mut doc = doc_of(text)?;
    let rules = rule_list(&doc);
    let index = |id: &str| rules.iter().position(|(r, _)| r == id).ok_or_else(|| EditError::UnknownRule(id.to_string()));
    match edit {
        Edit::AddRule { rule, before } => {
            if !valid_id(&rule.id) || !valid_id(&rule.role) {
                return Err(EditError::BadId(if valid_id(&rule.id) { rule.role.clone() } else { rule.id.clone() }));
            }
            if rules.iter().any(|(r, _)| *r == rule.id) {
                return Err(EditError::DuplicateRule(rule.id.clone()));
            }
            let at = match before.as_deref().filter(|b| !b.is_empty()) {
                Some(b) => index(b)?,
                None => rules.iter().rposition(|(_, role)| *role == rule.role).map_or(rules.len(), |i| i + 1),
            };
            let mut order: Vec<Option<usize>> = (0..rules.len()).map(Some).collect();
            order.insert(at, None);
            reorder(&mut doc, &order, Some(rule_table(rule)))?;
        }
        Edit::RemoveRule { id } => {
            let at = index(id)?;
            let order: Vec<Option<usize>> = (0..rules.len()).filter(|&i| i != at).map(Some).collect();
            reorder(&mut doc, &order, None)?;
        }
        Edit::MoveRule { id, up } => {
            let at = index(id)?;
            let role = &rules[at].1;
            let same: Vec<usize> = (0..rules.len()).filter(|&i| rules[i].1 == *role).collect();
            let k = same.iter().position(|&i| i == at).unwrap_or(0);
            let other = if *up { k.checked_sub(1).map(|j| same[j]) } else { same.get(k + 1).copied() };
            if let Some(o) = other {
                let mut order: Vec<Option<usize>> = (0..rules.len()).map(Some).collect();
                order.swap(at, o);
                reorder(&mut doc, &order, None)?;
            }
        }
        Edit::AddRole { id, name } => {
            if !valid_id(id) {
                return Err(EditError::BadId(id.clone()));
            }
            let array = tables_mut(&mut doc, "roles")?;
            if has_id(array, id) {
                return Err(EditError::DuplicateRole(id.clone()));
            }
            let t = entry(array, id, name);
            array.push(t);
        }
        Edit::AddTerritory { id, name, parent, attribute, values, owners } => {
            if !valid_id(id) {
                return Err(EditError::BadId(id.clone()));
            }
            let array = tables_mut(&mut doc, "territories")?;
            if has_id(array, id) {
                return Err(EditError::DuplicateTerritory(id.clone()));
            }
            if let Some(p) = parent.as_deref().filter(|p| !has_id(array, p)) {
                return Err(EditError::UnknownTerritory(p.to_string()));
            }
            let mut t = entry(array, id, name);
            if let Some(p) = parent {
                t["parent"] = value(p.as_str());
            }
            if values.is_empty() {
                t["where"] = value("true");
            } else {
                t["attribute"] = value(attribute.as_str());
                t["values"] = value(values.iter().map(String::as_str).collect::<Array>());
            }
            if !owners.is_empty() {
                let mut o = InlineTable::new();
                for (role, who) in owners {
                    o.insert(role, who.as_str().into());
                }
                t["owners"] = value(o);
            }
            array.push(t);
        }
        Edit::Territories { parent, role, fragment } => {
            let new = doc_of(fragment)?;
            let new: Vec<Table> =
                new.get("territories").and_then(Item::as_array_of_tables).map(|a| a.iter().cloned().collect()).unwrap_or_default();
            let array = tables_mut(&mut doc, "territories")?;
            let last = array.iter().filter_map(Table::position).max();
            let owned = |t: &Table| {
                let p = t.get("parent").and_then(Item::as_str);
                let has_owner = t.get("owners").and_then(Item::as_table_like).is_some_and(|o| o.get(role).is_some());
                p == parent.as_deref() && has_owner
            };
            array.retain(|t| !owned(t));
            for (i, mut t) in new.into_iter().enumerate() {
                t.set_position(last);
                if i == 0 {
                    t.decor_mut().set_prefix("\n# Territories cut in the workspace (allot balance).\n");
                } else {
                    t.decor_mut().set_prefix("\n");
                }
                array.push(t);
            }
        }
        Edit::Declare { name, ty } => {
            let columns = doc.entry("columns").or_insert_with(|| Item::Table(Table::new()));
            let Some(t) = columns.as_table_like_mut() else { return Err(EditError::Shape("`columns` is not a table".into())) };
            if t.get(name).is_none() {
                t.insert(name, value(ty.name()));
            }
        }
        Edit::SetOwner { territory, role, employee } => {
            let found = doc
                .get_mut("territories")
                .and_then(Item::as_array_of_tables_mut)
                .and_then(|a| a.iter_mut().find(|t| t.get("id").and_then(Item::as_str) == Some(territory)));
            let Some(t) = found else { return Err(EditError::UnknownTerritory(territory.clone())) };
            let owners = t.entry("owners").or_insert_with(|| value(InlineTable::new()));
            match (owners.as_inline_table_mut(), employee) {
                (Some(o), Some(e)) => {
                    o.insert(role, e.as_str().into());
                    o.fmt();
                }
                (Some(o), None) => {
                    o.remove(role);
                    o.fmt();
                }
                (None, _) => match (owners.as_table_mut(), employee) {
                    (Some(o), Some(e)) => {
                        o[role.as_str()] = value(e.as_str());
                    }
                    (Some(o), None) => {
                        o.remove(role);
                    }
                    (None, _) => return Err(EditError::Shape(format!("territory {territory}'s `owners` is not a table"))),
                },
            }
        }
    }
    Ok(doc.to_string())
}

/// A rule as the builder lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleLine {
    pub id: String,
    pub role: String,
    /// `client` or `deal`.
    pub on: String,
    pub when: String,
    pub employee: Option<String>,
    pub team: Option<String>,
    pub employees: Vec<String>,
    pub strategy: Option<String>,
    pub weights: Vec<(String, String)>,
    pub territory_owner: bool,
}

/// A territory as the builder lists it: its owners per role.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TerritoryLine {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    /// `region in [...]` or the territory's own condition, as written.
    pub covers: String,
    pub owners: Vec<(String, String)>,
}

/// What the builder shows of a scheme: roles (id, name), teams, territories, rules in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outline {
    pub name: String,
    /// The client columns `[columns]` declares.
    pub columns: Vec<String>,
    pub roles: Vec<(String, String)>,
    pub teams: Vec<String>,
    pub territories: Vec<TerritoryLine>,
    pub rules: Vec<RuleLine>,
}

fn text_of(v: Option<&Item>) -> String {
    match v {
        Some(i) => match i.as_value() {
            Some(Value::String(s)) => s.value().clone(),
            Some(other) => other.to_string().trim().to_string(),
            None => String::new(),
        },
        None => String::new(),
    }
}

fn pairs_of(v: Option<&Item>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(t) = v.and_then(Item::as_inline_table) {
        for (k, v) in t.iter() {
            out.push((k.to_string(), v.as_str().map_or_else(|| v.to_string().trim().to_string(), str::to_string)));
        }
    } else if let Some(t) = v.and_then(Item::as_table) {
        for (k, v) in t.iter() {
            out.push((k.to_string(), text_of(Some(v))));
        }
    }
    out
}

fn strings_of(v: Option<&Item>) -> Vec<String> {
    v.and_then(Item::as_array)
        .map(|a| a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect())
        .unwrap_or_default()
}

/// The builder's view of a scheme's text.
pub fn outline(text: &str) -> Result<Outline, EditError> {
    let doc = doc_of(text)?;
    let tables = |k: &str| doc.get(k).and_then(Item::as_array_of_tables).map(|a| a.iter().collect::<Vec<_>>()).unwrap_or_default();
    let mut o = Outline { name: text_of(doc.get("name")), ..Outline::default() };
    if let Some(t) = doc.get("columns").and_then(Item::as_table_like) {
        o.columns = t.iter().map(|(k, _)| k.to_string()).collect();
    }
    for t in tables("roles") {
        o.roles.push((text_of(t.get("id")), text_of(t.get("name"))));
    }
    for t in tables("teams") {
        o.teams.push(text_of(t.get("id")));
    }
    for t in tables("territories") {
        let covers = match (t.get("attribute"), t.get("where")) {
            (Some(a), _) => format!("{} in [{}]", text_of(Some(a)), strings_of(t.get("values")).join(", ")),
            (None, w) => text_of(w),
        };
        let parent = Some(text_of(t.get("parent"))).filter(|p| !p.is_empty());
        o.territories.push(TerritoryLine {
            id: text_of(t.get("id")),
            name: text_of(t.get("name")),
            parent,
            covers,
            owners: pairs_of(t.get("owners")),
        });
    }
    for t in tables("rules") {
        let opt = |k: &str| Some(text_of(t.get(k))).filter(|x| !x.is_empty());
        o.rules.push(RuleLine {
            id: text_of(t.get("id")),
            role: text_of(t.get("role")),
            on: opt("on").unwrap_or_else(|| "client".into()),
            when: text_of(t.get("when")),
            employee: opt("employee"),
            team: opt("team"),
            employees: strings_of(t.get("employees")),
            strategy: opt("strategy"),
            weights: pairs_of(t.get("weights")),
            territory_owner: t.get("territory_owner").and_then(Item::as_bool).unwrap_or(false),
        });
    }
    Ok(o)
}

/// One test of a condition the builder makes: a column, a comparison, a value (a list for `in`:
/// values separated by `;` or new lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    pub attr: String,
    /// `eq`, `ne`, `in`, `not-in`, `contains`, `lt`, `le`, `gt`, `ge`, `missing`, `present`.
    pub op: String,
    pub value: String,
    /// The test turned round (`not (…)`).
    pub not: bool,
}

/// A literal of the condition language for a value of a column's type.
fn literal(ty: Option<Type>, v: &str) -> Result<String, String> {
    let v = v.trim();
    match ty {
        Some(Type::Number) => {
            let n = v.replace([' ', '\u{a0}'], "").replace(',', ".");
            n.parse::<f64>().map(|_| n.clone()).map_err(|_| format!("`{v}` is not a number"))
        }
        Some(Type::Date) => {
            allot_rules::parse_iso_date(v).map(|_| v.to_string()).ok_or_else(|| format!("`{v}` is not a date (YYYY-MM-DD)"))
        }
        Some(Type::Bool) => match v {
            "true" | "да" => Ok("true".into()),
            "false" | "нет" => Ok("false".into()),
            _ => Err(format!("`{v}` is not true or false")),
        },
        _ => Ok(format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))),
    }
}

/// The condition the tests make, joined by `and` (all of them) or `or` (any of them); `type_of`
/// gives a column's type, so that numbers and dates are written as such.
pub fn condition(tests: &[Test], any: bool, type_of: &dyn Fn(&str) -> Option<Type>) -> Result<String, String> {
    let mut parts = Vec::new();
    for t in tests.iter().filter(|t| !t.attr.trim().is_empty()) {
        let ty = type_of(&t.attr);
        let name = write_name(t.attr.trim());
        let list = || -> Result<String, String> {
            let items: Vec<String> =
                t.value.split(['\n', ';']).map(str::trim).filter(|x| !x.is_empty()).map(|x| literal(ty, x)).collect::<Result<_, _>>()?;
            if items.is_empty() {
                return Err(format!("give at least one value for `{}`", t.attr));
            }
            Ok(format!("[{}]", items.join(", ")))
        };
        let cmp = |op: &str| -> Result<String, String> {
            if t.value.trim().is_empty() {
                return Err(format!("give a value for `{}`", t.attr));
            }
            Ok(format!("{name} {op} {}", literal(ty, &t.value)?))
        };
        let part = match t.op.as_str() {
            "eq" => cmp("==")?,
            "ne" => cmp("!=")?,
            "lt" => cmp("<")?,
            "le" => cmp("<=")?,
            "gt" => cmp(">")?,
            "ge" => cmp(">=")?,
            "contains" => {
                let v = if ty == Some(Type::List) || ty == Some(Type::Text) {
                    literal(Some(Type::Text), &t.value)?
                } else {
                    literal(ty, &t.value)?
                };
                format!("{name} contains {v}")
            }
            "in" => format!("{name} in {}", list()?),
            "not-in" => format!("{name} not in {}", list()?),
            "missing" => format!("{name} is missing"),
            "present" => format!("{name} is not missing"),
            other => return Err(format!("unknown comparison `{other}`")),
        };
        parts.push(if t.not { format!("not ({part})") } else { part });
    }
    let joined =
        if any && parts.len() > 1 { parts.iter().map(|p| format!("({p})")).collect::<Vec<_>>().join(" or ") } else { parts.join(" and ") };
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEME: &str = r#"# The head of sales' scheme.
name = "Отдел продаж"

[columns]
significance = "text"

[[territories]]
id = "north"
attribute = "region"
values = ["RU-ARK"]
owners = { sales = "smirnova" }

# VIP first.
[[rules]]
id = "vip"
role = "sales"
when = 'significance == "vip"'
employee = "novikov"

[[rules]]
id = "dealers"
role = "sales"
territory_owner = true

[credit]
policy = "sale-date"
"#;

    fn rule(id: &str, when: &str) -> NewRule {
        NewRule { id: id.into(), role: "sales".into(), when: Some(when.into()), target: NewTarget::Employee("fedorova".into()) }
    }

    #[test]
    fn a_rule_goes_where_it_is_put_and_the_rest_of_the_text_stays() {
        let before = Some("vip".to_string());
        let text = apply(SCHEME, &Edit::AddRule { rule: rule("gov", r#"ownership == "government""#), before }).unwrap();
        let (gov, vip, credit) = (text.find("id = \"gov\"").unwrap(), text.find("id = \"vip\"").unwrap(), text.find("[credit]").unwrap());
        assert!(gov < vip && vip < credit, "{text}");
        assert!(text.contains("# VIP first.") && text.contains("# The head of sales' scheme."), "comments stay: {text}");
        assert!(text.contains(r#"when = 'ownership == "government"'"#), "{text}");
        // The same text read back is a scheme with the rule first.
        let back = crate::scheme::SchemeFile::parse(&text, "s.toml");
        assert!(back.is_ok(), "{text}");

        let last = apply(SCHEME, &Edit::AddRule { rule: rule("late", "true"), before: None }).unwrap();
        assert!(last.find("id = \"late\"").unwrap() > last.find("id = \"dealers\"").unwrap());
        assert!(last.find("id = \"late\"").unwrap() < last.find("[credit]").unwrap(), "after its role's last rule: {last}");

        let moved = apply(SCHEME, &Edit::MoveRule { id: "dealers".into(), up: true }).unwrap();
        assert!(moved.find("id = \"dealers\"").unwrap() < moved.find("id = \"vip\"").unwrap(), "{moved}");
        assert!(moved.find("[credit]").unwrap() > moved.find("id = \"vip\"").unwrap(), "{moved}");
        assert_eq!(apply(&moved, &Edit::MoveRule { id: "dealers".into(), up: true }).unwrap(), moved, "the first stays first");

        let removed = apply(SCHEME, &Edit::RemoveRule { id: "vip".into() }).unwrap();
        assert!(!removed.contains("novikov") && removed.contains("id = \"dealers\""), "{removed}");
    }

    #[test]
    fn the_outline_lists_what_the_builder_shows() {
        let o = outline(SCHEME).unwrap();
        assert_eq!(o.name, "Отдел продаж");
        assert_eq!(o.columns, ["significance"]);
        let declared = apply(SCHEME, &Edit::Declare { name: "region".into(), ty: Type::Text }).unwrap();
        assert!(declared.contains("significance = \"text\"\nregion = \"text\""), "{declared}");
        assert_eq!(apply(&declared, &Edit::Declare { name: "region".into(), ty: Type::Number }).unwrap(), declared, "declared once");
        assert!(apply("", &Edit::Declare { name: "region".into(), ty: Type::Text }).unwrap().contains("[columns]"));
        assert_eq!(
            o.rules.iter().map(|r| (r.id.as_str(), r.when.as_str())).collect::<Vec<_>>(),
            [("vip", r#"significance == "vip""#), ("dealers", "")]
        );
        assert_eq!(o.rules[0].employee.as_deref(), Some("novikov"));
        assert!(o.rules[1].territory_owner);
        assert_eq!(o.territories[0].covers, "region in [RU-ARK]");
        assert_eq!(o.territories[0].owners, [("sales".to_string(), "smirnova".to_string())]);
    }

    #[test]
    fn roles_and_owners_are_set_and_mistakes_are_named() {
        let text = apply(SCHEME, &Edit::AddRole { id: "phone-desk".into(), name: "Телефонный пост".into() }).unwrap();
        assert!(text.contains("[[roles]]") && text.contains("name = \"Телефонный пост\""), "{text}");
        assert_eq!(
            apply(&text, &Edit::AddRole { id: "phone-desk".into(), name: String::new() }),
            Err(EditError::DuplicateRole("phone-desk".into()))
        );
        let owned =
            apply(SCHEME, &Edit::SetOwner { territory: "north".into(), role: "service".into(), employee: Some("orlov".into()) }).unwrap();
        assert!(owned.contains(r#"owners = { sales = "smirnova", service = "orlov" }"#), "{owned}");
        let none = apply(&owned, &Edit::SetOwner { territory: "north".into(), role: "sales".into(), employee: None }).unwrap();
        assert!(none.contains(r#"owners = { service = "orlov" }"#), "{none}");
        assert_eq!(
            apply(SCHEME, &Edit::SetOwner { territory: "south".into(), role: "sales".into(), employee: None }),
            Err(EditError::UnknownTerritory("south".into()))
        );
        assert_eq!(apply(SCHEME, &Edit::AddRule { rule: rule("vip", "true"), before: None }), Err(EditError::DuplicateRule("vip".into())));
        assert_eq!(apply(SCHEME, &Edit::AddRule { rule: rule("a b", "true"), before: None }), Err(EditError::BadId("a b".into())));
        assert_eq!(apply(SCHEME, &Edit::RemoveRule { id: "nope".into() }), Err(EditError::UnknownRule("nope".into())));
        assert!(matches!(apply("[[rules]\n", &Edit::RemoveRule { id: "x".into() }), Err(EditError::NotToml(_))));
        // An empty scheme takes its first rule.
        let first = apply("", &Edit::AddRule { rule: rule("all", ""), before: None }).unwrap();
        assert!(first.contains("[[rules]]") && !first.contains("when"), "{first}");
    }

    #[test]
    fn a_territory_is_added_inside_its_parent() {
        let owners = vec![("sales".to_string(), "orlov".to_string())];
        let add = |id: &str, parent: Option<&str>, values: &[&str]| Edit::AddTerritory {
            id: id.into(),
            name: "Юг".into(),
            parent: parent.map(str::to_string),
            attribute: "region".into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            owners: owners.clone(),
        };
        let text = apply(SCHEME, &add("south", Some("north"), &["RU-KDA", "RU-ROS"])).unwrap();
        assert!(
            text.contains("parent = \"north\"")
                && text.contains("values = [\"RU-KDA\", \"RU-ROS\"]")
                && text.contains("owners = { sales = \"orlov\" }"),
            "{text}"
        );
        assert!(text.find("id = \"south\"").unwrap() < text.find("id = \"vip\"").unwrap(), "among the territories: {text}");
        assert!(crate::scheme::SchemeFile::parse(&text, "s.toml").is_ok());
        let everyone = apply("", &add("russia", None, &[])).unwrap();
        assert!(everyone.contains("where = \"true\""), "{everyone}");
        assert_eq!(apply(&text, &add("south", None, &["RU-AD"])), Err(EditError::DuplicateTerritory("south".into())));
        assert_eq!(apply(SCHEME, &add("x", Some("nowhere"), &["RU-AD"])), Err(EditError::UnknownTerritory("nowhere".into())));
    }

    #[test]
    fn a_design_replaces_the_territories_it_re_cuts() {
        let fragment = "[[territories]]\nid = \"a\"\nattribute = \"region\"\nvalues = [\"RU-ARK\", \"RU-MUR\"]\nowners = { sales = \"orlov\" }\n\n[[territories]]\nid = \"b\"\nattribute = \"region\"\nvalues = [\"RU-KR\"]\nowners = { sales = \"smirnova\" }\n";
        let text = apply(SCHEME, &Edit::Territories { parent: None, role: "sales".into(), fragment: fragment.into() }).unwrap();
        assert!(!text.contains("id = \"north\""), "{text}");
        assert!(text.find("id = \"a\"").unwrap() < text.find("id = \"vip\"").unwrap(), "where the territories were: {text}");
        assert!(text.contains("values = [\"RU-ARK\", \"RU-MUR\"]") && text.contains("# VIP first."), "{text}");
        let o = outline(&text).unwrap();
        assert_eq!(o.territories.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        // Another role's territories stay.
        let kept = apply(SCHEME, &Edit::Territories { parent: None, role: "service".into(), fragment: fragment.into() }).unwrap();
        assert!(kept.contains("id = \"north\""));
    }

    #[test]
    fn a_condition_is_written_in_the_rule_language_for_each_type() {
        let ty = |a: &str| match a {
            "potential" => Some(Type::Number),
            "products" => Some(Type::List),
            _ => Some(Type::Text),
        };
        let t = |attr: &str, op: &str, value: &str| Test { attr: attr.into(), op: op.into(), value: value.into(), not: false };
        let all = condition(
            &[t("region", "in", "RU-MOW; RU-MOS"), t("potential", "ge", "1 000 000"), t("Форма собственности", "eq", "гос")],
            false,
            &ty,
        )
        .unwrap();
        assert_eq!(all, r#"region in ["RU-MOW", "RU-MOS"] and potential >= 1000000 and `Форма собственности` == "гос""#);
        assert!(allot_rules::parse(&all).is_ok(), "{all}");
        let any = condition(&[t("products", "contains", "принтеры"), t("channel", "missing", "")], true, &ty).unwrap();
        assert_eq!(any, r#"(products contains "принтеры") or (channel is missing)"#);
        assert!(allot_rules::parse(&any).is_ok());
        assert_eq!(condition(&[t("name", "eq", r#"ООО "Юг""#)], false, &ty).unwrap(), r#"name == "ООО \"Юг\"""#);
        assert!(condition(&[t("potential", "gt", "много")], false, &ty).unwrap_err().contains("not a number"));
        assert!(condition(&[t("region", "eq", " ")], false, &ty).unwrap_err().contains("give a value"));
        assert_eq!(condition(&[], false, &ty).unwrap(), "");
        // S3's dealers: not VIP, and not Moscow's government sector.
        let not = |mut x: Test| {
            x.not = true;
            x
        };
        let dealers = condition(&[t("significance", "ne", "vip"), not(t("ownership", "eq", "government"))], false, &ty).unwrap();
        assert_eq!(dealers, r#"significance != "vip" and not (ownership == "government")"#);
        assert!(allot_rules::parse(&dealers).is_ok());
    }
}
