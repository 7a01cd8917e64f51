//! Address globs: `*` matches any run of characters except `.`, `**` any
//! run at all, `?` one character; everything else matches itself.
//!
//! `module.kms.keyshift_key.*` matches every `keyshift_key` of the `kms`
//! module call; `**.keyshift_key.app` that resource in any module.

/// A glob token.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    One,
    Star,
    DoubleStar,
}

fn tokens(glob: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                Tok::DoubleStar
            }
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        });
    }
    out
}

/// Whether `glob` matches all of `text`. Dynamic programming over
/// (glob token, text position): O(len(glob) x len(text)) time, no
/// recursion, correct for any mix of `*` and `**`.
pub fn matches(glob: &str, text: &str) -> bool {
    let g = tokens(glob);
    let t: Vec<char> = text.chars().collect();
    // row[j]: the tokens so far match t[..j].
    let mut row = vec![false; t.len() + 1];
    row[0] = true;
    for tok in &g {
        let mut next = vec![false; t.len() + 1];
        for j in 0..=t.len() {
            next[j] = match tok {
                Tok::Star | Tok::DoubleStar => {
                    row[j] || (j > 0 && next[j - 1] && (*tok == Tok::DoubleStar || t[j - 1] != '.'))
                }
                Tok::One => j > 0 && row[j - 1] && t[j - 1] != '.',
                Tok::Lit(c) => j > 0 && row[j - 1] && t[j - 1] == *c,
            };
        }
        row = next;
    }
    row[t.len()]
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("exact", "keyshift_key.app", "keyshift_key.app", true),
            (
                "prefix is not enough",
                "keyshift_key.app",
                "keyshift_key.app2",
                false,
            ),
            (
                "star in a segment",
                "keyshift_key.*",
                "keyshift_key.app",
                true,
            ),
            (
                "star stops at a dot",
                "*.app",
                "module.m.keyshift_key.app",
                false,
            ),
            (
                "double star crosses dots",
                "**.app",
                "module.m.keyshift_key.app",
                true,
            ),
            (
                "module star",
                "module.kms.keyshift_key.*",
                "module.kms.keyshift_key.a",
                true,
            ),
            (
                "other module",
                "module.kms.keyshift_key.*",
                "module.x.keyshift_key.a",
                false,
            ),
            (
                "index literal",
                r#"keyshift_key.app["orders"]"#,
                r#"keyshift_key.app["orders"]"#,
                true,
            ),
            (
                "index star",
                "keyshift_key.app[*]",
                "keyshift_key.app[3]",
                true,
            ),
            (
                "question mark",
                "keyshift_key.a?p",
                "keyshift_key.app",
                true,
            ),
            ("empty glob", "", "x", false),
            (
                "trailing star matches empty",
                "keyshift_key.app*",
                "keyshift_key.app",
                true,
            ),
            ("double star then star", "**.x.*.y", "a.x.b.x.c.y", true),
            ("star never crosses a dot", "a.*.y", "a.b.c.y", false),
        ];
        for (name, glob, text, want) in cases {
            assert_eq!(matches(glob, text), *want, "{name}: {glob} vs {text}");
        }
    }
}
