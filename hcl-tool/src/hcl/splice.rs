//! Splicing replacement text into byte ranges.

use std::ops::Range;

/// Replace `range` of the original text with `text` (an insertion when the
/// range is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Byte range in the original text.
    pub range: Range<usize>,
    /// Replacement.
    pub text: String,
}

/// Applies non-overlapping edits to `text`; edits may come in any order.
/// Overlapping edits are a bug in the caller: the later one is dropped.
pub fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.range.start, e.range.end));
    let extra: usize = sorted.iter().map(|e| e.text.len()).sum();
    let mut out = String::with_capacity(text.len() + extra);
    let mut pos = 0;
    for e in sorted {
        if e.range.start < pos || e.range.end > text.len() {
            continue;
        }
        out.push_str(&text[pos..e.range.start]);
        out.push_str(&e.text);
        pos = e.range.end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices() {
        let edits = [
            Edit {
                range: 4..5,
                text: "X".into(),
            },
            Edit {
                range: 0..0,
                text: ">".into(),
            },
            Edit {
                range: 9..9,
                text: "<".into(),
            },
        ];
        assert_eq!(apply_edits("abc def g", &edits), ">abc Xef g<");
        assert_eq!(apply_edits("abc", &[]), "abc");
    }
}
