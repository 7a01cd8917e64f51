//! `terraform-provider-keyshift`: started by Terraform, never by hand.

use std::process::ExitCode;

fn main() -> ExitCode {
    keyshift_provider::plugin::serve(keyshift_provider::resources::KeyshiftProvider)
}
