//! Line geometry and the `terraform fmt` alignment rule.
//!
//! `terraform fmt` aligns the `=` of consecutive single-line attributes. A
//! group ends at a blank line, a comment line, a nested block, or an
//! attribute whose value spans lines (a heredoc counts as one line). The
//! `=` column of a group is one past its longest key.

use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Attribute;

/// Byte offset of the start of the line containing `pos`.
pub fn line_start(text: &str, pos: usize) -> usize {
    text[..pos.min(text.len())].rfind('\n').map_or(0, |i| i + 1)
}

/// Byte offset just past the newline ending the line containing `pos`
/// (or the end of the text).
pub fn next_line_start(text: &str, pos: usize) -> usize {
    let pos = pos.min(text.len());
    text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1)
}

/// Zero-based line number of `pos`.
pub fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// The leading whitespace of the line containing `pos`.
pub fn indent_at(text: &str, pos: usize) -> &str {
    let start = line_start(text, pos);
    let line = &text[start..];
    let n = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..n]
}

/// Display column (zero-based, in characters) of `pos` on its line.
pub fn column_of(text: &str, pos: usize) -> usize {
    text[line_start(text, pos)..pos].chars().count()
}

/// Whether `attr` is one `terraform fmt` line: a single-line value or a heredoc.
pub fn is_one_line(text: &str, attr: &Attribute) -> bool {
    let Some(span) = attr.value.span() else {
        return false;
    };
    matches!(attr.value, Expression::HeredocTemplate(_)) || !text[span].contains('\n')
}

/// Column of the `=` of `attr`, measured on the line text.
pub fn eq_column(text: &str, attr: &Attribute) -> Option<usize> {
    let key_end = attr.key.span()?.end;
    let value_start = attr.value.span()?.start;
    let eq = text[key_end..value_start].find('=')? + key_end;
    Some(column_of(text, eq))
}

/// Whether attribute `next` starts on the line right after `prev` ends.
pub fn adjacent(text: &str, prev: &Attribute, next: &Attribute) -> bool {
    match (prev.span(), next.span()) {
        (Some(p), Some(n)) => {
            // A comment or blank line in between would add a newline.
            text[p.end..n.start].matches('\n').count() == 1
        }
        _ => false,
    }
}

/// The `=` column of the alignment group that ends with the last of
/// `attrs` (consecutive attributes in body order), or `None` when that
/// attribute is not a one-line attribute (so a new line after it starts a
/// new group).
pub fn group_eq_column(text: &str, attrs: &[&Attribute]) -> Option<usize> {
    let (last, rest) = attrs.split_last()?;
    if !is_one_line(text, last) {
        return None;
    }
    let mut col = eq_column(text, last)?;
    let mut next = *last;
    for prev in rest.iter().rev() {
        if !is_one_line(text, prev) || !adjacent(text, prev, next) {
            break;
        }
        col = col.max(eq_column(text, prev)?);
        next = prev;
    }
    Some(col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let t = "ab\r\n  cd\nef";
        assert_eq!(line_start(t, 6), 4);
        assert_eq!(next_line_start(t, 5), 9);
        assert_eq!(next_line_start(t, 10), t.len());
        assert_eq!(line_of(t, 9), 2);
        assert_eq!(indent_at(t, 7), "  ");
        assert_eq!(column_of(t, 8), 4);
    }
}
