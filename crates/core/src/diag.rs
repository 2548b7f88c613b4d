//! Located, user-facing messages: where (file:line:column), what was expected, what was found.
//!
//! Every reader (CSV, XLSX, JSON Lines, the scheme file) reports problems as [`Diagnostic`]s, all of
//! them in one run; the CLI prints them and writes nothing when any is an error.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// The source line shown under a message, with the offending text underlined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    /// Underline start and length, in characters of `text`.
    pub start: usize,
    pub len: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: Option<String>,
    /// 1-based line and column (column in characters).
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// A JSON field or TOML key path, when that says more than a line.
    pub field: Option<String>,
    pub message: String,
    pub expected: Option<String>,
    pub found: Option<String>,
    pub help: Option<String>,
    pub snippet: Option<Snippet>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: None,
            line: None,
            column: None,
            field: None,
            message: message.into(),
            expected: None,
            found: None,
            help: None,
            snippet: None,
        }
    }
    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }
    pub fn file(mut self, f: impl Into<String>) -> Self {
        self.file = Some(f.into());
        self
    }
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
    pub fn field(mut self, f: impl Into<String>) -> Self {
        self.field = Some(f.into());
        self
    }
    pub fn expected(mut self, e: impl Into<String>) -> Self {
        self.expected = Some(e.into());
        self
    }
    pub fn found(mut self, f: impl Into<String>) -> Self {
        self.found = Some(f.into());
        self
    }
    pub fn help(mut self, h: impl Into<String>) -> Self {
        self.help = Some(h.into());
        self
    }
    /// Locates the message at a byte range of `source` (the whole file), with a snippet.
    pub fn span_in(mut self, source: &str, start: usize, end: usize) -> Self {
        let start = floor_char(source, start.min(source.len()));
        let end = floor_char(source, end.clamp(start, source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..].find('\n').map_or(source.len(), |i| start + i);
        let line_no = source[..start].matches('\n').count() + 1;
        let col = source[line_start..start].chars().count() + 1;
        let text = source[line_start..line_end].trim_end_matches('\r').to_string();
        let len = source[start..end.min(line_end)].chars().count().max(1);
        self.line = Some(line_no);
        self.column = Some(col);
        self.snippet = Some(Snippet { text, start: col - 1, len });
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    /// `file:line:column` (or as much of it as is known).
    pub fn location(&self) -> Option<String> {
        let mut s = self.file.clone()?;
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        if let Some(f) = &self.field {
            s.push_str(&format!(" ({f})"));
        }
        Some(s)
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{kind}: {}", self.message)?;
        if let Some(loc) = self.location() {
            writeln!(f, "  --> {loc}")?;
        }
        let n = self.line.unwrap_or(0).to_string();
        let pad = if self.snippet.is_some() { " ".repeat(n.len()) } else { " ".into() };
        if let Some(s) = &self.snippet {
            writeln!(f, "{pad} |")?;
            writeln!(f, "{n} | {}", s.text)?;
            write!(f, "{pad} | {}{}", " ".repeat(s.start), "^".repeat(s.len))?;
            match &self.help {
                Some(h) => writeln!(f, " {h}")?,
                None => writeln!(f)?,
            }
        } else if let Some(h) = &self.help {
            writeln!(f, "{pad} = help: {h}")?;
        }
        match (&self.expected, &self.found) {
            (Some(e), Some(x)) => writeln!(f, "{pad} = expected {e}, found {x}")?,
            (Some(e), None) => writeln!(f, "{pad} = expected {e}")?,
            (None, Some(x)) => writeln!(f, "{pad} = found {x}")?,
            (None, None) => {}
        }
        Ok(())
    }
}

/// A list of diagnostics: errors first, then by file, line and column.
pub fn render_all(diags: &[Diagnostic]) -> String {
    let mut v: Vec<&Diagnostic> = diags.iter().collect();
    v.sort_by(|a, b| (a.severity, &a.file, a.line, a.column).cmp(&(b.severity, &b.file, b.line, b.column)));
    v.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}
