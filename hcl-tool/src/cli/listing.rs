//! Output of the listing commands (`keyshift key list`, `instance list`,
//! ...): `--format table|json` and a plain aligned table.
//!
//! Text output never prints stored text as is: every cell and field value
//! goes through [`escape`], so a description, principal or audit detail
//! holding a newline, a tab or a terminal escape sequence cannot forge a
//! row or recolour the terminal. The JSON output carries the text exactly
//! (JSON escapes it) and is the source of truth.

use clap::ValueEnum;
use keyshift_core::engine::validate::is_unprintable;
use serde::Serialize;
use std::borrow::Cow;
use std::io::Write;

/// `text` for one cell of text output: `\` → `\\`, newline → `\n`, tab →
/// `\t`, carriage return → `\r`, any other control or invisible layout
/// character → `\u{XXXX}`; everything else as is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || is_unprintable(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unprintable(c) => out.push_str(&format!("\\u{{{:04X}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Output format of a listing command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns for people.
    #[default]
    Table,
    /// JSON for scripts (see each command's documented shape).
    Json,
}

/// Writes `value` as pretty JSON and a newline.
pub fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    out.flush()
}

/// Writes `rows` under `headers`, columns separated by two spaces and
/// padded to the widest cell (the last column is not padded).
pub fn write_table(
    out: &mut dyn Write,
    headers: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let rows: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c)).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(headers.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(|c| c.as_ref()).collect()))?;
    }
    out.flush()
}

/// Writes `field: value` lines, fields padded to one width.
pub fn write_fields(out: &mut dyn Write, fields: &[(&str, String)]) -> std::io::Result<()> {
    let w = fields.iter().map(|(f, _)| f.len()).max().unwrap_or(0) + 1;
    for (f, v) in fields {
        writeln!(out, "{:<w$} {}", format!("{f}:"), escape(v))?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["a-long".to_string(), "x".into()],
            vec!["b".into(), "".into()],
        ];
        write_table(&mut out, &["ID", "STATE"], &rows).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "ID      STATE\na-long  x\nb\n"
        );
    }

    #[test]
    fn stored_text_cannot_forge_rows_or_escape_sequences() {
        let cases = [
            ("plain", "oncall@example.com", "oncall@example.com"),
            ("newline and tab", "a\nb\tc", "a\\nb\\tc"),
            ("ansi", "\u{1b}[31mred", "\\u{001B}[31mred"),
            ("backslash", "a\\n", "a\\\\n"),
            ("bidi override", "x\u{202E}y", "x\\u{202E}y"),
            ("unicode letters", "José", "José"),
        ];
        for (name, text, want) in cases {
            assert_eq!(escape(text), want, "{name}");
        }
        let mut out = Vec::new();
        let rows = vec![vec!["a\nFAKE".to_string(), "x".into()]];
        write_table(&mut out, &["ID", "STATE"], &rows).unwrap();
        assert_eq!(String::from_utf8_lossy(&out).lines().count(), 2);
    }
}
