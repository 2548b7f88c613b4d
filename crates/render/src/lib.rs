//! What a person looks at, drawn from the use cases' answers: territory maps and bar charts, the
//! contribution charts (SVG or PNG, by the file's name) and the contribution workbook (XLSX). The
//! front ends (the CLI, later the workspace) call these; `allot-app` computes, it does not draw.

pub mod contribution;
pub mod picture;
pub mod table;

pub use picture::{chart, map, map_centres};

/// Why a picture or a workbook could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{}: a picture must be .svg or .png", .0.display())]
    Format(std::path::PathBuf),
    #[error("the picture has no size")]
    Empty,
    #[error("cannot encode the PNG: {0}")]
    Png(String),
    #[error("cannot write the workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("nobody holds or was credited in role `{0}` in this report")]
    NoRole(String),
}
