//! `terraform-provider-keyshift`: started by Terraform, never by hand.

fn main() {}
