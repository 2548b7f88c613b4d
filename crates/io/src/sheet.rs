//! Reading a table a user has — CSV from Excel or 1C, an XLSX workbook, JSON Lines — into a
//! [`Sheet`]: a header row and rows of cells, each row with the line it came from.
//!
//! CSV: `,` `;` or tab is detected from the header line; a UTF-8 byte-order mark is dropped;
//! Windows-1251 (1C exports) is decoded when asked (`Encoding::Cp1251`); quoted fields may hold
//! line breaks and delimiters. XLSX: the first sheet, first row is the header. JSON Lines: one
//! object per line, keys are columns (in first-seen order).

use std::path::Path;

use allot_core::diag::Diagnostic;

/// The text encoding of a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Utf8,
    Cp1251,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Encoding> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "utf8" => Some(Encoding::Utf8),
            "cp1251" | "windows1251" | "win1251" => Some(Encoding::Cp1251),
            _ => None,
        }
    }
}

/// The encodings a run was asked to read with: one for every file, and one per file named by its
/// stem (`--encoding clients=cp1251`), which wins over the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encodings {
    pub all: Encoding,
    pub files: Vec<(String, Encoding)>,
}

/// A value of `--encoding` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodingError {
    Unknown(String),
    /// `=cp1251`: a file's encoding without the file.
    NoFile(String),
}

impl std::fmt::Display for EncodingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodingError::Unknown(name) => {
                write!(f, "unknown encoding `{name}`; expected utf-8 or cp1251, for every file or as FILE=ENCODING (e.g. clients=cp1251)")
            }
            EncodingError::NoFile(v) => write!(f, "`{v}` names no file; expected e.g. clients=cp1251"),
        }
    }
}

impl std::error::Error for EncodingError {}

impl Encodings {
    /// Reads the values of `--encoding`: `cp1251` (every file) or `clients=cp1251` (one file).
    pub fn parse(values: &[String]) -> Result<Encodings, EncodingError> {
        let mut out = Encodings::default();
        for v in values {
            let (file, name) = match v.split_once('=') {
                Some((f, n)) => (Some(f.trim()), n),
                None => (None, v.as_str()),
            };
            let enc = Encoding::parse(name.trim()).ok_or_else(|| EncodingError::Unknown(name.trim().to_string()))?;
            match file {
                Some("") => return Err(EncodingError::NoFile(v.clone())),
                Some(f) => out.files.push((f.to_string(), enc)),
                None => out.all = enc,
            }
        }
        Ok(out)
    }
    /// Several `--encoding` values in the order given (each parsed on its own by [`Encodings::parse`]).
    pub fn merge(list: &[Encodings]) -> Encodings {
        let mut out = Encodings::default();
        for e in list {
            if e.files.is_empty() {
                out.all = e.all;
            }
            out.files.extend(e.files.iter().cloned());
        }
        out
    }
    /// One encoding for every file.
    pub fn all(enc: Encoding) -> Encodings {
        Encodings { all: enc, files: vec![] }
    }
    /// The encoding for a file: the one named for it (by stem or file name), else the general one.
    pub fn for_file(&self, path: &Path) -> Encoding {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
        self.files.iter().rev().find(|(f, _)| f == stem || f == name).map_or(self.all, |(_, e)| *e)
    }
}

/// A cell as read, before it is given a type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    /// An XLSX date cell, as days since 1970-01-01.
    Date(i32),
    List(Vec<String>),
}

/// CSV fields of all rows in one text buffer: a million rows are three allocations, not two
/// million.
#[derive(Clone)]
struct CsvRows {
    buf: String,
    /// End offset in `buf` of every field, row after row.
    ends: Vec<u32>,
    /// Fields per row (every row has as many as the header).
    width: usize,
}

impl CsvRows {
    fn field(&self, row: usize, col: usize) -> &str {
        let i = row * self.width + col;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.buf[start..self.ends[i] as usize]
    }
}

/// Cells built one by one with no allocation of their own (the store's attributes read back into
/// a sheet): texts in one buffer, each cell 16 bytes.
#[derive(Clone)]
struct PackedRows {
    text: String,
    cells: Vec<Packed>,
    lists: Vec<Vec<String>>,
    width: usize,
}

#[derive(Clone, Copy)]
enum Packed {
    Empty,
    Text(u32, u32),
    Number(f64),
    Bool(bool),
    List(u32),
}

#[derive(Clone)]
enum Rows {
    Csv(CsvRows),
    Typed(Vec<Vec<Cell>>),
    Packed(PackedRows),
}

