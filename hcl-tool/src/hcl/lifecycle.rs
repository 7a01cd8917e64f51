//! `lifecycle { ignore_changes = [...] }` entries that `keyshift rewrite
//! --prepare` adds and `--finalize` takes out again.
//!
//! Every added entry is followed by [`MARKER`] (`dkms_instance_id /*
//! keyshift:prepare */`), an inline comment that `terraform fmt` leaves
//! alone and that never joins an alignment group. Removing an entry is the
//! exact inverse of adding it: [`unignore_in_text`] tries the few texts the
//! entry could have been added to and keeps the one from which
//! [`ignore_in_text`] produces the current text again, so the user's own
//! lifecycle settings come back byte for byte (and an entry edited after
//! `--prepare` is reported instead of guessed at).

use super::attr::{AttrError, set_attribute};
use super::find::find_resource;
use super::layout::{indent_at, line_of, line_start, next_line_start};
use super::source::newline_of;
use super::splice::{Edit, apply_edits};
use hcl_edit::Span;
use hcl_edit::expr::{Array, Expression};
use hcl_edit::structure::{Block, Body};
use thiserror::Error;

/// The comment following an entry `--prepare` added to an existing list.
pub const MARKER: &str = "/* keyshift:prepare */";
/// The comment following the entry of an `ignore_changes` `--prepare` added.
pub const MARKER_NEW_ATTR: &str = "/* keyshift:prepare, new ignore_changes */";
/// The comment following the entry of a `lifecycle` block `--prepare` added.
pub const MARKER_NEW_BLOCK: &str = "/* keyshift:prepare, new lifecycle */";
/// What every marker starts with.
pub const MARKER_PREFIX: &str = "/* keyshift:prepare";

/// What `--prepare` created for an entry, told by its marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Created {
    Entry,
    Attr,
    Block,
}

impl Created {
    fn of(after: &str) -> Option<Self> {
        [
            (MARKER_NEW_BLOCK, Created::Block),
            (MARKER_NEW_ATTR, Created::Attr),
            (MARKER, Created::Entry),
        ]
        .into_iter()
        .find(|(m, _)| after.starts_with(m))
        .map(|(_, c)| c)
    }

    fn marker(self) -> &'static str {
        match self {
            Created::Entry => MARKER,
            Created::Attr => MARKER_NEW_ATTR,
            Created::Block => MARKER_NEW_BLOCK,
        }
    }
}

/// Why a lifecycle could not be edited.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LifecycleError {
    /// The layout is not one keyshift edits safely.
    #[error("line {line}: {what}")]
    Layout {
        /// One-based line.
        line: usize,
        /// What is in the way.
        what: &'static str,
    },
    /// Inserting the attribute failed.
    #[error(transparent)]
    Attr(#[from] AttrError),
    /// The text does not parse (after an edit: a bug, reported, not written).
    #[error("the edited text does not parse: {0}")]
    Parse(String),
    /// The resource block is not in the text.
    #[error("no `resource \"{0}\" \"{1}\"` block")]
    NoBlock(String, String),
    /// A marked entry was changed after `--prepare` wrote it.
    #[error(
        "line {line}: the `ignore_changes` entry {attr} that keyshift rewrite --prepare added was \
         edited since; remove it (and its `/* keyshift:prepare... */` comment) from the \
         lifecycle block by hand"
    )]
    Edited {
        /// One-based line of the marker.
        line: usize,
        /// The attribute.
        attr: String,
    },
}

fn layout(text: &str, at: usize, what: &'static str) -> LifecycleError {
    LifecycleError::Layout {
        line: line_of(text, at) + 1,
        what,
    }
}

/// The `lifecycle` block of a resource block, if any (several are refused).
fn lifecycle_of<'a>(text: &str, block: &'a Block) -> Result<Option<&'a Block>, LifecycleError> {
    let mut found = block
        .body
        .blocks()
        .filter(|b| b.ident.as_str() == "lifecycle");
    let first = found.next();
    if let Some(second) = found.next() {
        let at = second.span().map_or(0, |s| s.start);
        return Err(layout(text, at, "more than one lifecycle block"));
    }
    Ok(first)
}

