//! The provider framework: the protobuf-free vocabulary shared by the
//! protocol layer (`crate::protocol`, which alone knows tfplugin5 and
//! msgpack) and the resources (`crate::resources`).
//!
//! Why a layer of its own (rather than the suggested "protocol owns the
//! typed values"): resources must be testable without a gRPC server, and
//! the protocol layer must be testable without a key store. Both depend on
//! this small module, and on nothing of each other.

pub mod decode;
pub mod diag;
pub mod numbers;
pub mod plan;
pub mod resource;
pub mod schema;
pub mod value;

pub use decode::{Attr, Decoder, FromValue, Model, ToValue};
pub use diag::{AttrPath, Diagnostic, Diagnostics, PathStep, Severity};
pub use numbers::check_whole_numbers;
pub use plan::{PlanRequest, PlanResponse, default_plan, unknown_volatile_on_update};
pub use resource::{ApplyRequest, DataSource, EphemeralResource, Provider, Resource};
pub use schema::{AttrDefault, AttrType, Attribute, Schema};
pub use value::{Object, Value};
