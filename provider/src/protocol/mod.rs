//! tfplugin5 protocol translation: the only code that knows protobuf and msgpack.
//!
//! - [`codec`]: msgpack / JSON `DynamicValue` bytes ⇄ [`crate::framework::Value`],
//!   driven by the schema's [`crate::framework::AttrType`].
//! - `convert`: framework schemas, diagnostics and attribute paths → protobuf.
//! - [`ProviderService`]: the tonic `tfplugin5.Provider` service over any
//!   [`crate::framework::Provider`].
//! - [`Controller`]: go-plugin's `GRPCController` (Shutdown) and `GRPCStdio`.
//!
//! [`crate::plugin`] wires these into a TLS gRPC server.

pub mod codec;
mod controller;
mod convert;
mod msgpack_read;
mod rpc;
mod server;

pub use controller::{Controller, ShutdownSignal};
pub use server::ProviderService;

/// Generated protobuf code (tfplugin5 and go-plugin's `plugin` package).
///
/// Public only so integration tests can build a gRPC client; not part of
/// the supported API.
#[doc(hidden)]
pub mod proto {
    /// Terraform plugin protocol 5.8.
    #[allow(
        missing_docs,
        clippy::all,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )]
    pub mod tfplugin5 {
        tonic::include_proto!("tfplugin5");
    }

    /// go-plugin host services: `GRPCController`, `GRPCStdio`.
    #[allow(
        missing_docs,
        clippy::all,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )]
    pub mod plugin {
        tonic::include_proto!("plugin");
    }
}
