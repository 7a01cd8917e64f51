//! The traits a provider, its resources and data sources implement.
//!
//! The protocol layer calls these from blocking worker threads (they may do
//! disk and network I/O), decodes every value against [`Resource::schema`]
//! before the call and encodes the results after it. Implementations never
//! see protobuf or msgpack.

use std::sync::Arc;

use super::{Diagnostics, PlanRequest, PlanResponse, Schema, Value, default_plan};

/// The provider itself: its configuration block and the types it serves.
pub trait Provider: Send + Sync + 'static {
    /// What a configured provider hands to every resource call.
    type Ctx: Send + Sync + 'static;

    /// The `provider "keyshift" {}` block's schema.
    fn schema(&self) -> Schema;

    /// Static checks of the provider block (values may be unknown).
    fn validate(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }

    /// Opens whatever the resources need (the key store, AWS clients).
    fn configure(&self, config: &Value, terraform_version: &str) -> Result<Self::Ctx, Diagnostics>;

    /// Warnings to show with a successful configure (e.g. a key file other
    /// users can read), from the context [`Provider::configure`] built.
    fn configure_warnings(&self, _ctx: &Self::Ctx) -> Diagnostics {
        Vec::new()
    }

    /// The managed resource types.
    fn resources(&self) -> Vec<Arc<dyn Resource<Self::Ctx>>>;

    /// The data source types.
    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::Ctx>>>;

    /// The ephemeral resource types (none by default).
    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource<Self::Ctx>>> {
        Vec::new()
    }
}

/// What `ApplyResourceChange` hands a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyRequest {
    /// State before the change (`Null` on create).
    pub prior: Value,
    /// The planned state (`Null` on destroy).
    pub planned: Value,
    /// The configuration (`Null` on destroy); the only place write-only
    /// attributes are visible.
    pub config: Value,
}

impl ApplyRequest {
    /// True when this apply creates the object.
    pub fn is_create(&self) -> bool {
        self.prior.is_null() && !self.planned.is_null()
    }

    /// True when this apply destroys the object.
    pub fn is_destroy(&self) -> bool {
        self.planned.is_null()
    }
}

/// A managed resource type (`keyshift_key`, ...).
///
/// Error contract: every `Err` carries at least one error diagnostic;
/// diagnostics about one attribute carry its path. A failed `apply` must
/// leave the object as it was (or report, in the diagnostic, what did
/// change).
pub trait Resource<C>: Send + Sync {
    /// Terraform type name, e.g. `keyshift_key`.
    fn type_name(&self) -> &'static str;

    /// The schema; every attribute has a description.
    fn schema(&self) -> Schema;

    /// Static checks of a configuration (values may be unknown: skip those).
    fn validate(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }

    /// Plans a create, update or destroy. The default is
    /// [`default_plan`]: computed attributes unknown on create, `force_new`
    /// attributes in `requires_replace`, write-only attributes null.
    fn plan(&self, _ctx: &C, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        Ok(default_plan(&self.schema(), req))
    }

    /// Carries out a planned change; returns the new state (`Null` after destroy).
    fn apply(&self, ctx: &C, req: &ApplyRequest) -> Result<Value, Diagnostics>;

    /// Refreshes `state` from the store; `Null` when the object is gone.
    fn read(&self, ctx: &C, state: &Value) -> Result<Value, Diagnostics>;

    /// The state of an existing object, by the id `terraform import` was given.
    fn import(&self, ctx: &C, id: &str) -> Result<Value, Diagnostics>;

    /// Converts a state saved with schema `version` (already decoded
    /// against the current schema) to the current version.
    fn upgrade_state(&self, _version: i64, state: Value) -> Result<Value, Diagnostics> {
        Ok(state)
    }
}

/// A data source type (`data.keyshift_key`, ...).
pub trait DataSource<C>: Send + Sync {
    /// Terraform type name.
    fn type_name(&self) -> &'static str;

    /// The schema; every attribute has a description.
    fn schema(&self) -> Schema;

    /// Static checks of a configuration (values may be unknown: skip those).
    fn validate(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }

    /// Reads the data; `config` is wholly known. Returns the full object.
    fn read(&self, ctx: &C, config: &Value) -> Result<Value, Diagnostics>;
}

/// An ephemeral resource type (`ephemeral.keyshift_secret_value`, Terraform
/// 1.10+): its result lives only while Terraform evaluates the run and never
/// reaches state or plan.
///
/// The protocol layer answers `RenewEphemeralResource` and
/// `CloseEphemeralResource` itself: implementations hold nothing open
/// between calls (no lease to renew or release).
pub trait EphemeralResource<C>: Send + Sync {
    /// Terraform type name.
    fn type_name(&self) -> &'static str;

    /// The schema; every attribute has a description.
    fn schema(&self) -> Schema;

    /// Static checks of a configuration (values may be unknown: skip those).
    fn validate(&self, _config: &Value) -> Diagnostics {
        Vec::new()
    }

    /// Opens the resource: `config` is wholly known (Terraform does not
    /// open an ephemeral resource whose configuration is not). Returns the
    /// full result object; sensitive results must never be logged.
    fn open(&self, ctx: &C, config: &Value) -> Result<Value, Diagnostics>;
}
