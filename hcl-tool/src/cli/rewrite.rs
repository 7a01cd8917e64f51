//! `keyshift rewrite [DIR]`: write migration attributes into resource
//! blocks so that the plan becomes clean.

use crate::cli::rewrite_verify::{Verdict, verify_written};
use crate::cli::{CliError, Outcome};
use crate::plan::{Plan, read_input};
use crate::presets::{ANY_TYPE, MigrationAttrs, is_ident};
use crate::progress;
use crate::report::Report;
use crate::rewrite::Refusal;
use crate::rewrite::apply::{RewritePlan, plan_rewrite};
use crate::rewrite::config::Config;
use crate::rewrite::everywhere::{Types, plan_everywhere, tf_files_recursive};
use crate::rewrite::select::{Selection, from_selection};
use crate::rewrite::targets::{Derivation, from_plan, from_report};
use crate::rewrite::write::commit;
use crate::state::State;
use clap::{ArgGroup, Args, ValueEnum};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

/// Output format of rewrite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum RewriteFormat {
    /// Human-readable lines (and a unified diff with `--check`).
    #[default]
    Text,
    /// One JSON summary document.
    Json,
}

/// Arguments of `keyshift rewrite`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["plan", "report", "insert_everywhere", "select"])))]
pub struct RewriteArgs {
    /// Terraform configuration directory (root module).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Plan JSON from `terraform show -json PLANFILE`.
    #[arg(long, value_name = "PLAN.json", conflicts_with = "report")]
    pub plan: Option<PathBuf>,
    /// Migration report JSON (schema_version 1); needs `--state`.
    #[arg(long, value_name = "REPORT.json", requires = "state")]
    pub report: Option<PathBuf>,
    /// State JSON from `terraform show -json`: maps report ids to addresses
    /// (with --report), or lets --select pick single instances while the
    /// others keep their placement.
    #[arg(long, value_name = "STATE.json")]
    pub state: Option<PathBuf>,
    /// Migration as code: select resources (or, with --state, instances) by
    /// address glob (`*` within a segment, `**` across segments), e.g.
    /// `keyshift_key.app`, `module.kms.keyshift_key.*`,
    /// `keyshift_key.app["orders"]` (repeatable; needs --set).
    #[arg(long, value_name = "ADDRESS_GLOB", conflicts_with_all = ["plan", "report"])]
    pub select: Vec<String>,
    /// With --select: the placement to write, `ATTR=VALUE`
    /// (e.g. `instance_id=kst-0123456789ab`).
    #[arg(long, value_name = "ATTR=VALUE", requires = "select")]
    pub set: Option<String>,
    /// Extra migration attribute `TYPE.ATTR` (repeatable).
    #[arg(long, value_name = "TYPE.ATTR")]
    pub attr: Vec<String>,
    /// Write nothing; print a unified diff and exit 1 if edits are needed.
    #[arg(long)]
    pub check: bool,
    /// After writing, run `terraform plan` in DIR and fail unless the plan
    /// is clean (with --select: exactly the migration asked for); a plan
    /// that errors rolls the edits back.
    #[arg(long, conflicts_with = "check")]
    pub verify: bool,
    /// Terraform binary for `--verify`.
    #[arg(long, env = "KEYSHIFT_TERRAFORM_BIN", default_value = "terraform")]
    pub terraform_bin: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: RewriteFormat,
    /// Bulk mode: set ATTR=EXPR in every resource block, in every .tf file
    /// under DIR (recursively), whose type carries ATTR: the presets
    /// (`instance_id` on keyshift_key/keyshift_secret, `dkms_instance_id` on
    /// alicloud_kms_key/alicloud_kms_secret) and `--attr TYPE.ATTR`;
    /// `--attr '*.ATTR'` declares that every type has it.
    #[arg(long, value_name = "ATTR=EXPR")]
    pub insert_everywhere: Option<String>,
    /// With --plan: write the `moved` blocks that turn each planned
    /// delete/create pair of a key-bearing resource with the same
    /// configuration into a move (ambiguous pairings are reported, not
    /// guessed).
    #[arg(long, requires = "plan", conflicts_with_all = ["verify", "attr", "state", "insert_everywhere"])]
    pub add_moves: bool,
    /// Before a migration that happens outside Terraform, for providers
    /// whose placement forces replacement: add each selected block's
    /// migration attribute to `lifecycle { ignore_changes }` (needs --select).
    #[arg(long, requires = "select", conflicts_with_all = ["set", "verify", "insert_everywhere", "finalize", "add_moves"])]
    pub prepare: bool,
    /// After that migration: write the values (--plan, or --report with
    /// --state) and remove the entries --prepare added.
    #[arg(long, conflicts_with_all = ["select", "verify", "insert_everywhere", "add_moves"])]
    pub finalize: bool,
}

