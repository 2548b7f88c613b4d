//! Pictures of a territory design: a map (clients coloured by territory, centres marked, Albers
//! conic projection fitted to the data) and a bar chart of totals against the target band. Each
//! is drawn once as a list of shapes and written as SVG or PNG (tiny-skia, labels in a bitmap font). The
//! contribution charts (`contribution.rs`) are drawn with the same shapes.

use std::fmt::Write as _;

use allot_territory::geo::{Albers, Vec3};

use allot_app::territory::Design;
use allot_i18n::{format, Arg, Lang};

use crate::RenderError;

pub enum Shape {
    Dot { x: f64, y: f64, r: f64, fill: [u8; 3] },
    Rect { x: f64, y: f64, w: f64, h: f64, fill: [u8; 3], opacity: f64 },
    Line { x1: f64, y1: f64, x2: f64, y2: f64, stroke: [u8; 3], width: f64 },
    Label { x: f64, y: f64, size: f64, text: String, anchor: &'static str },
}

pub struct Scene {
    pub width: f64,
    pub height: f64,
    pub shapes: Vec<Shape>,
}

/// Distinct colours (Okabe–Ito-like hues, then lighter and darker turns for many territories).
pub fn colour(t: usize) -> [u8; 3] {
    const BASE: [[u8; 3]; 10] = [
        [230, 159, 0],
        [86, 180, 233],
        [0, 158, 115],
        [213, 94, 0],
        [0, 114, 178],
        [204, 121, 167],
        [120, 94, 240],
        [153, 153, 51],
        [68, 170, 153],
        [170, 68, 85],
    ];
    let b = BASE[t % BASE.len()];
    let turn = (t / BASE.len()) % 3;
    let f = |c: u8| -> u8 {
        match turn {
            0 => c,
            1 => (c as f64 * 0.6) as u8,
            _ => (c as f64 + (255.0 - c as f64) * 0.45) as u8,
        }
    };
    [f(b[0]), f(b[1]), f(b[2])]
}

/// The places of Russia (GeoNames, CC BY 4.0) the regions' borders are drawn from.
const PLACES: &str = include_str!("../../../data/ru/places.csv");

/// Russia's regions' borders, approximately: where the Voronoi cells of the places of one region
/// meet those of another (`allot_territory::graph::borders`), computed once.
fn region_borders() -> &'static [(Vec3, Vec3)] {
    static BORDERS: std::sync::OnceLock<Vec<(Vec3, Vec3)>> = std::sync::OnceLock::new();
    BORDERS.get_or_init(|| {
        let mut points = Vec::new();
        let mut group = Vec::new();
        let mut regions: Vec<&str> = Vec::new();
        for line in PLACES.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (Some(region), Some(lat), Some(lon)) =
                (f.get(3), f.get(4).and_then(|x| x.parse().ok()), f.get(5).and_then(|x| x.parse().ok()))
            else {
                continue;
            };
            let g = regions.iter().position(|r| r == region).unwrap_or_else(|| {
                regions.push(region);
                regions.len() - 1
            });
            points.push(allot_territory::geo::unit(lat, lon));
            group.push(g as u32);
        }
        allot_territory::graph::borders(&points, &group, 400.0)
    })
}

/// Where the map puts a point: the Albers projection fitted to the clients, scaled into the
/// picture with a margin and room for the title.
struct Frame {
    proj: Albers,
    x0: f64,
    y0: f64,
    scale: f64,
    margin: f64,
    width: f64,
    height: f64,
}

