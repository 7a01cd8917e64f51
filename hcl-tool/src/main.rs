//! `keyshift`: the plan-aware migration helper.
//!
//! Exit codes: 0 clean, 1 findings (or `--check` needing edits), 2 usage or
//! input error.
use clap::{Parser, Subcommand};
use keyshift::cli::{self, Outcome};
use std::process::ExitCode;

/// Keyshift: move Terraform-managed encryption keys safely.
#[derive(Parser, Debug)]
#[command(name = "keyshift", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write migration attributes into resource blocks so the plan is clean.
    Rewrite(cli::rewrite::RewriteArgs),
    /// Fail when a plan would destroy, replace or unmigrate key-bearing resources.
    PlanCheck(cli::plan_check::PlanCheckArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut stdout = std::io::stdout().lock();
    let result = match &cli.command {
        Command::Rewrite(args) => cli::rewrite::run(args, &mut stdout),
        Command::PlanCheck(args) => cli::plan_check::run(args, &mut stdout),
    };
    match result.map_err(anyhow::Error::from) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(e) => {
            eprintln!("keyshift: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
