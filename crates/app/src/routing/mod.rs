//! What the router routes by: the active scheme, the employees with their registered absences and
//! leaving days, and the attribute types a routed item may carry. Reloaded when the store's
//! routing revision moves (a new scheme, an import, an absence ...).

use allot_core::data::{Data, Table, Value};
use allot_core::Scheme;
use allot_rules::Type;
use allot_store::Store;
use serde_json::Value as J;

use crate::stored::routing_parts;

mod batch;
pub use batch::{pool_from_json, pool_json, route_batch, Answer as BatchAnswer, Refusal, RouteRequest};

pub struct Model {
    pub scheme: Scheme,
    pub columns: Vec<(String, Type)>,
    pub deal_columns: Vec<(String, Type)>,
    pub values: allot_io::values::ValueMaps,
    pub version: i64,
    pub employee_keys: Vec<allot_store::EmployeeKey>,
    pub revision: i64,
    /// The employees file's own values: active, absent from, absent to.
    file: Vec<(bool, Option<i32>, Option<i32>)>,
    /// Registered absences (employee index, first, last) and leavers (employee index, day).
    absences: Vec<(usize, i32, i32)>,
    leavers: Vec<(usize, i32)>,
}

/// Why the model could not be loaded: the store (perhaps a lost connection), or what it holds.
#[derive(Debug)]
pub enum LoadError {
    Store(allot_store::StoreError),
    Scheme(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Store(e) => write!(f, "{e}"),
            LoadError::Scheme(m) => f.write_str(m),
        }
    }
}

impl Model {
    pub fn load(store: &mut dyn Store) -> Result<Model, LoadError> {
        let revision = store.routing_revision().map_err(LoadError::Store)?;
        let snap = store.people().map_err(LoadError::Store)?;
        let parts = routing_parts(&snap).map_err(|e| LoadError::Scheme(e.to_string()))?;
        let ix = |key: allot_store::EmployeeKey| parts.employee_keys.iter().position(|&k| k == key);
        let absences = snap.absences.iter().filter_map(|a| ix(a.employee).map(|i| (i, a.first.0, a.last.0))).collect();
        let leavers = snap.leavers.iter().filter_map(|l| ix(l.employee).map(|i| (i, l.on.0))).collect();
        let file = parts.scheme.employees.iter().map(|e| (e.active, e.absent_from, e.absent_to)).collect();
        Ok(Model {
            scheme: parts.scheme,
            columns: parts.columns,
            deal_columns: parts.deal_columns,
            values: parts.values,
            version: parts.version,
            employee_keys: parts.employee_keys,
            revision,
            file,
            absences,
            leavers,
        })
    }

    /// Sets every employee's availability as it is on `day`.
    pub fn on(&mut self, day: i32) {
        for (i, e) in self.scheme.employees.iter_mut().enumerate() {
            let (active, from, to) = self.file[i];
            e.active = active && !self.leavers.iter().any(|&(j, on)| j == i && on <= day);
            match self.absences.iter().find(|&&(j, f, l)| j == i && f <= day && day <= l) {
                Some(&(_, f, l)) => {
                    e.absent_from = Some(f);
                    e.absent_to = Some(l);
                }
                None => {
                    e.absent_from = from;
                    e.absent_to = to;
                }
            }
        }
    }

    pub fn type_of(&self, name: &str) -> Option<Type> {
        self.columns.iter().find(|c| c.0 == name).map(|c| c.1)
    }
}

/// Appends a typed cell from a JSON value of a column of type `ty` (missing when the value is not
/// of the type): how a routed item's attributes, or a stored client's, become a table row.
pub fn push_json(table: &mut Table, c: usize, ty: Type, v: Option<&J>, data: &mut Data) {
    let list: Vec<&str>;
    let value = match (ty, v) {
        (Type::Number, Some(J::Number(n))) => n.as_f64().map_or(Value::Missing, Value::Number),
        (Type::Text, Some(J::String(s))) => Value::Text(s),
        (Type::Bool, Some(J::Bool(b))) => Value::Bool(*b),
        (Type::Date, Some(J::String(s))) => allot_rules::parse_iso_date(s).map_or(Value::Missing, Value::Date),
        (Type::List, Some(J::Array(a))) => {
            list = a.iter().filter_map(|x| x.as_str()).collect();
            Value::List(list)
        }
        _ => Value::Missing,
    };
    table.push_cell(c, value, &mut data.dict, &mut data.lists);
}
