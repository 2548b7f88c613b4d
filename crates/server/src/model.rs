//! What the router routes by: `allot-app`'s routing model (the active scheme, the employees with
//! their absences and leaving days, the attribute types a routed item may carry).

pub use allot_app::routing::{push_json, LoadError, Model};