/// Where a text put into a [`SheetBuilder`] is kept.
#[derive(Debug, Clone, Copy)]
pub struct TextAt(u32, u32);

/// Builds a sheet a cell at a time, every text in one buffer: millions of rows without an
/// allocation per cell. Rows are numbered as lines from 2 (after a header), as
/// [`Sheet::from_cells`] numbers them.
pub struct SheetBuilder {
    file: String,
    headers: Vec<String>,
    rows: PackedRows,
}

impl SheetBuilder {
    pub fn new(file: &str, headers: Vec<String>, rows: usize) -> SheetBuilder {
        let width = headers.len();
        let rows = PackedRows { text: String::new(), cells: Vec::with_capacity(rows * width), lists: vec![], width };
        SheetBuilder { file: file.into(), headers, rows }
    }
    /// Appends a row of empty cells; returns its index.
    pub fn row(&mut self) -> usize {
        let r = &mut self.rows;
        r.cells.resize(r.cells.len() + r.width, Packed::Empty);
        r.cells.len() / r.width.max(1) - 1
    }
    /// Keeps a text; `None` past 4 GiB of text.
    pub fn push_text(&mut self, s: &str) -> Option<TextAt> {
        let start = u32::try_from(self.rows.text.len()).ok()?;
        let end = u32::try_from(self.rows.text.len() + s.len()).ok()?;
        self.rows.text.push_str(s);
        Some(TextAt(start, end))
    }
    fn set(&mut self, row: usize, col: usize, c: Packed) {
        if col < self.rows.width {
            self.rows.cells[row * self.rows.width + col] = c;
        }
    }
    pub fn set_text(&mut self, row: usize, col: usize, t: TextAt) {
        self.set(row, col, Packed::Text(t.0, t.1));
    }
    pub fn set_number(&mut self, row: usize, col: usize, n: f64) {
        self.set(row, col, Packed::Number(n));
    }
    pub fn set_bool(&mut self, row: usize, col: usize, b: bool) {
        self.set(row, col, Packed::Bool(b));
    }
    pub fn set_list(&mut self, row: usize, col: usize, items: Vec<String>) {
        let i = self.rows.lists.len() as u32;
        self.rows.lists.push(items);
        self.set(row, col, Packed::List(i));
    }
    pub fn finish(self) -> Sheet {
        let n = self.rows.cells.len() / self.rows.width.max(1);
        let lines = (2..n as u64 + 2).collect();
        Sheet { file: self.file, headers: self.headers, rows: Rows::Packed(self.rows), lines, spreadsheet: false }
    }
}

/// A read table: headers, rows, and where each row starts in the file.
#[derive(Clone)]
pub struct Sheet {
    pub file: String,
    pub headers: Vec<String>,
    rows: Rows,
    /// 1-based line (CSV, JSON Lines) or row (XLSX) of each row.
    pub lines: Vec<u64>,
    /// Whether `lines` are spreadsheet rows (XLSX) rather than text lines.
    pub spreadsheet: bool,
}

