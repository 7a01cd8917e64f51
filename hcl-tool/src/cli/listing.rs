//! Output of the listing commands (`keyshift key list`, `instance list`,
//! ...): `--format table|json` and a plain aligned table.

use clap::ValueEnum;
use serde::Serialize;
use std::io::Write;

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
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
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
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    out.flush()
}

/// Writes `field: value` lines, fields padded to one width.
pub fn write_fields(out: &mut dyn Write, fields: &[(&str, String)]) -> std::io::Result<()> {
    let w = fields.iter().map(|(f, _)| f.len()).max().unwrap_or(0) + 1;
    for (f, v) in fields {
        writeln!(out, "{:<w$} {v}", format!("{f}:"))?;
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
}