impl Frame {
    fn of(d: &Design) -> Frame {
        let proj = Albers::fit(&d.client_pos);
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for &p in &d.client_pos {
            let (x, y) = proj.project(p);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        let (sw, sh) = ((x1 - x0).max(1e-9), (y1 - y0).max(1e-9));
        let (width, margin) = (1200.0, 30.0);
        let scale = (width - 2.0 * margin) / sw;
        let height = (sh * scale + 2.0 * margin + 30.0).clamp(200.0, 1600.0);
        let scale = scale.min((height - 2.0 * margin - 30.0) / sh);
        Frame { proj, x0, y0, scale, margin, width, height }
    }
    fn at(&self, p: Vec3) -> (f64, f64) {
        let (x, y) = self.proj.project(p);
        (self.margin + (x - self.x0) * self.scale, self.height - self.margin - (y - self.y0) * self.scale)
    }
}

/// The map's size and where it draws each territory's centre (for marks laid over the picture,
/// e.g. a territory's totals on hover).
pub fn map_centres(d: &Design) -> (f64, f64, Vec<(f64, f64)>) {
    let f = Frame::of(d);
    let centres = d.figures.per_territory.iter().map(|t| f.at(allot_territory::geo::unit(t.centre.0, t.centre.1))).collect();
    (f.width, f.height, centres)
}

fn map_scene(d: &Design, lang: Lang) -> Scene {
    let pts: &[Vec3] = &d.client_pos;
    let frame = Frame::of(d);
    let (width, height, margin) = (frame.width, frame.height, frame.margin);
    let at = |p: Vec3| frame.at(p);
    let xy = pts;
    let mut shapes = vec![Shape::Rect { x: 0.0, y: 0.0, w: width, h: height, fill: [255, 255, 255], opacity: 1.0 }];
    let many = pts.len() > 5000;
    let w0 = d.problem.criteria.first().map(|c| c.values.clone());
    // Client weights: each client's share of its unit's primary value is unknown here, so dots
    // are sized by their unit's weight spread over its clients.
    let max_w = w0
        .as_ref()
        .map(|w| d.units.iter().enumerate().map(|(u, unit)| w[u] / unit.rows.len().max(1) as f64).fold(0.0, f64::max))
        .unwrap_or(1.0)
        .max(1e-12);
    // Under the clients: the regions' borders that fall inside the picture.
    let inside = |(x, y): (f64, f64)| (0.0..=width).contains(&x) && (0.0..=height).contains(&y);
    for &(a, b) in region_borders() {
        let (pa, pb) = (at(a), at(b));
        if inside(pa) && inside(pb) {
            shapes.push(Shape::Line { x1: pa.0, y1: pa.1, x2: pb.0, y2: pb.1, stroke: [200, 204, 212], width: 0.8 });
        }
    }
    for (r, &p) in xy.iter().enumerate() {
        let u = d.client_unit[r] as usize;
        let t = d.solution.territory[u] as usize;
        let (x, y) = at(p);
        let radius = if many {
            1.2
        } else {
            let wr = w0.as_ref().map(|w| w[u] / d.units[u].rows.len().max(1) as f64).unwrap_or(1.0);
            1.5 + 5.0 * (wr / max_w).sqrt()
        };
        shapes.push(Shape::Dot { x, y, r: radius, fill: colour(t) });
    }
    for (t, f) in d.figures.per_territory.iter().enumerate() {
        let (x, y) = at(allot_territory::geo::unit(f.centre.0, f.centre.1));
        shapes.push(Shape::Dot { x, y, r: 6.0, fill: [0, 0, 0] });
        shapes.push(Shape::Dot { x, y, r: 3.5, fill: colour(t) });
        shapes.push(Shape::Label {
            x: x + 8.0,
            y: y - 6.0,
            size: 13.0,
            text: f.owner.clone().unwrap_or_else(|| f.id.clone()),
            anchor: "start",
        });
    }
    let units = lang.t("picture-units");
    let title = lang.text(
        "picture-map-title",
        &[
            ("territories", Arg::Count(d.figures.territories as i64)),
            ("criterion", Arg::Text(d.figures.criteria.first().map_or(units.as_str(), |c| c.name.as_str()))),
            ("spread", Arg::Text(&format::number(lang, d.figures.criteria.first().map_or(0.0, |c| c.deviation * 100.0), 2))),
            ("pieces", Arg::Count(d.figures.pieces as i64)),
        ],
    );
    shapes.push(Shape::Label { x: margin, y: 22.0, size: 16.0, text: title, anchor: "start" });
    // The legend: what a dot and a ringed dot are (each territory's colour is named at its centre).
    let ly = height - 10.0;
    shapes.push(Shape::Dot { x: margin + 4.0, y: ly - 4.0, r: 3.0, fill: colour(0) });
    shapes.push(Shape::Label { x: margin + 12.0, y: ly, size: 11.0, text: lang.t("picture-map-client"), anchor: "start" });
    shapes.push(Shape::Dot { x: margin + 264.0, y: ly - 4.0, r: 6.0, fill: [0, 0, 0] });
    shapes.push(Shape::Dot { x: margin + 264.0, y: ly - 4.0, r: 3.5, fill: colour(0) });
    shapes.push(Shape::Label { x: margin + 274.0, y: ly, size: 11.0, text: lang.t("picture-map-centre"), anchor: "start" });
    shapes.push(Shape::Label { x: width - margin, y: ly, size: 11.0, text: lang.t("picture-map-borders"), anchor: "end" });
    Scene { width, height, shapes }
}

fn chart_scene(d: &Design, lang: Lang) -> Scene {
    let f = &d.figures;
    let k = f.per_territory.len().max(1);
    let (width, height) = ((80.0 + 36.0 * k as f64).clamp(480.0, 2400.0), 420.0);
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 90.0);
    let c0 = f.criteria.first();
    let totals: Vec<f64> = f.per_territory.iter().map(|t| t.totals.first().copied().unwrap_or(t.units as f64)).collect();
    let targets: Vec<f64> =
        f.per_territory.iter().zip(&totals).map(|(t, x)| x / (1.0 + t.deviations.first().copied().unwrap_or(0.0))).collect();
    let top_value = totals.iter().chain(&targets).fold(0.0f64, |a, &b| a.max(b)).max(1e-12) * 1.1;
    let y_of = |v: f64| height - bottom - (v / top_value) * (height - top - bottom);
    let bw = (width - left - right) / k as f64;
    let mut shapes = vec![Shape::Rect { x: 0.0, y: 0.0, w: width, h: height, fill: [255, 255, 255], opacity: 1.0 }];
    let tol = c0.and_then(|c| c.tolerance).unwrap_or(0.0);
    for (t, (&x, &target)) in totals.iter().zip(&targets).enumerate() {
        let bx = left + t as f64 * bw;
        // The tolerance band around the target, then the bar.
        let (lo, hi) = (y_of(target * (1.0 + tol)), y_of(target * (1.0 - tol)));
        shapes.push(Shape::Rect { x: bx, y: lo, w: bw, h: (hi - lo).max(1.0), fill: [120, 120, 120], opacity: 0.35 });
        shapes.push(Shape::Rect {
            x: bx + bw * 0.15,
            y: y_of(x),
            w: bw * 0.7,
            h: height - bottom - y_of(x),
            fill: colour(t),
            opacity: 1.0,
        });
        shapes.push(Shape::Line { x1: bx, y1: y_of(target), x2: bx + bw, y2: y_of(target), stroke: [0, 0, 0], width: 1.0 });
        let name = f.per_territory[t].owner.clone().unwrap_or_else(|| f.per_territory[t].id.clone());
        shapes.push(Shape::Label { x: bx + bw / 2.0, y: height - bottom + 16.0, size: 11.0, text: name, anchor: "middle" });
        let dev = f.per_territory[t].deviations.first().copied().unwrap_or(0.0);
        shapes.push(Shape::Label {
            x: bx + bw / 2.0,
            y: y_of(x) - 4.0,
            size: 10.0,
            text: format!("{}{}%", if dev >= 0.0 { "+" } else { "" }, format::number(lang, dev * 100.0, 1)),
            anchor: "middle",
        });
    }
    shapes.push(Shape::Line { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: [0, 0, 0], width: 1.0 });
    // The value axis: its line and three values (0, half, the top), as the reader's language
    // writes numbers.
    shapes.push(Shape::Line { x1: left, y1: top, x2: left, y2: height - bottom, stroke: [0, 0, 0], width: 1.0 });
    for v in [0.0, top_value / 2.0, top_value] {
        let y = y_of(v);
        shapes.push(Shape::Line { x1: left - 4.0, y1: y, x2: left, y2: y, stroke: [0, 0, 0], width: 1.0 });
        shapes.push(Shape::Label { x: left - 6.0, y: y + 4.0, size: 10.0, text: axis_value(lang, v), anchor: "end" });
    }
    let units = lang.t("picture-units");
    let criterion = c0.map_or(units.as_str(), |c| c.name.as_str());
    let title = lang.text("picture-chart-title", &[("criterion", Arg::Text(criterion))]);
    shapes.push(Shape::Label { x: left, y: 24.0, size: 15.0, text: title, anchor: "start" });
    // The legend: the bar, the target line, the tolerance band, each after the last one's text
    // (about 7 px a character at this size, in either font).
    let ly = height - 22.0;
    let width_of = |t: &str| 16.0 + 7.0 * t.chars().count() as f64 + 18.0;
    let bar = lang.text("picture-chart-bar", &[("criterion", Arg::Text(criterion))]);
    let target = lang.t("picture-chart-target");
    let band = lang.text("picture-chart-band", &[("tolerance", Arg::Text(&format::number(lang, tol * 100.0, 1)))]);
    let (x1, x2) = (left + width_of(&bar), left + width_of(&bar) + width_of(&target));
    shapes.push(Shape::Rect { x: left, y: ly - 9.0, w: 12.0, h: 10.0, fill: colour(0), opacity: 1.0 });
    shapes.push(Shape::Line { x1, y1: ly - 4.0, x2: x1 + 12.0, y2: ly - 4.0, stroke: [0, 0, 0], width: 1.0 });
    shapes.push(Shape::Rect { x: x2, y: ly - 9.0, w: 12.0, h: 10.0, fill: [120, 120, 120], opacity: 0.35 });
    for (x, text) in [(left, bar), (x1, target), (x2, band)] {
        shapes.push(Shape::Label { x: x + 16.0, y: ly, size: 11.0, text, anchor: "start" });
    }
    Scene { width, height, shapes }
}

