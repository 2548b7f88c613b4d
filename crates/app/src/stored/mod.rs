//! The use cases over the store (S1.1–S1.3): import files into the store, plan the
//! assignments of a day against the stored ones, apply a saved plan all or nothing, pins,
//! absences with a cover that ends by itself, leavers, and the as-of questions.
//!
//! The plan is computed here, by the same engine as `allot assign`, from a [`Snapshot`] of the
//! store; the store only lands it. A plan names the revision it was made on: any write in between
//! (an import, a pin, another plan) makes the store refuse it.
//!
//! Dating: every change of a plan takes effect on the plan's day `D`. A changed (client, role)
//! link is closed on `D` and the new one opened on `D`, up to the start of the next scheduled link
//! (an owner's return from an absence), if any. A cover for an absence runs from `D` to the day
//! after the absence and is followed by the owner's return link, written at the same time — so
//! the book reverts by itself, and the history on any date is right without another plan.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustc_hash::FxHashMap;
use std::path::Path;

use allot_core::data::{Column as DataColumn, Data, Table};
use allot_core::diag::Diagnostic;
use allot_core::engine::{client_roles, id_ranks, measures, CurrentLink, Options, Outcome};
use allot_core::model::{EmpIx, RoleIx};
use allot_core::{Compiled, Employee, How, Reason};
use allot_i18n::Message;
use allot_io::values::ValueMaps;
use allot_io::{read_table, Encodings, SchemeFile, Sheet};
use allot_rules::{civil_from_days, Type};
use allot_store::{
    Actor, Applied, Cause, Change, Changes, ClientKey, Close, Column, EmployeeKey, Imported, Link, LinkEntry, Open, Row, SchemeVersion,
    Snapshot, Store, StoreError, Subject,
};
use serde::{Deserialize, Serialize};

use crate::Loaded;

/// What went wrong, for the user to fix.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Problems in an input file or the scheme, each located.
    #[error("{}", allot_core::diag::render_all(.0))]
    Input(Vec<Diagnostic>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
    /// A refusal a person reads, in their language (its `Display` is the English text).
    #[error("{0}")]
    Said(allot_i18n::Message),
    /// What was asked about is not in the store.
    #[error("{0}")]
    NotFound(String),
}

impl AppError {
    /// The error as a person reads it in `lang`: the refusals made for people from the catalogue,
    /// a stale plan and a missing thing by their own words; anything else as it was written.
    pub fn say(&self, lang: allot_i18n::Lang) -> String {
        use allot_i18n::Message;
        match self {
            AppError::Said(m) | AppError::Store(StoreError::Said(m)) => m.say(lang),
            AppError::Store(StoreError::Stale { .. }) => Message::new("refused-stale").say(lang),
            AppError::Store(StoreError::NotFound { what, id }) => {
                let thing = lang.t(&format!("thing-{}", what.replace(' ', "-")));
                Message::new("refused-not-found").text("what", thing).text("id", id.as_str()).say(lang)
            }
            other => other.to_string(),
        }
    }
}

/// Attribute types: the store's (authoritative once a column is stored), then the scheme's for
/// columns the store does not have yet.
pub(crate) fn declared(stored: &[Column], scheme: &BTreeMap<String, Type>) -> BTreeMap<String, Type> {
    let mut out: BTreeMap<String, Type> = stored.iter().filter_map(|c| Type::parse(&c.ty).map(|t| (c.name.clone(), t))).collect();
    for (k, v) in scheme {
        out.entry(k.clone()).or_insert(*v);
    }
    out
}

/// The columns to read back from the store: the stored ones in their order, then those the scheme
/// declares that the store has not registered — rows routed over HTTP carry them, but only imports
/// register columns.
pub(crate) fn readable(stored: &[Column], scheme: &BTreeMap<String, Type>) -> Vec<Column> {
    let mut out = stored.to_vec();
    for (name, ty) in scheme {
        if !stored.iter().any(|c| &c.name == name) {
            out.push(Column { name: name.clone(), ty: ty.name().to_string() });
        }
    }
    out
}

mod apply;
mod import;
mod open;
mod parts;
mod plan;
mod query;
mod sync;
mod wire;

pub use apply::*;
pub use import::*;
pub use open::*;
pub use parts::*;
pub use plan::*;
pub use query::*;
pub use sync::*;
pub(crate) use wire::*;
