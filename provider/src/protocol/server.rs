//! [`ProviderService`]: state and helpers of the tfplugin5 `Provider` service.
//! The RPC handlers themselves are in `rpc.rs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use super::codec::{decode_json, decode_msgpack, encode_msgpack};
use super::convert;
use super::proto::tfplugin5 as pb;
use crate::framework::{
    AttrType, DataSource, Diagnostic, Diagnostics, EphemeralResource, Provider, Resource, Schema,
    Value,
};

/// A resource type with its schema computed once.
pub(super) struct ResourceEntry<C> {
    pub(super) imp: Arc<dyn Resource<C>>,
    pub(super) schema: Schema,
    pub(super) ty: AttrType,
}

/// A data source type with its schema computed once.
pub(super) struct DataSourceEntry<C> {
    pub(super) imp: Arc<dyn DataSource<C>>,
    pub(super) schema: Schema,
    pub(super) ty: AttrType,
}

/// An ephemeral resource type with its schema computed once.
pub(super) struct EphemeralEntry<C> {
    pub(super) imp: Arc<dyn EphemeralResource<C>>,
    pub(super) schema: Schema,
    pub(super) ty: AttrType,
}

/// The tfplugin5 `Provider` gRPC service over any framework [`Provider`].
///
/// Decodes every `DynamicValue` against the type's schema, runs resource and
/// data source code on blocking worker threads, and turns every failure into
/// diagnostics (never a panic or a gRPC error).
pub struct ProviderService<P: Provider> {
    pub(super) provider: Arc<P>,
    pub(super) provider_ty: AttrType,
    pub(super) resources: BTreeMap<&'static str, Arc<ResourceEntry<P::Ctx>>>,
    pub(super) data_sources: BTreeMap<&'static str, Arc<DataSourceEntry<P::Ctx>>>,
    pub(super) ephemerals: BTreeMap<&'static str, Arc<EphemeralEntry<P::Ctx>>>,
    pub(super) schema_response: pb::get_provider_schema::Response,
    pub(super) ctx: RwLock<Option<Arc<P::Ctx>>>,
    pub(super) stopped: AtomicBool,
}

impl<P: Provider> ProviderService<P> {
    /// Wraps `provider`, computing every schema once.
    pub fn new(provider: P) -> Self {
        let provider_schema = provider.schema();
        let resources: BTreeMap<_, _> = provider
            .resources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.object_type();
                (imp.type_name(), Arc::new(ResourceEntry { imp, schema, ty }))
            })
            .collect();
        let data_sources: BTreeMap<_, _> = provider
            .data_sources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.object_type();
                (
                    imp.type_name(),
                    Arc::new(DataSourceEntry { imp, schema, ty }),
                )
            })
            .collect();
        let ephemerals: BTreeMap<_, _> = provider
            .ephemeral_resources()
            .into_iter()
            .map(|imp| {
                let schema = imp.schema();
                let ty = schema.object_type();
                (
                    imp.type_name(),
                    Arc::new(EphemeralEntry { imp, schema, ty }),
                )
            })
            .collect();
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(convert::schema(&provider_schema)),
            resource_schemas: resources
                .iter()
                .map(|(n, e)| ((*n).to_string(), convert::schema(&e.schema)))
                .collect(),
            data_source_schemas: data_sources
                .iter()
                .map(|(n, e)| ((*n).to_string(), convert::schema(&e.schema)))
                .collect(),
            diagnostics: Vec::new(),
            provider_meta: None,
            server_capabilities: Some(capabilities()),
            functions: Default::default(),
            ephemeral_resource_schemas: ephemerals
                .iter()
                .map(|(n, e)| ((*n).to_string(), convert::schema(&e.schema)))
                .collect(),
        };
        ProviderService {
            provider_ty: provider_schema.object_type(),
            provider: Arc::new(provider),
            resources,
            data_sources,
            ephemerals,
            schema_response,
            ctx: RwLock::new(None),
            stopped: AtomicBool::new(false),
        }
    }

    /// The tonic service to add to a server.
    pub fn into_server(self) -> pb::provider_server::ProviderServer<Self> {
        pb::provider_server::ProviderServer::new(self)
    }

    /// True once Terraform called `Stop`.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub(super) fn mark_stopped(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    pub(super) fn set_ctx(&self, ctx: P::Ctx) {
        let mut slot = self.ctx.write().unwrap_or_else(|e| e.into_inner());
        *slot = Some(Arc::new(ctx));
    }

    /// The configured context, or a "provider not configured" error.
    pub(super) fn ctx(&self, rpc: &str) -> Result<Arc<P::Ctx>, Diagnostics> {
        let slot = self.ctx.read().unwrap_or_else(|e| e.into_inner());
        slot.clone().ok_or_else(|| {
            vec![Diagnostic::error(
                "Provider not configured",
                format!(
                    "Terraform called {rpc} before configuring the keyshift provider. This is \
                     a bug in Terraform or the provider; please report it."
                ),
            )]
        })
    }

    pub(super) fn resource(&self, name: &str) -> Result<Arc<ResourceEntry<P::Ctx>>, Diagnostics> {
        self.resources
            .get(name)
            .cloned()
            .ok_or_else(|| unknown_type("resource", name))
    }

    pub(super) fn data_source(
        &self,
        name: &str,
    ) -> Result<Arc<DataSourceEntry<P::Ctx>>, Diagnostics> {
        self.data_sources
            .get(name)
            .cloned()
            .ok_or_else(|| unknown_type("data source", name))
    }
}

