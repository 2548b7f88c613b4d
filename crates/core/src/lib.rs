//! The domain of allot and its engine: who is responsible for which client, in which role, and why.
//!
//! - [`data`]: columnar tables of clients and deals (interned texts, missing cells kept missing).
//! - [`model`]: roles (S4), employees, territories (S2.1), rules and the scheme that holds them.
//! - [`engine`]: for every (client, role) an employee or a typed reason for none; pins, stickiness
//!   (S1.3), absences, capacity and the pool strategies.
//! - [`signature`]: how matching a million clients against thousands of rules stays fast.
//! - [`explain`]: why a client (or deal) is whose, rule by rule.
//! - [`check`]: what is wrong or suspicious in a scheme, against the data.
//! - [`stats`]: load per employee and balance figures per role.
//! - [`credit`]: sales credit per role and holder, exact to the kopeck (largest remainder).
//! - [`diag`]: located, user-facing messages shared by every input reader.
//!
//! Invariants: no IO, no clock (the day is an input), no global RNG, no async. Same input, same
//! output: ties are broken by ids, maps that leak order are sorted. Nothing here panics on data
//! that went through the readers of `allot-io`.

pub mod check;
pub mod credit;
pub mod data;
pub mod deals;
pub mod diag;
pub mod engine;
pub mod explain;
pub mod model;
pub mod route;
pub mod signature;
pub mod stats;

pub use data::{Data, Subject, Table, Value};
pub use engine::{assign, Cell, CurrentLink, How, Options, Outcome, Reason};
pub use model::{Compiled, Employee, Role, Rule, Scheme, Strategy, Target, Territory};