/// A borrowed cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CellRef<'a> {
    Empty,
    Text(&'a str),
    Number(f64),
    Bool(bool),
    Date(i32),
    List(&'a [String]),
}

impl Sheet {
    pub fn len(&self) -> usize {
        self.lines.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
    pub fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }
    pub fn cell(&self, row: usize, col: usize) -> CellRef<'_> {
        match &self.rows {
            Rows::Csv(r) if col >= r.width => CellRef::Empty,
            Rows::Csv(r) => match r.field(row, col) {
                s if s.trim().is_empty() => CellRef::Empty,
                s => CellRef::Text(s),
            },
            Rows::Packed(r) if col >= r.width => CellRef::Empty,
            Rows::Packed(r) => match r.cells[row * r.width + col] {
                Packed::Empty => CellRef::Empty,
                Packed::Text(a, b) => match &r.text[a as usize..b as usize] {
                    t if t.trim().is_empty() => CellRef::Empty,
                    t => CellRef::Text(t),
                },
                Packed::Number(n) => CellRef::Number(n),
                Packed::Bool(b) => CellRef::Bool(b),
                Packed::List(i) => CellRef::List(&r.lists[i as usize]),
            },
            Rows::Typed(r) => match r[row].get(col) {
                None | Some(Cell::Empty) => CellRef::Empty,
                Some(Cell::Text(s)) if s.trim().is_empty() => CellRef::Empty,
                Some(Cell::Text(s)) => CellRef::Text(s),
                Some(Cell::Number(n)) => CellRef::Number(*n),
                Some(Cell::Bool(b)) => CellRef::Bool(*b),
                Some(Cell::Date(d)) => CellRef::Date(*d),
                Some(Cell::List(l)) => CellRef::List(l),
            },
        }
    }
    /// A diagnostic located at a cell: `file:line:column (column \`name\`)`.
    pub fn at(&self, row: usize, col: usize, d: Diagnostic) -> Diagnostic {
        let d = d.file(self.file.clone()).at(self.lines[row] as usize, col + 1);
        match self.headers.get(col) {
            Some(h) => d.field(format!("column `{h}`")),
            None => d,
        }
    }
    /// The given rows only, in that order, each keeping its place in the file (for messages).
    pub fn select(&self, rows: &[usize]) -> Sheet {
        let typed = rows
            .iter()
            .map(|&r| {
                (0..self.headers.len())
                    .map(|c| match self.cell(r, c) {
                        CellRef::Empty => Cell::Empty,
                        CellRef::Text(t) => Cell::Text(t.to_string()),
                        CellRef::Number(n) => Cell::Number(n),
                        CellRef::Bool(b) => Cell::Bool(b),
                        CellRef::Date(d) => Cell::Date(d),
                        CellRef::List(l) => Cell::List(l.to_vec()),
                    })
                    .collect()
            })
            .collect();
        Sheet {
            file: self.file.clone(),
            headers: self.headers.clone(),
            rows: Rows::Typed(typed),
            lines: rows.iter().map(|&r| self.lines[r]).collect(),
            spreadsheet: self.spreadsheet,
        }
    }
    /// Builds a sheet from typed rows (used by tests and generators).
    pub fn from_cells(file: &str, headers: Vec<String>, rows: Vec<Vec<Cell>>) -> Sheet {
        let lines = (2..rows.len() as u64 + 2).collect();
        Sheet { file: file.into(), headers, rows: Rows::Typed(rows), lines, spreadsheet: false }
    }
}

/// Decodes file bytes. UTF-8 is recognised on its own (with or without a byte-order mark): a file
/// that is valid UTF-8 is read as UTF-8 whatever was asked, so a UTF-8 file beside Windows-1251
/// ones is never garbled. Otherwise `Utf8` refuses the file at the first bad byte (line, column,
/// byte) and suggests `--encoding cp1251`; `Cp1251` decodes it, refusing the one byte Windows-1251
/// leaves undefined (0x98) by line and column.
pub fn decode(bytes: &[u8], file: &str, enc: Encoding) -> Result<String, Diagnostic> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let e = match std::str::from_utf8(b) {
        Ok(s) => return Ok(s.to_owned()),
        Err(e) => e,
    };
    let at = |bad: usize| {
        let good = String::from_utf8_lossy(&b[..bad]);
        LineIndex::new(&good).line_col(&good, good.len())
    };
    match enc {
        Encoding::Utf8 => {
            let (line, col) = at(e.valid_up_to());
            Err(Diagnostic::error("the file is not valid UTF-8")
                .file(file)
                .at(line, col)
                .expected("UTF-8 text")
                .found(format!("byte 0x{:02X} at byte offset {}", b[e.valid_up_to()], e.valid_up_to()))
                .help(format!("files exported from 1C or old Excel are often Windows-1251: add `--encoding cp1251` (or `--encoding {}=cp1251` for this file alone)", file_stem(file))))
        }
        Encoding::Cp1251 => {
            if let Some(bad) = b.iter().position(|&c| c == 0x98) {
                let (line, col) = at(bad.min(b.len()));
                return Err(Diagnostic::error("the file is not valid Windows-1251 either")
                    .file(file)
                    .at(line, col)
                    .expected("Windows-1251 or UTF-8 text")
                    .found(format!("byte 0x98 at byte offset {bad}, which Windows-1251 does not define"))
                    .help("save the file again as UTF-8 or Windows-1251 (in Excel: \"CSV UTF-8\")"));
            }
            let (text, _, _) = encoding_rs::WINDOWS_1251.decode(b);
            Ok(text.into_owned())
        }
    }
}

/// [`decode`] of bytes the caller gives up: UTF-8 text (the common case) becomes the string
/// without a copy of a file's hundreds of megabytes.
pub fn decode_owned(bytes: Vec<u8>, file: &str, enc: Encoding) -> Result<String, Diagnostic> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return decode(&bytes, file, enc);
    }
    String::from_utf8(bytes).or_else(|e| decode(e.as_bytes(), file, enc))
}