impl<P: Provider> ProviderService<P> {
    pub(super) fn ephemeral(&self, name: &str) -> Result<Arc<EphemeralEntry<P::Ctx>>, Diagnostics> {
        self.ephemerals
            .get(name)
            .cloned()
            .ok_or_else(|| unknown_type("ephemeral resource", name))
    }
}

/// What this server supports beyond the protocol's baseline.
pub(super) fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: false,
        move_resource_state: false,
    }
}

/// "Unknown resource type" and friends.
pub(super) fn unknown_type(kind: &str, name: &str) -> Diagnostics {
    vec![Diagnostic::error(
        format!("Unknown {kind} type"),
        format!("The keyshift provider has no {kind} type named {name:?}."),
    )]
}

/// "X is not supported by the keyshift provider".
pub(super) fn not_supported(feature: &str) -> Vec<pb::Diagnostic> {
    convert::diagnostics(&[Diagnostic::error(
        format!("{feature} is not supported by the keyshift provider"),
        format!("The keyshift provider does not implement {feature}."),
    )])
}

/// Decodes an optional `DynamicValue` (absent or empty: null).
pub(super) fn decode(
    dv: Option<&pb::DynamicValue>,
    ty: &AttrType,
    what: &str,
) -> Result<Value, Diagnostics> {
    let result = match dv {
        Some(dv) if !dv.msgpack.is_empty() => decode_msgpack(&dv.msgpack, ty),
        Some(dv) if !dv.json.is_empty() => decode_json(&dv.json, ty),
        _ => Ok(Value::Null),
    };
    result.map_err(|e| vec![e.to_diagnostic(what)])
}

/// Encodes a value produced by the provider as a msgpack `DynamicValue`.
pub(super) fn encode(
    v: &Value,
    ty: &AttrType,
    what: &str,
) -> Result<pb::DynamicValue, Diagnostics> {
    match encode_msgpack(v, ty) {
        Ok(msgpack) => Ok(pb::DynamicValue {
            msgpack,
            json: Vec::new(),
        }),
        Err(e) => Err(vec![Diagnostic::error(
            format!("Provider produced an invalid {what}"),
            format!(
                "The keyshift provider produced an invalid {what}: {e}. This is a bug in the provider; please report it."
            ),
        )]),
    }
}

/// Nulls every write-only attribute: they must never reach plan or state.
pub(super) fn scrub_write_only(schema: &Schema, v: &mut Value) {
    for a in schema.attributes.iter().filter(|a| a.write_only) {
        if !v.get(a.name).is_null() {
            v.set(a.name, Value::Null);
        }
    }
}

/// Runs provider code on a blocking worker thread, logging the operation
/// and its duration (never the values). A panic becomes an error diagnostic.
pub(super) async fn blocking<T, F>(
    op: &'static str,
    type_name: &str,
    f: F,
) -> Result<T, Diagnostics>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Diagnostics> + Send + 'static,
{
    let start = Instant::now();
    let joined = tokio::task::spawn_blocking(f).await;
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    match joined {
        Ok(r) => {
            tracing::debug!(
                op,
                type_name,
                elapsed_ms,
                ok = r.is_ok(),
                "provider call done"
            );
            r
        }
        Err(e) => {
            tracing::error!(op, type_name, elapsed_ms, "provider call failed: {e}");
            Err(vec![Diagnostic::error(
                "Internal error in the keyshift provider",
                format!(
                    "The {op} of {type_name:?} failed unexpectedly: {e}. This is a bug in the provider; please report it."
                ),
            )])
        }
    }
}

/// Splits a result into the response's value and diagnostics.
pub(super) fn split<T>(r: Result<T, Diagnostics>) -> (Option<T>, Vec<pb::Diagnostic>) {
    match r {
        Ok(v) => (Some(v), Vec::new()),
        Err(d) => (None, convert::diagnostics(&d)),
    }
}
