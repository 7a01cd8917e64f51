//! `keyshift rewrite DIR --add-moves --plan PLAN.json`: write the `moved`
//! blocks that turn each planned delete/create pair of a key-bearing
//! resource into a move (see [`crate::moves`] for the pairing rule and
//! [`crate::rewrite::moves`] for where the blocks go).

use crate::cli::rewrite::{RewriteArgs, RewriteFormat};
use crate::cli::{CliError, Outcome};
use crate::moves::{Ambiguity, Suggestions, suggest_moves};
use crate::plan::{Plan, read_input};
use crate::presets::KeyTypes;
use crate::rewrite::Refusal;
use crate::rewrite::config::Config;
use crate::rewrite::moves::{AddedMove, MovesPlan, plan_moves};
use crate::rewrite::write::commit;
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
struct JsonSummary<'a> {
    schema_version: u32,
    check: bool,
    changed_files: Vec<String>,
    added: &'a [AddedMove],
    already_present: usize,
    ambiguous: &'a [Ambiguity],
    refused: &'a [Refusal],
}

/// Runs `rewrite --add-moves`: exit 0 when every pair is written (or
/// already present), 1 with `--check` when blocks are missing, or when a
/// pairing is ambiguous or a move was refused.
pub fn run(args: &RewriteArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let Some(path) = &args.plan else {
        return Err(CliError::Usage("--add-moves needs --plan PLAN.json".into()));
    };
    let text = read_input(path)?;
    let plan = Plan::parse(path, &text)?;
    plan.require_complete(path)?;
    let suggestions = suggest_moves(&plan, &KeyTypes::with_defaults::<&str>(&[]));
    let config = Config::load(&args.dir)?;
    let moves = plan_moves(&config, &suggestions.moves);
    if args.check {
        if args.format == RewriteFormat::Text {
            crate::cli::rewrite::write_diffs(out, &moves.changes)?;
        }
    } else {
        commit(&moves.changes)?;
    }
    match args.format {
        RewriteFormat::Text => write_text(out, &moves, &suggestions, args.check)?,
        RewriteFormat::Json => {
            let summary = JsonSummary {
                schema_version: 1,
                check: args.check,
                changed_files: moves
                    .changes
                    .iter()
                    .map(|c| c.source.path.display().to_string())
                    .collect(),
                added: &moves.added,
                already_present: moves.present,
                ambiguous: &suggestions.ambiguous,
                refused: &moves.refusals,
            };
            serde_json::to_writer_pretty(&mut *out, &summary).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
    }
    let pending = args.check && !moves.changes.is_empty();
    if pending || !moves.refusals.is_empty() || !suggestions.ambiguous.is_empty() {
        Ok(Outcome::Findings)
    } else {
        Ok(Outcome::Clean)
    }
}

fn write_text(
    out: &mut dyn Write,
    moves: &MovesPlan,
    suggestions: &Suggestions,
    check: bool,
) -> std::io::Result<()> {
    let verb = if check { "would add" } else { "added" };
    for a in &moves.added {
        let at = if a.module.is_empty() {
            String::new()
        } else {
            format!("{}: ", a.module)
        };
        let file = a.file.display();
        writeln!(
            out,
            "{at}{verb} moved {{ from = {} to = {} }} ({file}:{})",
            a.from, a.to, a.line
        )?;
    }
    for r in &moves.refusals {
        writeln!(out, "refused: {}: {}", r.address, r.reason)?;
    }
    for a in &suggestions.ambiguous {
        writeln!(
            out,
            "ambiguous: {}",
            crate::cli::plan_check_moves::ambiguity(a)
        )?;
    }
    let files = moves.changes.len();
    let summary = match (check, files) {
        (_, 0) => "rewrite --add-moves: no moved blocks needed".to_owned(),
        (true, n) => format!("rewrite --add-moves --check: moved blocks needed in {n} file(s)"),
        (false, n) => format!("rewrite --add-moves: wrote {n} file(s)"),
    };
    writeln!(
        out,
        "{summary} ({} added, {} already present, {} ambiguous, {} refused)",
        moves.added.len(),
        moves.present,
        suggestions.ambiguous.len(),
        moves.refusals.len()
    )
}