#[derive(Serialize)]
pub(crate) struct JsonSummary<'a> {
    schema_version: u32,
    /// `prepare`/`finalize`; absent for the other modes.
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<&'static str>,
    check: bool,
    changed_files: Vec<String>,
    edits: &'a [crate::rewrite::apply::Applied],
    refused: &'a [Refusal],
    skipped: &'a [Refusal],
    warnings: &'a [String],
    unchanged: usize,
    /// The `--verify` result (null without it); absent for prepare/finalize.
    #[serde(skip_serializing_if = "Option::is_none")]
    verified: Option<Option<bool>>,
    /// With `--select … --verify`: the in-place updates of the placement
    /// the verified plan has (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    planned_updates: Option<usize>,
}

impl<'a> JsonSummary<'a> {
    /// The `--format json` summary of `plan` (schema version 1).
    pub(crate) fn of(plan: &'a RewritePlan, check: bool) -> Self {
        JsonSummary {
            schema_version: 1,
            mode: None,
            check,
            changed_files: plan
                .changes
                .iter()
                .map(|c| c.source.path.display().to_string())
                .collect(),
            edits: &plan.applied,
            refused: &plan.refusals,
            skipped: &plan.skipped,
            warnings: &plan.warnings,
            unchanged: plan.unchanged,
            verified: None,
            planned_updates: None,
        }
    }

    /// For `--prepare` / `--finalize`: names the mode.
    pub(crate) fn with_mode(mut self, mode: &'static str) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Writes the summary as pretty JSON and a newline.
    pub(crate) fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self).map_err(std::io::Error::from)?;
        writeln!(out)
    }
}

/// Runs rewrite, writing the report to `out`.
pub fn run(args: &RewriteArgs, out: &mut dyn Write) -> Result<Outcome, CliError> {
    if args.add_moves {
        return crate::cli::rewrite_moves::run(args, out);
    }
    if args.prepare || args.finalize {
        return crate::cli::rewrite_prepare::run(args, out);
    }
    let attrs = MigrationAttrs::with_presets(&args.attr)?;
    let plan = build_plan(args, &attrs)?;
    let needs_edits = !plan.changes.is_empty();
    let mut outcome = if plan.refusals.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    };
    let mut verdict = None;
    if args.check {
        if needs_edits {
            outcome = Outcome::Findings;
        }
        if args.format == RewriteFormat::Text {
            write_diffs(out, &plan.changes)?;
        }
    } else {
        commit(&plan.changes)?;
        if args.verify {
            let sel = selection(args)?;
            let v = verify_written(
                &args.dir,
                &args.terraform_bin,
                sel.as_ref().map(|s| (s, &attrs)),
                &plan.changes,
            )?;
            if !v.ok() {
                outcome = Outcome::Findings;
            }
            verdict = Some(v);
        }
    }
    match args.format {
        RewriteFormat::Text => write_text(out, &plan, args.check, verdict.as_ref())?,
        RewriteFormat::Json => {
            let summary = JsonSummary {
                verified: Some(verdict.as_ref().map(Verdict::ok)),
                planned_updates: verdict.as_ref().and_then(Verdict::planned_updates),
                ..JsonSummary::of(&plan, args.check)
            };
            summary.write(out)?;
        }
    }
    Ok(outcome)
}