/// Whether the `ignore_changes` expression already covers `attr`.
fn covers(text: &str, expr: &Expression, attr: &str) -> bool {
    match expr {
        Expression::Variable(v) => v.as_str() == "all",
        Expression::String(s) => s.value() == "all",
        Expression::Array(a) => a
            .iter()
            .any(|e| e.span().is_some_and(|s| text[s].trim() == attr)),
        _ => false,
    }
}

/// The edit that adds `attr` to the `ignore_changes` of `block` (a resource
/// block parsed from `text`), or `None` when it is already ignored
/// (listed, or `ignore_changes = all`).
pub fn ignore_attribute(
    text: &str,
    block: &Block,
    attr: &str,
) -> Result<Option<Edit>, LifecycleError> {
    let entry = format!("{attr} {MARKER}");
    let Some(lc) = lifecycle_of(text, block)? else {
        let entry = format!("{attr} {MARKER_NEW_BLOCK}");
        return add_lifecycle(text, block, &entry).map(Some);
    };
    let Some(ic) = lc.body.get_attribute("ignore_changes") else {
        let value = format!("[{attr} {MARKER_NEW_ATTR}]");
        return Ok(set_attribute(text, lc, "ignore_changes", &value)?.map(|e| e.edit));
    };
    if covers(text, &ic.value, attr) {
        return Ok(None);
    }
    let vspan = ic
        .value
        .span()
        .ok_or(layout(text, 0, "value has no span"))?;
    match &ic.value {
        Expression::Array(a) if text[vspan.clone()].contains('\n') => {
            add_to_multi_line(text, a, vspan.end.saturating_sub(1), &entry).map(Some)
        }
        Expression::Array(_) => add_to_one_line(text, vspan.end.saturating_sub(1), &entry),
        _ => Err(layout(
            text,
            vspan.start,
            "ignore_changes is neither a list nor `all`",
        )),
    }
}

/// `[a, b]` -> `[a, b, ENTRY]`; `[]` -> `[ENTRY]`.
fn add_to_one_line(text: &str, close: usize, entry: &str) -> Result<Option<Edit>, LifecycleError> {
    if text.as_bytes().get(close) != Some(&b']') {
        return Err(layout(text, close, "list without closing bracket"));
    }
    let before = text[..close].trim_end();
    let pos = before.len();
    let insert = match before.chars().last() {
        Some('[') => entry.to_owned(),
        Some(',') => format!(" {entry}"),
        _ => format!(", {entry}"),
    };
    Ok(Some(Edit {
        range: pos..pos,
        text: insert,
    }))
}

/// A new line before the `]` of a multi-line list, keeping its trailing
/// comma style.
fn add_to_multi_line(
    text: &str,
    list: &Array,
    close: usize,
    entry: &str,
) -> Result<Edit, LifecycleError> {
    let ls = line_start(text, close);
    if text.as_bytes().get(close) != Some(&b']') || !text[ls..close].trim().is_empty() {
        return Err(layout(
            text,
            close,
            "the closing `]` of ignore_changes is not on its own line",
        ));
    }
    let nl = newline_of(text);
    let last = list.iter().last().and_then(Span::span);
    let indent = match list.iter().next().and_then(Span::span) {
        Some(first) => indent_at(text, first.start).to_owned(),
        None => format!("{}  ", indent_at(text, close)),
    };
    match last {
        Some(last) if !list.trailing_comma() => {
            if line_of(text, last.end) == line_of(text, close) {
                return Err(layout(text, close, "list element on the line of `]`"));
            }
            // `a` + new line `ENTRY` -> `a,` / `ENTRY` (no trailing comma).
            Ok(Edit {
                range: last.end..ls,
                text: format!(",{}{indent}{entry}{nl}", &text[last.end..ls]),
            })
        }
        _ => Ok(Edit {
            range: ls..ls,
            text: format!("{indent}{entry},{nl}"),
        }),
    }
}