/// A scale's value in a few characters, as the language writes it: `0`, `12,5`, `350 тыс.`,
/// `12,5 млн` (`350K`, `12.5M` in English), so that it fits beside the axis.
pub(crate) fn axis_value(lang: Lang, v: f64) -> String {
    let (scaled, key) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "picture-billions"),
        a if a >= 1e6 => (v / 1e6, "picture-millions"),
        a if a >= 1e4 => (v / 1e3, "picture-thousands"),
        a => return format::number(lang, v, if a >= 100.0 || v.fract() == 0.0 { 0 } else { 2 }),
    };
    let decimals = if scaled.abs() < 100.0 && (scaled * 10.0).round() % 10.0 != 0.0 { 1 } else { 0 };
    lang.text(key, &[("n", Arg::Text(&format::number(lang, scaled, decimals)))])
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn svg(scene: &Scene) -> String {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{:.0}\" viewBox=\"0 0 {:.0} {:.0}\" font-family=\"sans-serif\">\n",
        scene.width, scene.height, scene.width, scene.height
    );
    for sh in &scene.shapes {
        let _ = match sh {
            Shape::Dot { x, y, r, fill } => {
                writeln!(s, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" fill=\"rgb({},{},{})\"/>", fill[0], fill[1], fill[2])
            }
            Shape::Rect { x, y, w, h, fill, opacity } => writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"rgb({},{},{})\" fill-opacity=\"{opacity:.2}\"/>",
                fill[0], fill[1], fill[2]
            ),
            Shape::Line { x1, y1, x2, y2, stroke, width } => writeln!(
                s,
                "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"rgb({},{},{})\" stroke-width=\"{width:.1}\"/>",
                stroke[0], stroke[1], stroke[2]
            ),
            Shape::Label { x, y, size, text, anchor } => writeln!(
                s,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size:.0}\" text-anchor=\"{anchor}\" paint-order=\"stroke\" stroke=\"white\" stroke-width=\"3\">{}</text>",
                escape(text)
            ),
        };
    }
    s.push_str("</svg>\n");
    s
}

