//! The contribution report (S1.2) as a workbook and as charts.

use allot_app::contribution::{headers, HeaderFor, Report, Row};
use allot_i18n::{Arg, Lang};

use crate::picture::{axis_value, colour, render, Scene, Shape};
use crate::RenderError;

/// The rows as an XLSX workbook: a bold, frozen header row, money with two decimals and thousands
/// separators, realisation as a percentage; a second sheet with the balance per role.
pub fn xlsx(r: &Report, lang: Lang) -> Result<Vec<u8>, RenderError> {
    use rust_xlsxwriter::{Format, Workbook};
    let e = RenderError::from;
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let money_fmt = Format::new().set_num_format("#,##0.00");
    let int_fmt = Format::new().set_num_format("#,##0");
    let pct_fmt = Format::new().set_num_format("0.00%");
    let sheet = wb.add_worksheet();
    sheet.set_name(lang.t("report-sheet-contribution")).map_err(e)?;
    for (c, h) in headers(r, lang, HeaderFor::Sheet).iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, h, &bold).map_err(e)?;
    }
    for (i, row) in r.rows.iter().enumerate() {
        let y = i as u32 + 1;
        sheet.write_string(y, 0, &row.role).map_err(e)?;
        sheet.write_string(y, 1, &row.employee).map_err(e)?;
        sheet.write_string(y, 2, &row.name).map_err(e)?;
        sheet.write_number_with_format(y, 3, row.clients as f64, &int_fmt).map_err(e)?;
        sheet.write_number_with_format(y, 4, row.potential, &int_fmt).map_err(e)?;
        sheet.write_number_with_format(y, 5, row.workload, &int_fmt).map_err(e)?;
        sheet.write_number_with_format(y, 6, row.deals as f64, &int_fmt).map_err(e)?;
        sheet.write_number_with_format(y, 7, row.revenue as f64 / 100.0, &money_fmt).map_err(e)?;
        sheet.write_number_with_format(y, 8, row.overlay as f64 / 100.0, &money_fmt).map_err(e)?;
        if let Some(x) = row.realisation {
            sheet.write_number_with_format(y, 9, x, &pct_fmt).map_err(e)?;
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(e)?;
    sheet.autofit();
    let b = wb.add_worksheet();
    b.set_name(lang.t("report-sheet-balance")).map_err(e)?;
    let heads = [
        "report-col-role",
        "report-bal-measure",
        "report-bal-min",
        "report-bal-max",
        "report-bal-ratio",
        "report-bal-cv",
        "report-bal-gini",
    ];
    for (c, h) in heads.iter().enumerate() {
        b.write_string_with_format(0, c as u16, lang.t(h), &bold).map_err(e)?;
    }
    let mut y = 1;
    for bal in &r.balance {
        for (m, s) in [
            ("report-measure-clients", &bal.clients),
            ("report-measure-potential", &bal.potential),
            ("report-measure-workload", &bal.workload),
        ] {
            b.write_string(y, 0, &bal.role).map_err(e)?;
            b.write_string(y, 1, lang.t(m)).map_err(e)?;
            b.write_number(y, 2, s.min).map_err(e)?;
            b.write_number(y, 3, s.max).map_err(e)?;
            if s.ratio.is_finite() {
                b.write_number(y, 4, s.ratio).map_err(e)?;
            }
            b.write_number(y, 5, s.cv).map_err(e)?;
            b.write_number(y, 6, s.gini).map_err(e)?;
            y += 1;
        }
    }
    b.set_freeze_panes(1, 0).map_err(e)?;
    b.autofit();
    wb.save_to_buffer().map_err(e)
}

/// The rows of `role`, for a chart; none is an error (an empty chart helps nobody).
fn role_rows<'r>(r: &'r Report, role: &str) -> Result<Vec<&'r Row>, RenderError> {
    let rows: Vec<&Row> = r.rows.iter().filter(|x| x.role == role).collect();
    if rows.is_empty() {
        return Err(RenderError::NoRole(role.to_string()));
    }
    Ok(rows)
}

