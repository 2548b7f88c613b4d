//! Reading and writing what users have: CSV from Excel and 1C (`,` or `;`, BOM, Windows-1251,
//! quoted line breaks, Cyrillic), XLSX, JSON Lines, and the TOML scheme file.
//!
//! Every reader validates the whole input first and returns every problem as a located
//! [`allot_core::diag::Diagnostic`]; it returns nothing usable when any problem is an error.
//! Wire formats live here and are converted explicitly to the domain types of `allot-core`.

pub mod scheme;
pub mod scheme_edit;
pub mod sheet;
pub mod tables;
pub mod values;
pub mod write;

pub use scheme::SchemeFile;
pub use sheet::{read_table, Encoding, Encodings, Sheet};