/// `clients` of `path/to/clients.csv`: how `--encoding NAME=…` names a file.
pub fn file_stem(file: &str) -> String {
    Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or(file).to_string()
}

/// The delimiter of a CSV text: whichever of `;` `,` tab occurs most in the header line outside
/// quotes (`,` on a tie).
pub fn detect_delimiter(text: &str) -> u8 {
    detect_delimiter_bytes(text.as_bytes())
}

/// [`detect_delimiter`] of bytes in any encoding that keeps ASCII as it is.
fn detect_delimiter_bytes(b: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &c in b {
        match c {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    [b',', b';', b'\t'][best]
}

fn header_problems(file: &str, headers: &[String], line: usize) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            out.push(
                Diagnostic::error(format!("column {} has no name", i + 1)).file(file).at(line, i + 1).expected("a name in the header row"),
            );
        } else if let Some(j) = headers[..i].iter().position(|x| x == h) {
            out.push(
                Diagnostic::error(format!("column `{h}` appears twice (columns {} and {})", j + 1, i + 1))
                    .file(file)
                    .at(line, i + 1)
                    .expected("unique column names"),
            );
        }
    }
    out
}

/// Where each line of a text starts, whatever ends its lines: `\n` (Unix), `\r\n` (Windows, Excel,
/// 1C) or a lone `\r` (old Mac exports). The CSV reader's own line count is off by one after each
/// CRLF, so every line number in a message comes from here, by the record's byte offset.
pub struct LineIndex(Vec<usize>);

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let b = text.as_bytes();
        let mut starts = vec![0];
        for (i, &c) in b.iter().enumerate() {
            if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        LineIndex(starts)
    }
    /// The 1-based line holding byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&s| s <= offset).max(1)
    }
    /// The 1-based line and column (in characters) of byte `offset` of `text`.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.0[line - 1];
        (line, text.get(start..offset.min(text.len())).map_or(1, |t| t.chars().count() + 1))
    }
}

/// The lines of a text, split at `\n`, `\r\n` or a lone `\r`.
pub fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let s = rest?;
        match s.find(['\n', '\r']) {
            Some(i) => {
                let skip = if s[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = Some(&s[i + skip..]);
                Some(&s[..i])
            }
            None => {
                rest = None;
                (!s.is_empty()).then_some(s)
            }
        }
    })
}

/// Reads CSV text.
pub fn read_csv_text(text: &str, file: &str) -> Result<Sheet, Vec<Diagnostic>> {
    read_csv_with(text, file, detect_delimiter(text), true)
}

/// [`read_csv_text`] with the delimiter given; `headers` says whether the header row's problems
/// are reported (a later chunk of a file repeats the header the first one checked).
fn read_csv_with(text: &str, file: &str, delim: u8, headers_checked: bool) -> Result<Sheet, Vec<Diagnostic>> {
    match read_csv_from(text.as_bytes(), text.len(), file, Some(delim), headers_checked) {
        Ok(read) => read,
        // Unreachable: the bytes of a `str` are UTF-8.
        Err(NotUtf8) => Err(vec![Diagnostic::error("the file is not valid UTF-8").file(file)]),
    }
}

/// Reads a CSV file as UTF-8, a block at a time (no copy of the whole file is held beside its
/// fields); a file that is not UTF-8 (a Windows-1251 export) is then read whole and decoded.
fn read_csv_file(path: &Path, file: &str, enc: Encoding) -> Result<Sheet, Vec<Diagnostic>> {
    let cannot = |e: std::io::Error| vec![Diagnostic::error(format!("cannot read the file: {e}")).file(file)];
    let input = std::fs::File::open(path).map_err(cannot)?;
    let size = input.metadata().map_or(0, |m| m.len() as usize);
    if let Ok(read) = read_csv_from(input, size, file, None, true) {
        return read;
    }
    let text = decode_owned(std::fs::read(path).map_err(cannot)?, file, enc).map_err(|d| vec![d])?;
    read_csv_text(&text, file)
}

/// Bytes that are not UTF-8: the caller decodes them first.
struct NotUtf8;

/// Whether a field holds nothing but white space (as `str::trim` sees it).
fn blank(f: &[u8]) -> bool {
    if f.is_ascii() {
        f.iter().all(|&b| b.is_ascii_whitespace() || b == 0x0B)
    } else {
        std::str::from_utf8(f).is_ok_and(|s| s.trim().is_empty())
    }
}

/// Line ends met so far, counted as [`LineIndex`] counts them (`\r\n` is one) across blocks.
#[derive(Default)]
struct Breaks {
    count: usize,
    after_cr: bool,
}