/// A new `lifecycle` block at the end of the resource block (expanding a
/// one-line block first).
fn add_lifecycle(text: &str, block: &Block, entry: &str) -> Result<Edit, LifecycleError> {
    let span = block.span().ok_or(layout(text, 0, "block has no span"))?;
    let close = span.end.saturating_sub(1);
    if text.as_bytes().get(close) != Some(&b'}') {
        return Err(layout(text, span.start, "block without closing brace"));
    }
    let nl = newline_of(text);
    let outer = indent_at(text, span.start).to_owned();
    let inner = format!("{outer}  ");
    let lifecycle =
        format!("{inner}lifecycle {{{nl}{inner}  ignore_changes = [{entry}]{nl}{inner}}}{nl}");
    let open = block_open(text, block).ok_or(layout(text, span.start, "no opening brace"))?;
    if block.body.prefer_oneline() && line_of(text, open) == line_of(text, close) {
        // `{ a = 1 }` -> `{` / `a = 1` / blank / lifecycle / `}`.
        let existing = text[open + 1..close].trim();
        let body = if existing.is_empty() {
            String::new()
        } else {
            format!("{inner}{existing}{nl}{nl}")
        };
        return Ok(Edit {
            range: open..span.end,
            text: format!("{{{nl}{body}{lifecycle}{outer}}}"),
        });
    }
    let ls = line_start(text, close);
    if !text[ls..close].trim().is_empty() {
        return Err(layout(
            text,
            close,
            "the closing `}` of the block is not on its own line",
        ));
    }
    let blank = if ls > 0 && line_of(text, ls - 1) != line_of(text, open) {
        nl
    } else {
        ""
    };
    Ok(Edit {
        range: ls..ls,
        text: format!("{blank}{lifecycle}"),
    })
}

/// Byte offset of the `{` opening a block body.
fn block_open(text: &str, block: &Block) -> Option<usize> {
    let after = match block.labels.last() {
        Some(label) => label.span()?.end,
        None => block.ident.span()?.end,
    };
    text[after..].find('{').map(|i| after + i)
}

fn parse(text: &str) -> Result<Body, LifecycleError> {
    hcl_edit::parser::parse_body(text).map_err(|e| LifecycleError::Parse(e.message().to_owned()))
}

/// Adds `attr` to the `ignore_changes` of `resource "rtype" "name"` in a
/// whole file's text; `None` when it is already ignored.
pub fn ignore_in_text(
    text: &str,
    rtype: &str,
    name: &str,
    attr: &str,
) -> Result<Option<String>, LifecycleError> {
    let body = parse(text)?;
    let rb = find_resource(&body, rtype, name)
        .ok_or_else(|| LifecycleError::NoBlock(rtype.into(), name.into()))?;
    Ok(ignore_attribute(text, rb.block, attr)?.map(|e| apply_edits(text, &[e])))
}

/// Where the marked entry for `attr` is in `block`, if `--prepare` added one.
fn marked_entry(text: &str, block: &Block, attr: &str) -> Option<(usize, Created)> {
    let lc = lifecycle_of(text, block).ok()??;
    let ic = lc.body.get_attribute("ignore_changes")?;
    let Expression::Array(list) = &ic.value else {
        return None;
    };
    list.iter().find_map(|e| {
        let s = e.span()?;
        let after = text[s.end..].trim_start_matches([' ', '\t']);
        let created = Created::of(after)?;
        (text[s.clone()].trim() == attr).then_some((s.start, created))
    })
}

/// The attributes of `block` whose `ignore_changes` entry `--prepare` added.
pub fn prepared_attrs<'a>(text: &str, block: &Block, attrs: &[&'a str]) -> Vec<&'a str> {
    attrs
        .iter()
        .copied()
        .filter(|a| marked_entry(text, block, a).is_some())
        .collect()
}

