//! The key store: data model, error contract, storage trait and its
//! implementations.

pub mod error;
pub mod model;

pub use error::{StoreError, StoreResult};
pub use model::*;
