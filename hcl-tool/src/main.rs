//! `keyshift`: the plan-aware migration helper.
//!
//! Exit codes: 0 clean, 1 findings (or `--check` needing edits; a blocked
//! preflight, an invalid signature, a key-store operation that failed),
//! 2 usage or input error, 141 (128 + SIGPIPE, what a shell reports for a
//! program stopped by a closed pipe) when the reader of standard output
//! went away (`keyshift … | head`): nothing is printed then, and the code
//! never reads as success, so a pipeline under `set -o pipefail` cannot
//! take a cut-off check for a clean one.
use clap::{Parser, Subcommand};
use keyshift::cli::{self, Outcome};
use std::process::ExitCode;

/// Keyshift: move Terraform-managed encryption keys safely.
#[derive(Parser, Debug)]
#[command(name = "keyshift", version, about, long_about = None)]
struct Cli {
    /// Key store directory of the key store commands (all but rewrite and
    /// plan-check; default: `KEYSHIFT_STORE`, else `./.keyshift`).
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<std::path::PathBuf>,
    /// Master key file of the store (required for a shared PostgreSQL
    /// store unless its master key is wrapped by AWS KMS; default: the
    /// embedded store's own `master.key`).
    #[arg(
        long,
        global = true,
        env = "KEYSHIFT_MASTER_KEY_FILE",
        value_name = "FILE",
        value_parser = clap::value_parser!(std::ffi::OsString)
    )]
    master_key_file: Option<std::ffi::OsString>,
    /// ARN of the AWS KMS key wrapping the store's master key (kept in the
    /// store; instead of --master-key-file). Uses the command's AWS settings.
    #[arg(
        long,
        global = true,
        env = "KEYSHIFT_MASTER_KEY_ARN",
        value_name = "ARN",
        conflicts_with = "master_key_file"
    )]
    master_key_arn: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write migration attributes into resource blocks so the plan is clean.
    Rewrite(cli::rewrite::RewriteArgs),
    /// Fail when a plan would destroy, replace or unmigrate key-bearing resources.
    PlanCheck(cli::plan_check::PlanCheckArgs),
    /// Encrypt stdin with an AES_256 or RSA key; base64 ciphertext on stdout.
    Encrypt(cli::encrypt::EncryptArgs),
    /// Decrypt base64 ciphertext from stdin; plaintext on stdout.
    Decrypt(cli::decrypt::DecryptArgs),
    /// Sign stdin with a SIGN/VERIFY key; base64 signature on stdout.
    Sign(cli::sign::SignArgs),
    /// Verify a signature of stdin (exit 1 when invalid).
    Verify(cli::verify::VerifyArgs),
    /// Health of every EKMS configuration in a store (exit 1 unless all ACTIVE).
    Status(cli::status::StatusArgs),
    /// May an instance automation operation run between two containers?
    Preflight(cli::preflight::PreflightArgs),
    /// Inspect keys and change their state: list, describe, enable, disable, rotate, schedule-deletion, cancel-deletion.
    Key(cli::key::KeyArgs),
    /// Inspect KMS instances and restore one being deleted: list, describe, restore.
    Instance(cli::instance::InstanceArgs),
    /// Rotate every key whose rotation_interval has passed (for cron or CI schedules).
    Rotate(cli::rotate::RotateArgs),
    /// Move keys and secrets between containers of a store (shared KMS, instances), or copy them between stores (--from-store/--to-store).
    Migrate(cli::migrate::MigrateArgs),
    /// Secrets of a key store: `get` one value, `list` them (metadata only).
    #[command(subcommand)]
    Secret(cli::secret::SecretCommand),
    /// Break-glass grants: `credential` of an active grant, `list`, `repair`.
    #[command(subcommand)]
    BreakGlass(cli::break_glass::BreakGlassCommand),
    /// The break-glass audit trail (breaks, uses, refusals, repairs).
    Audit(cli::audit::AuditArgs),
}

/// Exit code when standard output's reader went away (128 + SIGPIPE).
const CLOSED_PIPE: u8 = 141;

/// True when `e` (or an error it wraps) is a write into a closed pipe.
fn closed_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cur = err.source();
    }
    false
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
    let mut stdin = std::io::stdin().lock();
    let store = cli.store.as_deref();
    cli::store::use_master_key(
        cli.master_key_file.clone().map(Into::into),
        cli.master_key_arn.clone(),
    );
    let result = match &cli.command {
        Command::Rewrite(args) => cli::rewrite::run(args, &mut stdout),
        Command::PlanCheck(args) => cli::plan_check::run(args, &mut stdin, &mut stdout),
        Command::Encrypt(args) => cli::encrypt::run(args, store, &mut stdin, &mut stdout),
        Command::Decrypt(args) => cli::decrypt::run(args, store, &mut stdin, &mut stdout),
        Command::Sign(args) => cli::sign::run(args, store, &mut stdin, &mut stdout),
        Command::Verify(args) => cli::verify::run(args, store, &mut stdin, &mut stdout),
        Command::Status(args) => cli::status::run(args, store, &mut stdout),
        Command::Preflight(args) => cli::preflight::run(args, store, &mut stdout),
        Command::Key(args) => cli::key::run(args, store, &mut stdout),
        Command::Instance(args) => cli::instance::run(args, store, &mut stdout),
        Command::Rotate(args) => cli::rotate::run(args, store, &mut stdout),
        Command::Migrate(args) => cli::migrate::run(args, store, &mut stdout),
        Command::Secret(cmd) => cli::secret::run(cmd, store, &mut stdout),
        Command::BreakGlass(cmd) => cli::break_glass::run(cmd, store, &mut stdout),
        Command::Audit(args) => cli::audit::run(args, store, &mut stdout),
    };
    if let Err(e) = &result {
        if closed_pipe(e) {
            return ExitCode::from(CLOSED_PIPE);
        }
    }
    let code = result.as_ref().err().map_or(2, cli::CliError::exit_code);
    match result.map_err(anyhow::Error::from) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Findings) => ExitCode::from(1),
        Err(e) => {
            eprintln!("keyshift: error: {e:#}");
            ExitCode::from(code)
        }
    }
}
