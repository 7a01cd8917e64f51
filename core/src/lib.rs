//! Keyshift's domain core, shared by the Terraform provider
//! (`terraform-provider-keyshift`) and the `keyshift` CLI.
//!
//! Layers, each using only the ones below it:
//! - [`engine`]: the key service ([`engine::Kms`]) and every domain rule
//!   (spec/usage combinations, migration rules, deletion windows, rotation,
//!   break-glass), over the store.
//! - [`aws`]: the AWS KMS client behind EKMS (external root keys); it
//!   knows nothing of the engine.
//! - [`store`]: the [`store::KeyStore`] trait, its backends, the data
//!   model and crypto.
//!
//! This crate knows nothing of Terraform's plugin protocol, gRPC or the
//! CLI: it is its own crate so Cargo, not convention, keeps the protocol
//! stack out of the CLI and the domain rules out of the protocol layer.

pub mod aws;
pub mod engine;
pub mod store;