/// Texts the marked entry at `at` (of `attr`) may have been added to.
// Each candidate is a list of byte ranges to remove; most have one.
#[allow(clippy::single_range_in_vec_init)]
fn candidates(
    text: &str,
    block: &Block,
    (at, created): (usize, Created),
    attr: &str,
) -> Vec<String> {
    let mut ranges: Vec<Vec<std::ops::Range<usize>>> = Vec::new();
    let with_blank = |start: usize, end: usize| {
        let mut out = vec![vec![start..end]];
        if start > 0 {
            let prev = line_start(text, start - 1);
            if text[prev..start].trim().is_empty() {
                out.push(vec![prev..end]);
            }
        }
        out
    };
    let lc = lifecycle_of(text, block).ok().flatten();
    match (created, lc.and_then(Span::span)) {
        (Created::Block, Some(s)) => {
            ranges.extend(with_blank(
                line_start(text, s.start),
                next_line_start(text, s.end),
            ));
        }
        (Created::Attr, Some(_)) => {
            let ic = lc.and_then(|lc| lc.body.get_attribute("ignore_changes"));
            if let Some(a) = ic.and_then(Span::span) {
                ranges.extend(with_blank(
                    line_start(text, a.start),
                    next_line_start(text, a.end),
                ));
            }
        }
        _ => {}
    }
    if created != Created::Entry {
        return finish(text, ranges);
    }
    let marker = created.marker();
    let end = at + attr.len() + text[at + attr.len()..].find(marker).unwrap_or(0) + marker.len();
    ranges.push(vec![at..end]);
    let before = text[..at].trim_end_matches([' ', '\t']);
    if before.ends_with(',') {
        ranges.push(vec![before.len() - 1..end]);
    }
    // A line of its own in a multi-line list, maybe with the comma it added
    // to the element before.
    let (ls, le) = (line_start(text, at), next_line_start(text, at));
    if text[ls..at].trim().is_empty() {
        ranges.push(vec![ls..le]);
        let prev = text[..ls].trim_end();
        if prev.ends_with(',') {
            ranges.push(vec![prev.len() - 1..prev.len(), ls..le]);
        }
    }
    finish(text, ranges)
}

/// The texts left after removing each set of ranges.
fn finish(text: &str, ranges: Vec<Vec<std::ops::Range<usize>>>) -> Vec<String> {
    ranges
        .into_iter()
        .map(|r| {
            let edits: Vec<Edit> = r
                .into_iter()
                .map(|range| Edit {
                    range,
                    text: String::new(),
                })
                .collect();
            apply_edits(text, &edits)
        })
        .collect()
}

/// Takes out the `ignore_changes` entry for `attr` that `--prepare` added
/// to `resource "rtype" "name"`, restoring the text it was added to; `None`
/// when there is no such entry.
pub fn unignore_in_text(
    text: &str,
    rtype: &str,
    name: &str,
    attr: &str,
) -> Result<Option<String>, LifecycleError> {
    let no_block = || LifecycleError::NoBlock(rtype.into(), name.into());
    let body = parse(text)?;
    let rb = find_resource(&body, rtype, name).ok_or_else(no_block)?;
    let span = rb.block.span().ok_or_else(no_block)?;
    // Work on the block alone (from the start of its line, so indentation
    // and line endings are the same): each candidate is parsed again.
    let start = line_start(text, span.start);
    let block_text = &text[start..span.end];
    let block_body = parse(block_text)?;
    let block = find_resource(&block_body, rtype, name).ok_or_else(no_block)?;
    let Some(entry) = marked_entry(block_text, block.block, attr) else {
        return Ok(None);
    };
    for candidate in candidates(block_text, block.block, entry, attr) {
        if let Ok(Some(again)) = ignore_in_text(&candidate, rtype, name, attr)
            && again == block_text
        {
            return Ok(Some(format!(
                "{}{candidate}{}",
                &text[..start],
                &text[span.end..]
            )));
        }
    }
    Err(LifecycleError::Edited {
        line: line_of(text, start + entry.0) + 1,
        attr: attr.to_owned(),
    })
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
