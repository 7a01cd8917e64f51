//! Keyshift: the Terraform provider `keyshift/keyshift` and the engine and
//! key store it shares with the `keyshift` CLI.
//!
//! Layers, each using only the ones below it:
//! - [`plugin`]: process start, go-plugin handshake, AutoMTLS, gRPC server.
//! - [`protocol`]: the only code that knows tfplugin5 protobuf and msgpack.
//! - [`resources`]: one module per resource / data source type.
//! - [`framework`]: the protobuf-free vocabulary of the two above.
//! - [`engine`], [`aws`], [`store`]: the `keyshift-core` crate (domain
//!   rules, AWS KMS client, key store), shared with the CLI.

pub mod docs;
pub mod framework;
pub mod plugin;
pub mod protocol;
pub mod resources;

// The domain core lives in its own crate; re-exported so the layers
// above name it as before (`crate::engine`, `crate::store`).
pub use keyshift_core::{aws, engine, store};
