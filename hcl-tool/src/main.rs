//! `keyshift`: the plan-aware migration helper.
use clap::Parser;

/// Keyshift: move Terraform-managed encryption keys safely.
#[derive(Parser, Debug)]
#[command(name = "keyshift", version, about, long_about = None)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
