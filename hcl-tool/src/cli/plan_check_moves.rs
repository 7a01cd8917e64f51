//! `keyshift plan-check --suggest-moves`: print the `moved` blocks that
//! would turn each planned delete/create pair of a key-bearing resource
//! into a move (pairing rule: [`crate::moves`]).

use crate::cli::plan_check::CheckFormat;
use crate::moves::{Ambiguity, Suggestions};
use std::io::Write;

/// `keyshift_key.a[0] matches keyshift_key.a["x"], keyshift_key.a["y"]`
/// with the module and what to do.
pub fn ambiguity(a: &Ambiguity) -> String {
    let at = if a.module.is_empty() {
        String::new()
    } else {
        format!("in {}: ", a.module)
    };
    format!(
        "{at}deleted {} and created {} have the same configuration in more than one \
         pairing; no moved block is suggested, write the right one by hand",
        a.deletes.join(", "),
        a.creates.join(", ")
    )
}

/// Writes the suggestions after the report, in the report's format (for
/// JSON, the caller embeds [`Suggestions`] in its document instead).
pub fn write(out: &mut dyn Write, s: &Suggestions, format: CheckFormat) -> std::io::Result<()> {
    match format {
        CheckFormat::Json => Ok(()),
        CheckFormat::Text => write_text(out, s),
        CheckFormat::Github => {
            for m in &s.moves {
                let at = if m.module.is_empty() {
                    "root module"
                } else {
                    &m.module
                };
                writeln!(
                    out,
                    "::notice title=keyshift plan-check::suggested move in {at}: moved {{ from = {} to = {} }}",
                    m.from, m.to
                )?;
            }
            for a in &s.ambiguous {
                writeln!(out, "::warning title=keyshift plan-check::{}", ambiguity(a))?;
            }
            Ok(())
        }
    }
}

fn write_text(out: &mut dyn Write, s: &Suggestions) -> std::io::Result<()> {
    writeln!(
        out,
        "suggested moves: {} (add them with `keyshift rewrite DIR --add-moves --plan PLAN.json`)",
        s.moves.len()
    )?;
    let mut module = None;
    for m in &s.moves {
        if module != Some(&m.module) {
            let at = if m.module.is_empty() {
                "root module".to_owned()
            } else {
                format!("module {} (in that module's files)", m.module)
            };
            writeln!(out, "# {at}")?;
            module = Some(&m.module);
        }
        write!(out, "{}", m.block("\n"))?;
    }
    for a in &s.ambiguous {
        writeln!(out, "ambiguous: {}", ambiguity(a))?;
    }
    Ok(())
}