fn build_plan(args: &RewriteArgs, attrs: &MigrationAttrs) -> Result<RewritePlan, CliError> {
    if let Some(spec) = &args.insert_everywhere {
        let (key, value) = spec.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("--insert-everywhere {spec:?}: expected ATTR=EXPR"))
        })?;
        let key = key.trim();
        let carriers = attrs.types_with(key);
        let types = match carriers.as_slice() {
            [] => {
                return Err(CliError::Usage(format!(
                    "--insert-everywhere: no resource type is known to have `{key}`; the known \
                     migration attributes are {}; name the types with --attr TYPE.{key} \
                     (or --attr '*.{key}' for every type)",
                    attrs.describe()
                )));
            }
            list if list.contains(&ANY_TYPE) => Types::All,
            list => Types::Only(list),
        };
        let files = tf_files_recursive(&args.dir)?;
        let bar = progress::bar(files.len() as u64, "rewriting");
        let changes = plan_everywhere(&files, types, key, value.trim(), &bar)?;
        bar.finish_and_clear();
        return Ok(RewritePlan {
            changes,
            ..RewritePlan::default()
        });
    }
    let config = Config::load(&args.dir)?;
    let derivation = match selection(args)? {
        Some(sel) => {
            let state = match &args.state {
                Some(path) => Some(State::parse(path, &read_input(path)?)?),
                None => None,
            };
            from_selection(&sel, &config, state.as_ref(), attrs)
                .map_err(|e| CliError::Usage(e.to_string()))?
        }
        None => derive(args, attrs)?,
    };
    Ok(plan_rewrite(&config, derivation)?)
}

/// `--select` + `--set ATTR=VALUE`, when given.
fn selection(args: &RewriteArgs) -> Result<Option<Selection>, CliError> {
    let Some(set) = &args.set else {
        if !args.select.is_empty() {
            return Err(CliError::Usage(
                "--select needs --set ATTR=VALUE (or --prepare)".into(),
            ));
        }
        return Ok(None);
    };
    let (attr, value) = set
        .split_once('=')
        .filter(|(a, v)| is_ident(a.trim()) && !v.trim().is_empty())
        .ok_or_else(|| CliError::Usage(format!("--set {set:?}: expected ATTR=VALUE")))?;
    Ok(Some(Selection {
        globs: args.select.clone(),
        attr: attr.trim().to_owned(),
        value: value.trim().to_owned(),
    }))
}

pub(crate) fn derive(args: &RewriteArgs, attrs: &MigrationAttrs) -> Result<Derivation, CliError> {
    match (&args.plan, &args.report, &args.state) {
        (Some(path), _, _) => {
            let text = read_input(path)?;
            let plan = Plan::parse(path, &text)?;
            Ok(from_plan(&plan, attrs))
        }
        (None, Some(report), Some(state)) => {
            let report = Report::read(report)?;
            let text = read_input(state)?;
            let state = State::parse(state, &text)?;
            Ok(from_report(&report, &state, attrs))
        }
        _ => Err(CliError::Usage(
            "give --plan, --report with --state, or --select with --set".into(),
        )),
    }
}

/// A unified diff (`a/` → `b/`) of every file `changes` would rewrite, for
/// `--check`; used by every rewrite mode.
pub(crate) fn write_diffs(
    out: &mut dyn Write,
    changes: &[crate::rewrite::apply::FileChange],
) -> std::io::Result<()> {
    for change in changes {
        let name = change.source.path.display().to_string();
        let diff = similar::TextDiff::from_lines(&change.source.text, &change.new_text);
        write!(
            out,
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&format!("a/{name}"), &format!("b/{name}"))
        )?;
    }
    Ok(())
}

fn write_text(
    out: &mut dyn Write,
    plan: &RewritePlan,
    check: bool,
    verdict: Option<&Verdict>,
) -> std::io::Result<()> {
    let verb = if check { "would set" } else { "set" };
    for a in &plan.applied {
        let at = format!("{}:{}", a.file.display(), a.line);
        writeln!(out, "{}: {verb} {} = {} ({at})", a.address, a.attr, a.value)?;
    }
    for r in &plan.refusals {
        writeln!(out, "refused: {}: {}", r.address, r.reason)?;
    }
    for r in &plan.skipped {
        writeln!(out, "skipped: {}: {}", r.address, r.reason)?;
    }
    for w in &plan.warnings {
        writeln!(out, "warning: {w}")?;
    }
    let files = plan.changes.len();
    let summary = match (check, files) {
        (_, 0) => "rewrite: no edits needed".to_owned(),
        (true, n) => format!("rewrite --check: edits needed in {n} file(s)"),
        (false, n) => format!("rewrite: wrote {n} file(s)"),
    };
    let refused = match plan.refusals.len() {
        0 => String::new(),
        n => format!(", {n} refused"),
    };
    writeln!(out, "{summary}{refused}")?;
    verdict.map_or(Ok(()), |v| v.write(out))
}
