//! Keyshift: the Terraform provider `keyshift/keyshift` and the engine and
//! key store it shares with the `keyshift` CLI.
//!
//! Layers, each using only the ones below it:
//! - [`plugin`]: process start, go-plugin handshake, AutoMTLS, gRPC server.
//! - [`protocol`]: the only code that knows tfplugin5 protobuf and msgpack.
//! - [`resources`]: one module per resource / data source type.
//! - [`framework`]: the protobuf-free vocabulary of the two above.
//! - [`engine`]: domain rules (key service, migration rules) over the store.
//! - [`store`]: the [`store::KeyStore`]-style storage trait, its SQLite
//!   implementation, crypto.

pub mod aws;
pub mod docs;
pub mod engine;
pub mod framework;
pub mod plugin;
pub mod protocol;
pub mod resources;
pub mod store;
