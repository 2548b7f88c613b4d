//! Any table a person downloads, as an XLSX workbook: a bold, frozen header row, columns fitted
//! to their contents.

use crate::RenderError;

/// One sheet named `sheet` with `headers` and `rows` of text.
pub fn xlsx(sheet: &str, headers: &[String], rows: &[Vec<String>]) -> Result<Vec<u8>, RenderError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name(sheet)?;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, cell)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofit();
    Ok(wb.save_to_buffer()?)
}