impl Breaks {
    fn add(&mut self, seg: &[u8]) {
        for i in memchr::memchr2_iter(b'\n', b'\r', seg) {
            let crlf = seg[i] == b'\n' && if i == 0 { self.after_cr } else { seg[i - 1] == b'\r' };
            self.count += usize::from(!crlf);
        }
        if let Some(&last) = seg.last() {
            self.after_cr = last == b'\r';
        }
    }
}

/// Input read a block at a time into one reused buffer.
struct Blocks<R> {
    input: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
}

impl<R: std::io::Read> Blocks<R> {
    /// Reads the next block once the current one is used up.
    fn refill(&mut self) -> std::io::Result<()> {
        if self.pos < self.len || self.eof {
            return Ok(());
        }
        (self.pos, self.len) = (0, 0);
        while self.len < self.buf.len() {
            match self.input.read(&mut self.buf[self.len..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
    fn rest(&self) -> &[u8] {
        &self.buf[self.pos..self.len]
    }
}

/// Reads CSV from `input` (about `size` bytes), the fields parsed straight into the sheet's one
/// text buffer; `Err(NotUtf8)` when a header or a field is not UTF-8 (then nothing of the reading
/// is kept: the caller decodes the file and reads the text). The delimiter is detected from the
/// header line when not given.
fn read_csv_from<R: std::io::Read>(
    input: R,
    size: usize,
    file: &str,
    delim: Option<u8>,
    headers_checked: bool,
) -> Result<Result<Sheet, Vec<Diagnostic>>, NotUtf8> {
    const BLOCK: usize = 1 << 20;
    let cannot = |e: std::io::Error| Ok(Err(vec![Diagnostic::error(format!("cannot read the file: {e}")).file(file)]));
    let mut src = Blocks { input, buf: vec![0; (size + 1).clamp(4096, BLOCK)], pos: 0, len: 0, eof: false };
    if let Err(e) = src.refill() {
        return cannot(e);
    }
    let delim = delim.unwrap_or_else(|| detect_delimiter_bytes(src.rest()));
    let mut core = csv_core::ReaderBuilder::new().delimiter(delim).build();
    let mut breaks = Breaks::default();
    // The fields of the kept rows, back to back; `ends` are where each ends in it.
    let mut out: Vec<u8> = Vec::with_capacity(size);
    let mut out_len = 0;
    let mut field_ends = vec![0usize; 64];
    let mut headers: Option<Vec<String>> = None;
    let (mut ends, mut lines): (Vec<u32>, Vec<u64>) = (Vec::new(), Vec::new());
    let mut errors = Vec::new();
    let mut not_utf8 = false;
    loop {
        // Line ends before a record are skipped here (as the parser would), so that the record's
        // line is the line of its first byte.
        loop {
            let skip = src.rest().iter().take_while(|&&b| b == b'\n' || b == b'\r').count();
            breaks.add(&src.rest()[..skip]);
            src.pos += skip;
            if src.pos < src.len || src.eof {
                break;
            }
            if let Err(e) = src.refill() {
                return cannot(e);
            }
        }
        let line = breaks.count as u64 + 1;
        let base = out_len;
        let mut nfields = 0;
        let more = loop {
            if out.len() - out_len < 4096 {
                out.resize(out.len() + (4 * BLOCK).max(out.len() / 8), 0);
            }
            let (res, nin, nout, nend) = core.read_record(src.rest(), &mut out[out_len..], &mut field_ends[nfields..]);
            breaks.add(&src.rest()[..nin]);
            src.pos += nin;
            out_len += nout;
            nfields += nend;
            match res {
                csv_core::ReadRecordResult::InputEmpty => {
                    if let Err(e) = src.refill() {
                        return cannot(e);
                    }
                }
                csv_core::ReadRecordResult::OutputFull => out.resize(out.len() * 2, 0),
                csv_core::ReadRecordResult::OutputEndsFull => field_ends.resize(field_ends.len() * 2, 0),
                csv_core::ReadRecordResult::Record => break true,
                csv_core::ReadRecordResult::End => break false,
            }
        };
        if !more {
            break;
        }
        let fields = &field_ends[..nfields];
        let field = |i: usize| &out[base + if i == 0 { 0 } else { fields[i - 1] }..base + fields[i]];
        let Some(width) = headers.as_ref().map(Vec::len) else {
            let names = (0..nfields).map(|i| std::str::from_utf8(field(i)).map(|s| s.trim().to_string()));
            let names: Vec<String> = names.collect::<Result<_, _>>().map_err(|_| NotUtf8)?;
            // Vectors made once at about their size (a guess from the first block's lines).
            let rows = match src.len {
                0 => 0,
                n => memchr::memchr_iter(b'\n', &src.buf[..n]).count() * size.max(n) / n + 16,
            };
            ends.reserve(rows * names.len());
            lines.reserve(rows);
            headers = Some(names);
            out_len = base;
            continue;
        };
        if (0..nfields).all(|i| blank(field(i))) {
            out_len = base; // blank line, or a row of empty cells as Excel leaves at the end
            continue;
        }
        if nfields != width {
            not_utf8 |= std::str::from_utf8(&out[base..out_len]).is_err();
            errors.push(
                Diagnostic::error(format!("row has {nfields} fields but the header has {width}"))
                    .file(file)
                    .at(line as usize, nfields.min(width) + 1)
                    .expected(format!("{width} fields separated by `{}`", delim as char))
                    .found(format!("{nfields} fields"))
                    .help("a field holding the delimiter or a line break must be in double quotes"),
            );
            out_len = base;
            continue;
        }
        if out_len > u32::MAX as usize {
            return Ok(Err(vec![Diagnostic::error("the file is larger than 4 GiB of text")
                .file(file)
                .at(line as usize, 1)
                .help("split it into several files")]));
        }
        ends.extend(fields.iter().map(|&e| (base + e) as u32));
        lines.push(line);
    }
    let headers = headers.unwrap_or_default();
    if headers.iter().all(|h| h.is_empty()) {
        return Ok(Err(vec![Diagnostic::error("the file is empty")
            .file(file)
            .at(1, 1)
            .expected("a header row naming the columns, e.g. id,name,region")]));
    }
    out.truncate(out_len);
    if !errors.is_empty() {
        // A file that is not UTF-8 is refused for that first (or read again decoded).
        if not_utf8 || std::str::from_utf8(&out).is_err() {
            return Err(NotUtf8);
        }
        let mut all = if headers_checked { header_problems(file, &headers, 1) } else { vec![] };
        all.extend(errors);
        return Ok(Err(all));
    }
    if headers_checked {
        let problems = header_problems(file, &headers, 1);
        if !problems.is_empty() {
            return Ok(Err(problems));
        }
    }
    let width = headers.len();
    let buf = String::from_utf8(out).map_err(|_| NotUtf8)?;
    Ok(Ok(Sheet { file: file.into(), headers, rows: Rows::Csv(CsvRows { buf, ends, width }), lines, spreadsheet: false }))
}

/// Reads JSON Lines text: one object per line.
pub fn read_jsonl_text(text: &str, file: &str) -> Result<Sheet, Vec<Diagnostic>> {
    let mut headers: Vec<String> = Vec::new();
    let mut objects = Vec::new();
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in split_lines(text).enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(map)) => {
                for k in map.keys() {
                    if !headers.contains(k) {
                        headers.push(k.clone());
                    }
                }
                objects.push(map);
                lines.push(line_no as u64);
            }
            Ok(other) => errors.push(
                Diagnostic::error("each line must be a JSON object")
                    .file(file)
                    .at(line_no, 1)
                    .expected("an object such as {\"id\": \"c1\", \"region\": \"RU-MOW\"}")
                    .found(json_kind(&other).to_string()),
            ),
            Err(e) => errors.push(Diagnostic::error(format!("invalid JSON: {e}")).file(file).at(line_no, e.column().max(1))),
        }
    }
    let mut rows = Vec::with_capacity(objects.len());
    for (map, &line) in objects.iter().zip(&lines) {
        let mut row = Vec::with_capacity(headers.len());
        for h in &headers {
            let cell = match map.get(h) {
                None | Some(serde_json::Value::Null) => Cell::Empty,
                Some(serde_json::Value::String(s)) => Cell::Text(s.clone()),
                // As written, so that the typed reader refuses what an f64 would round or overflow.
                Some(serde_json::Value::Number(n)) => Cell::Text(n.to_string()),
                Some(serde_json::Value::Bool(b)) => Cell::Bool(*b),
                Some(serde_json::Value::Array(a)) => {
                    let mut items = Vec::new();
                    for v in a {
                        match v {
                            serde_json::Value::String(s) => items.push(s.clone()),
                            serde_json::Value::Number(n) => items.push(n.to_string()),
                            other => errors.push(
                                Diagnostic::error(format!("list `{h}` holds {}", json_kind(other)))
                                    .file(file)
                                    .at(line as usize, 1)
                                    .field(format!("field `{h}`"))
                                    .expected("a list of texts"),
                            ),
                        }
                    }
                    Cell::List(items)
                }
                Some(other) => {
                    errors.push(
                        Diagnostic::error(format!("field `{h}` is {}", json_kind(other)))
                            .file(file)
                            .at(line as usize, 1)
                            .field(format!("field `{h}`"))
                            .expected("text, a number, true/false, a list or null"),
                    );
                    Cell::Empty
                }
            };
            row.push(cell);
        }
        rows.push(row);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Sheet { file: file.into(), headers, rows: Rows::Typed(rows), lines, spreadsheet: false })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "text",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Reads the first sheet of an XLSX workbook.
pub fn read_xlsx(path: &Path, file: &str) -> Result<Sheet, Vec<Diagnostic>> {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let fail = |m: String| vec![Diagnostic::error(m).file(file)];
    let mut wb: Xlsx<_> = open_workbook(path).map_err(|e| fail(format!("cannot open the workbook: {e}")))?;
    let Some(name) = wb.sheet_names().first().cloned() else {
        return Err(fail("the workbook has no sheets".into()));
    };
    let range = wb.worksheet_range(&name).map_err(|e| fail(format!("cannot read sheet `{name}`: {e}")))?;
    let first_row = range.start().map_or(0, |(r, _)| r as u64);
    let mut iter = range.rows();
    let Some(head) = iter.next() else {
        return Err(fail(format!("sheet `{name}` is empty; expected a header row naming the columns")));
    };
    let headers: Vec<String> = head.iter().map(|c| c.to_string().trim().to_string()).collect();
    let mut errors = header_problems(file, &headers, first_row as usize + 1);
    let mut rows = Vec::new();
    let mut lines = Vec::new();
    for (i, r) in iter.enumerate() {
        let cells: Vec<Cell> = r
            .iter()
            .map(|c| match c {
                Data::Empty => Cell::Empty,
                Data::String(s) => Cell::Text(s.clone()),
                Data::Float(f) => Cell::Number(*f),
                Data::Int(n) => Cell::Number(*n as f64),
                Data::Bool(b) => Cell::Bool(*b),
                Data::DateTime(d) => Cell::Date((d.as_f64() - 25569.0).floor() as i32),
                Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
                Data::Error(e) => Cell::Text(format!("#{e:?}")),
            })
            .collect();
        if cells.iter().all(|c| matches!(c, Cell::Empty)) {
            continue;
        }
        let row_no = first_row + i as u64 + 2;
        for (j, c) in cells.iter().enumerate() {
            if let Cell::Text(t) = c {
                if t.starts_with('#') && r.get(j).is_some_and(|d| matches!(d, Data::Error(_))) {
                    errors.push(
                        Diagnostic::error(format!("the cell holds a spreadsheet error {t}"))
                            .file(file)
                            .at(row_no as usize, j + 1)
                            .expected("a value"),
                    );
                }
            }
        }
        rows.push(cells);
        lines.push(row_no);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Sheet { file: file.into(), headers, rows: Rows::Typed(rows), lines, spreadsheet: true })
}

/// A CSV file read a chunk of rows at a time (issue #19: ten million deals in bounded memory).
/// Each chunk is a [`Sheet`] of the file's header and up to `rows` lines, cut only where a line
/// ends outside quotes, its lines and messages numbered as in the whole file. The delimiter is
/// the header line's; the encoding is decided chunk by chunk as [`decode`] decides it for a file
/// (a chunk of plain ASCII reads the same either way).
pub struct CsvChunks {
    file: String,
    input: std::io::BufReader<std::fs::File>,
    enc: Encoding,
    /// The header line as read (bytes, with its line end), put before each chunk.
    header: Vec<u8>,
    /// Lines the header takes.
    header_lines: u64,
    delim: u8,
    /// Lines read so far (header included).
    read: u64,
    rows: usize,
    done: bool,
    /// The first chunk keeps the byte-order mark and checks the header.
    first: bool,
    /// The file's size and the bytes read so far, header included.
    size: u64,
    consumed: u64,
}

impl CsvChunks {
    /// Opens a CSV file for reading in chunks of `rows` lines; `None` for a workbook or JSON
    /// Lines (read whole), an error when the file cannot be opened or its header read.
    pub fn open(path: &Path, enc: Encoding, rows: usize) -> Result<Option<CsvChunks>, Vec<Diagnostic>> {
        use std::io::BufRead;
        let file = path.display().to_string();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if matches!(ext.as_str(), "xlsx" | "xlsm" | "jsonl" | "ndjson") {
            return Ok(None);
        }
        let cannot = |e: std::io::Error| vec![Diagnostic::error(format!("cannot read the file: {e}")).file(file.clone())];
        let mut input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(cannot)?);
        let mut header = Vec::new();
        let mut header_lines = 0;
        let mut quotes = 0usize;
        // The header is one record: it may span lines only inside quotes.
        loop {
            let n = input.read_until(b'\n', &mut header).map_err(cannot)?;
            if n == 0 {
                break;
            }
            header_lines += 1;
            quotes += header[header.len() - n..].iter().filter(|&&b| b == b'"').count();
            if quotes.is_multiple_of(2) {
                break;
            }
        }
        let text = decode(&header, &file, enc).map_err(|d| vec![d])?;
        let delim = detect_delimiter(&text);
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let consumed = header.len() as u64;
        Ok(Some(CsvChunks {
            file,
            input,
            enc,
            header,
            header_lines,
            delim,
            read: header_lines,
            rows: rows.max(1),
            done: false,
            first: true,
            size,
            consumed,
        }))
    }

    /// About how many lines the file holds, from the length of those read so far.
    pub fn estimated_lines(&self) -> u64 {
        let lines = self.read - self.header_lines;
        match self.consumed.saturating_sub(self.header.len() as u64) {
            0 => 0,
            body => self.size.saturating_sub(self.header.len() as u64) * lines / body,
        }
    }

    /// The file's column names, as the header row gives them.
    pub fn headers(&self) -> Result<Vec<String>, Vec<Diagnostic>> {
        let text = decode(&self.header, &self.file, self.enc).map_err(|d| vec![d])?;
        Ok(read_csv_with(&text, &self.file, self.delim, true)?.headers)
    }

    /// The next chunk; `None` after the last. A chunk's errors (a bad field count, a byte the
    /// encoding does not allow) are its own: the next chunk can still be read, so that every
    /// error of the file is found.
    pub fn next_chunk(&mut self) -> Option<Result<Sheet, Vec<Diagnostic>>> {
        use std::io::BufRead;
        if self.done {
            return None;
        }
        let first_line = self.read + 1;
        let mut bytes = self.header.clone();
        let (mut lines, mut quotes) = (0usize, 0usize);
        loop {
            let at = bytes.len();
            match self.input.read_until(b'\n', &mut bytes) {
                Ok(0) => {
                    self.done = true;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(vec![Diagnostic::error(format!("cannot read the file: {e}"))
                        .file(self.file.clone())
                        .at(first_line as usize + lines, 1)]));
                }
            }
            lines += 1;
            quotes += bytes[at..].iter().filter(|&&b| b == b'"').count();
            if lines >= self.rows && quotes.is_multiple_of(2) {
                break;
            }
        }
        self.read += lines as u64;
        self.consumed += (bytes.len() - self.header.len()) as u64;
        if lines == 0 && !self.first {
            return None;
        }
        // Lines of the chunk are numbered from the header's end: shifted to the file's.
        let shift = first_line - 1 - self.header_lines;
        let moved = |mut d: Diagnostic| {
            d.line = d.line.map(|l| if l as u64 > self.header_lines { l + shift as usize } else { l });
            d
        };
        let checked = std::mem::replace(&mut self.first, false);
        let read = match read_csv_from(&bytes[..], bytes.len(), &self.file, Some(self.delim), checked) {
            Ok(read) => read,
            Err(NotUtf8) => match decode_owned(bytes, &self.file, self.enc) {
                Ok(text) => read_csv_with(&text, &self.file, self.delim, checked),
                Err(d) => return Some(Err(vec![moved(d)])),
            },
        };
        Some(match read {
            Ok(mut sheet) => {
                sheet.lines.iter_mut().for_each(|l| *l += shift);
                Ok(sheet)
            }
            Err(errors) => Err(errors.into_iter().map(moved).collect()),
        })
    }
}

/// Reads a table by its extension: `.xlsx`, `.jsonl`/`.ndjson`, else CSV.
pub fn read_table(path: &Path, enc: Encoding) -> Result<Sheet, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "xlsx" || ext == "xlsm" {
        return read_xlsx(path, &file);
    }
    if ext == "jsonl" || ext == "ndjson" {
        let bytes = std::fs::read(path).map_err(|e| vec![Diagnostic::error(format!("cannot read the file: {e}")).file(file.clone())])?;
        let text = decode_owned(bytes, &file, enc).map_err(|d| vec![d])?;
        read_jsonl_text(&text, &file)
    } else {
        read_csv_file(path, &file, enc)
    }
}