/// Bars of potential held per employee of `role`, each with its credited revenue marked.
pub fn load_chart(r: &Report, role: &str, path: &std::path::Path, lang: Lang) -> Result<Vec<u8>, RenderError> {
    let rows = role_rows(r, role)?;
    let k = rows.len();
    let (width, height) = ((80.0 + 44.0 * k as f64).clamp(480.0, 2400.0), 420.0);
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 90.0);
    let top_value = rows.iter().map(|x| x.potential.max(x.revenue as f64 / 100.0)).fold(0.0f64, f64::max).max(1e-12) * 1.1;
    let y_of = |v: f64| height - bottom - (v / top_value) * (height - top - bottom);
    let bw = (width - left - right) / k as f64;
    let mut shapes = vec![Shape::Rect { x: 0.0, y: 0.0, w: width, h: height, fill: [255, 255, 255], opacity: 1.0 }];
    for (i, row) in rows.iter().enumerate() {
        let bx = left + i as f64 * bw;
        let y = y_of(row.potential);
        shapes.push(Shape::Rect { x: bx + bw * 0.15, y, w: bw * 0.7, h: height - bottom - y, fill: colour(i), opacity: 1.0 });
        let ry = y_of(row.revenue as f64 / 100.0);
        shapes.push(Shape::Line { x1: bx + bw * 0.1, y1: ry, x2: bx + bw * 0.9, y2: ry, stroke: [0, 0, 0], width: 2.0 });
        shapes.push(Shape::Label { x: bx + bw / 2.0, y: height - bottom + 16.0, size: 11.0, text: row.employee.clone(), anchor: "middle" });
    }
    shapes.push(Shape::Line { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: [0, 0, 0], width: 1.0 });
    // The scale: its ends, on the left.
    shapes.push(Shape::Line { x1: left, y1: top, x2: left, y2: height - bottom, stroke: [0, 0, 0], width: 1.0 });
    shapes.push(Shape::Label { x: left - 4.0, y: height - bottom, size: 10.0, text: "0".into(), anchor: "end" });
    shapes.push(Shape::Label { x: left - 4.0, y: top + 4.0, size: 10.0, text: axis_value(lang, top_value), anchor: "end" });
    // The legend, under the employees' ids.
    let ly = height - 30.0;
    shapes.push(Shape::Rect { x: left, y: ly - 9.0, w: 12.0, h: 10.0, fill: colour(0), opacity: 1.0 });
    shapes.push(Shape::Label { x: left + 16.0, y: ly, size: 11.0, text: lang.t("chart-potential-held"), anchor: "start" });
    shapes.push(Shape::Line { x1: left + 200.0, y1: ly - 4.0, x2: left + 220.0, y2: ly - 4.0, stroke: [0, 0, 0], width: 2.0 });
    shapes.push(Shape::Label { x: left + 224.0, y: ly, size: 11.0, text: lang.t("chart-revenue-credited"), anchor: "start" });
    let title = lang.text("chart-load-title", &[("role", Arg::Text(role))]);
    shapes.push(Shape::Label { x: left, y: 24.0, size: 15.0, text: title, anchor: "start" });
    render(&Scene { width, height, shapes }, path)
}

/// One point per employee of `role`: potential held (x) against credited revenue (y), with the
/// line of the role's overall realisation.
pub fn revenue_chart(r: &Report, role: &str, path: &std::path::Path, lang: Lang) -> Result<Vec<u8>, RenderError> {
    let rows = role_rows(r, role)?;
    let (width, height, m) = (720.0, 520.0, 70.0);
    let xs: Vec<f64> = rows.iter().map(|x| x.potential).collect();
    let ys: Vec<f64> = rows.iter().map(|x| x.revenue as f64 / 100.0).collect();
    let (xmax, ymax) =
        (xs.iter().fold(0.0f64, |a, &b| a.max(b)).max(1e-12) * 1.1, ys.iter().fold(0.0f64, |a, &b| a.max(b)).max(1e-12) * 1.1);
    let at = |x: f64, y: f64| (m + x / xmax * (width - 2.0 * m), height - m - y / ymax * (height - 2.0 * m));
    let mut shapes = vec![Shape::Rect { x: 0.0, y: 0.0, w: width, h: height, fill: [255, 255, 255], opacity: 1.0 }];
    let (o, xe, ye) = (at(0.0, 0.0), at(xmax, 0.0), at(0.0, ymax));
    shapes.push(Shape::Line { x1: o.0, y1: o.1, x2: xe.0, y2: xe.1, stroke: [0, 0, 0], width: 1.0 });
    shapes.push(Shape::Line { x1: o.0, y1: o.1, x2: ye.0, y2: ye.1, stroke: [0, 0, 0], width: 1.0 });
    let (sx, sy): (f64, f64) = (xs.iter().sum(), ys.iter().sum());
    if sx > 0.0 {
        // The role's overall realisation: where an employee would sit selling as the role does.
        let k = sy / sx;
        let (x_end, y_end) = if k * xmax <= ymax { (xmax, k * xmax) } else { (ymax / k, ymax) };
        let end = at(x_end, y_end);
        shapes.push(Shape::Line { x1: o.0, y1: o.1, x2: end.0, y2: end.1, stroke: [150, 150, 150], width: 1.0 });
    }
    for (i, row) in rows.iter().enumerate() {
        let (x, y) = at(xs[i], ys[i]);
        shapes.push(Shape::Dot { x, y, r: 6.0, fill: colour(i) });
        shapes.push(Shape::Label { x: x + 8.0, y: y - 6.0, size: 11.0, text: row.employee.clone(), anchor: "start" });
    }
    shapes.push(Shape::Label { x: width / 2.0, y: height - 20.0, size: 12.0, text: lang.t("chart-potential-held"), anchor: "middle" });
    // The scales' ends, and the legend of the grey line.
    shapes.push(Shape::Label { x: o.0 - 4.0, y: o.1 + 12.0, size: 10.0, text: "0".into(), anchor: "end" });
    shapes.push(Shape::Label { x: xe.0, y: xe.1 + 14.0, size: 10.0, text: axis_value(lang, xmax), anchor: "end" });
    shapes.push(Shape::Label { x: ye.0 - 4.0, y: ye.1 + 4.0, size: 10.0, text: axis_value(lang, ymax), anchor: "end" });
    shapes.push(Shape::Line { x1: width - 230.0, y1: 52.0, x2: width - 210.0, y2: 52.0, stroke: [150, 150, 150], width: 1.0 });
    shapes.push(Shape::Label { x: width - 206.0, y: 56.0, size: 11.0, text: lang.t("chart-realisation"), anchor: "start" });
    let cur = if r.currency.is_empty() { String::new() } else { format!(", {}", r.currency) };
    let title = lang.text("chart-revenue-title", &[("role", Arg::Text(role)), ("currency", Arg::Text(&cur))]);
    shapes.push(Shape::Label { x: m, y: 28.0, size: 15.0, text: title, anchor: "start" });
    render(&Scene { width, height, shapes }, path)
}