/// A pixmap as embedded-graphics' drawing target, for the labels.
struct Canvas<'a>(&'a mut tiny_skia::Pixmap);

impl embedded_graphics::geometry::OriginDimensions for Canvas<'_> {
    fn size(&self) -> embedded_graphics::geometry::Size {
        embedded_graphics::geometry::Size::new(self.0.width(), self.0.height())
    }
}

impl embedded_graphics::draw_target::DrawTarget for Canvas<'_> {
    type Color = embedded_graphics::pixelcolor::Rgb888;
    type Error = std::convert::Infallible;
    fn draw_iter<I: IntoIterator<Item = embedded_graphics::Pixel<Self::Color>>>(&mut self, pixels: I) -> Result<(), Self::Error> {
        use embedded_graphics::pixelcolor::RgbColor;
        let (w, h) = (self.0.width() as i32, self.0.height() as i32);
        let px = self.0.pixels_mut();
        for embedded_graphics::Pixel(p, c) in pixels {
            if (0..w).contains(&p.x) && (0..h).contains(&p.y) {
                if let Some(c) = tiny_skia::PremultipliedColorU8::from_rgba(c.r(), c.g(), c.b(), 255) {
                    px[(p.y * w + p.x) as usize] = c;
                }
            }
        }
        Ok(())
    }
}

