//! Setting one attribute in a block: update in place, insert into a
//! multi-line body, or expand a one-line block.

use super::layout::{group_eq_column, indent_at, line_of, next_line_start};
use super::source::newline_of;
use super::splice::Edit;
use super::value::same_value;
use hcl_edit::Span;
use hcl_edit::structure::{Attribute, Block, Structure};
use thiserror::Error;

/// Indentation unit `terraform fmt` uses.
const INDENT_UNIT: &str = "  ";

/// What an edit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EditKind {
    /// A new attribute line.
    Inserted,
    /// An existing attribute's value replaced.
    Updated,
}

/// A planned attribute edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrEdit {
    /// The splice.
    pub edit: Edit,
    /// Insert or update.
    pub kind: EditKind,
    /// One-based line of the attribute after the edit.
    pub line: usize,
}

/// A block whose layout the parser did not describe well enough to edit.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("cannot edit block at byte {at}: {what}")]
pub struct AttrError {
    /// Byte offset of the block.
    pub at: usize,
    /// What was missing.
    pub what: &'static str,
}

/// Makes `key = value` hold in `block` (parsed from `text`). Returns `None`
/// when the attribute already has that value.
pub fn set_attribute(
    text: &str,
    block: &Block,
    key: &str,
    value: &str,
) -> Result<Option<AttrEdit>, AttrError> {
    let span = block.span().ok_or(err(0, "block has no span"))?;
    if let Some(attr) = block.body.get_attribute(key) {
        let vspan = attr
            .value
            .span()
            .ok_or(err(span.start, "value has no span"))?;
        if same_value(&attr.value, &text[vspan.clone()], value) {
            return Ok(None);
        }
        let line = line_of(text, vspan.start) + 1;
        let edit = Edit {
            range: vspan,
            text: value.to_owned(),
        };
        return Ok(Some(AttrEdit {
            edit,
            kind: EditKind::Updated,
            line,
        }));
    }
    let open = open_brace(text, block).ok_or(err(span.start, "no opening brace"))?;
    let edit = if block.body.prefer_oneline() {
        expand_one_line(text, block, open, key, value)?
    } else {
        insert_multi_line(text, block, open, key, value)?
    };
    Ok(Some(edit))
}

fn err(at: usize, what: &'static str) -> AttrError {
    AttrError { at, what }
}

/// Byte offset of the `{` opening the block body.
fn open_brace(text: &str, block: &Block) -> Option<usize> {
    let after = match block.labels.last() {
        Some(label) => label.span()?.end,
        None => block.ident.span()?.end,
    };
    text[after..].find('{').map(|i| after + i)
}

fn insert_multi_line(
    text: &str,
    block: &Block,
    open: usize,
    key: &str,
    value: &str,
) -> Result<AttrEdit, AttrError> {
    let nl = newline_of(text);
    let leading: Vec<&Attribute> = block
        .body
        .iter()
        .map_while(Structure::as_attribute)
        .collect();
    let Some(anchor) = leading.last() else {
        // No leading attribute: insert as the first line of the body.
        let pos = next_line_start(text, open);
        let indent = match block.body.iter().next().and_then(Span::span) {
            Some(first) => indent_at(text, first.start).to_owned(),
            None => format!("{}{INDENT_UNIT}", indent_at(text, open)),
        };
        return Ok(AttrEdit {
            edit: Edit {
                range: pos..pos,
                text: format!("{indent}{key} = {value}{nl}"),
            },
            kind: EditKind::Inserted,
            line: line_of(text, pos) + 1,
        });
    };
    let aspan = anchor.span().ok_or(err(open, "attribute has no span"))?;
    let pos = next_line_start(text, aspan.end);
    let indent = indent_at(text, aspan.start);
    let width = indent.chars().count() + key.chars().count();
    let (blank, pad) = match group_eq_column(text, &leading) {
        Some(col) if width < col => ("", " ".repeat(col - width)),
        Some(_) => (nl, " ".to_owned()),
        None => ("", " ".to_owned()),
    };
    Ok(AttrEdit {
        edit: Edit {
            range: pos..pos,
            text: format!("{blank}{indent}{key}{pad}= {value}{nl}"),
        },
        kind: EditKind::Inserted,
        line: line_of(text, pos) + 1 + usize::from(!blank.is_empty()),
    })
}

fn expand_one_line(
    text: &str,
    block: &Block,
    open: usize,
    key: &str,
    value: &str,
) -> Result<AttrEdit, AttrError> {
    let span = block.span().ok_or(err(open, "block has no span"))?;
    let close = span.end.saturating_sub(1);
    if text.as_bytes().get(close) != Some(&b'}') || close <= open {
        return Err(err(span.start, "one-line block without closing brace"));
    }
    let nl = newline_of(text);
    let outer = indent_at(text, span.start);
    let inner = format!("{outer}{INDENT_UNIT}");
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Some(existing) = block.body.attributes().next() {
        let k = existing.key.span().ok_or(err(open, "key has no span"))?;
        let v = existing
            .value
            .span()
            .ok_or(err(open, "value has no span"))?;
        let rest = text[v.start..close].trim_end().to_owned();
        lines.push((text[k].to_owned(), rest));
    }
    lines.push((key.to_owned(), value.to_owned()));
    let width = lines
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::from("{");
    for (k, v) in &lines {
        let pad = " ".repeat(width - k.chars().count());
        out.push_str(&format!("{nl}{inner}{k}{pad} = {v}"));
    }
    out.push_str(&format!("{nl}{outer}}}"));
    Ok(AttrEdit {
        edit: Edit {
            range: open..span.end,
            text: out,
        },
        kind: EditKind::Inserted,
        line: line_of(text, open) + 1 + lines.len(),
    })
}

#[cfg(test)]
#[path = "attr_tests.rs"]
mod tests;