/// The few characters of our labels that ISO 8859-5 (Latin and Cyrillic) has not, in its terms.
fn latin_cyrillic(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '–' | '—' | '−' => out.push('-'),
            '·' | '•' => out.push('.'),
            '×' => out.push('x'),
            '≤' => out.push_str("<="),
            '≥' => out.push_str(">="),
            '±' => out.push_str("+/-"),
            '…' => out.push_str("..."),
            '«' | '»' | '“' | '”' => out.push('"'),
            '\u{202f}' | '\u{2009}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A label in a bitmap font near `size` px (smaller when the text would not fit the picture's
/// width), black on a white halo as in the SVG.
fn png_label(pm: &mut tiny_skia::Pixmap, x: f64, y: f64, size: f64, text: &str, anchor: &str) {
    use embedded_graphics::mono_font::iso_8859_5::{FONT_10X20, FONT_6X10, FONT_7X13, FONT_9X15};
    use embedded_graphics::mono_font::{MonoFont, MonoTextStyle};
    use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
    use embedded_graphics::prelude::{Drawable, Point};
    use embedded_graphics::text::{Alignment, Baseline, Text, TextStyleBuilder};
    let text = latin_cyrillic(text);
    let width = pm.width() as f64;
    let room = match anchor {
        "middle" => 2.0 * x.min(width - x),
        "end" => x,
        _ => width - x,
    } - 4.0;
    const FONTS: [(f64, &MonoFont<'static>); 4] = [(17.0, &FONT_10X20), (14.0, &FONT_9X15), (11.5, &FONT_7X13), (0.0, &FONT_6X10)];
    let chars = text.chars().count() as f64;
    let fits = |f: &MonoFont<'_>| chars * (f.character_size.width + f.character_spacing) as f64 <= room;
    let start = FONTS.iter().position(|(min, _)| size >= *min).unwrap_or(FONTS.len() - 1);
    let font = FONTS[start..].iter().map(|f| f.1).find(|f| fits(f)).unwrap_or(&FONT_6X10);
    let alignment = match anchor {
        "middle" => Alignment::Center,
        "end" => Alignment::Right,
        _ => Alignment::Left,
    };
    let style = TextStyleBuilder::new().alignment(alignment).baseline(Baseline::Alphabetic).build();
    let at = Point::new(x.round() as i32, y.round() as i32);
    let mut canvas = Canvas(pm);
    for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
        let _ = Text::with_text_style(&text, at + Point::new(dx, dy), MonoTextStyle::new(font, Rgb888::WHITE), style).draw(&mut canvas);
    }
    let _ = Text::with_text_style(&text, at, MonoTextStyle::new(font, Rgb888::BLACK), style).draw(&mut canvas);
}

/// PNG: the same shapes, rasterised (tiny-skia), labels in a bitmap font (embedded-graphics).
fn png(scene: &Scene) -> Result<Vec<u8>, RenderError> {
    use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, Transform};
    let mut pm = Pixmap::new(scene.width.round() as u32, scene.height.round() as u32).ok_or(RenderError::Empty)?;
    let paint = |c: [u8; 3], a: f64| {
        let mut p = Paint::default();
        p.set_color(Color::from_rgba8(c[0], c[1], c[2], (a * 255.0).round() as u8));
        p.anti_alias = true;
        p
    };
    for sh in &scene.shapes {
        match sh {
            Shape::Dot { x, y, r, fill } => {
                if let Some(path) = PathBuilder::from_circle(*x as f32, *y as f32, *r as f32) {
                    pm.fill_path(&path, &paint(*fill, 1.0), FillRule::Winding, Transform::identity(), None);
                }
            }
            Shape::Rect { x, y, w, h, fill, opacity } => {
                if let Some(rect) = Rect::from_xywh(*x as f32, *y as f32, *w as f32, *h as f32) {
                    pm.fill_rect(rect, &paint(*fill, *opacity), Transform::identity(), None);
                }
            }
            Shape::Line { x1, y1, x2, y2, stroke, width } => {
                let mut pb = PathBuilder::new();
                pb.move_to(*x1 as f32, *y1 as f32);
                pb.line_to(*x2 as f32, *y2 as f32);
                if let Some(path) = pb.finish() {
                    let st = Stroke { width: *width as f32, ..Stroke::default() };
                    pm.stroke_path(&path, &paint(*stroke, 1.0), &st, Transform::identity(), None);
                }
            }
            Shape::Label { x, y, size, text, anchor } => png_label(&mut pm, *x, *y, *size, text, anchor),
        }
    }
    pm.encode_png().map_err(|e| RenderError::Png(e.to_string()))
}

/// The picture in the format the file name asks for (`.svg` or `.png`).
pub fn render(scene: &Scene, path: &std::path::Path) -> Result<Vec<u8>, RenderError> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => Ok(svg(scene).into_bytes()),
        Some("png") => png(scene),
        _ => Err(RenderError::Format(path.to_path_buf())),
    }
}

/// The map of a design, as the file name's format.
pub fn map(d: &Design, path: &std::path::Path, lang: Lang) -> Result<Vec<u8>, RenderError> {
    render(&map_scene(d, lang), path)
}

/// The bar chart of totals per territory, as the file name's format.
pub fn chart(d: &Design, path: &std::path::Path, lang: Lang) -> Result<Vec<u8>, RenderError> {
    render(&chart_scene(d, lang), path)
}
