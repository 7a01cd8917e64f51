//! The tfplugin5 `Provider` RPC handlers of [`ProviderService`].
//!
//! Every handler answers `Ok` with diagnostics: a gRPC error status would
//! surface in Terraform as an opaque "plugin error".

use tonic::{Request, Response, Status};

use super::convert;
use super::proto::tfplugin5 as pb;
use super::server::{
    ProviderService, blocking, capabilities, decode, encode, not_supported, scrub_write_only, split,
};
use crate::framework::{
    ApplyRequest, Diagnostic, Diagnostics, PlanRequest, Provider, check_whole_numbers,
    unknown_volatile_on_update,
};

type Rpc<T> = Result<Response<T>, Status>;

fn ok<T>(t: T) -> Rpc<T> {
    Ok(Response::new(t))
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderService<P> {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        use pb::get_metadata as m;
        ok(m::Response {
            server_capabilities: Some(capabilities()),
            diagnostics: Vec::new(),
            data_sources: self
                .data_sources
                .keys()
                .map(|n| m::DataSourceMetadata {
                    type_name: (*n).to_string(),
                })
                .collect(),
            resources: self
                .resources
                .keys()
                .map(|n| m::ResourceMetadata {
                    type_name: (*n).to_string(),
                })
                .collect(),
            functions: Vec::new(),
            ephemeral_resources: self
                .ephemerals
                .keys()
                .map(|n| m::EphemeralMetadata {
                    type_name: (*n).to_string(),
                })
                .collect(),
        })
    }

    async fn get_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        tracing::debug!("GetSchema");
        ok(self.schema_response.clone())
    }

    async fn prepare_provider_config(
        &self,
        req: Request<pb::prepare_provider_config::Request>,
    ) -> Rpc<pb::prepare_provider_config::Response> {
        let req = req.into_inner();
        let diags = match decode(
            req.config.as_ref(),
            &self.provider_ty,
            "provider configuration",
        ) {
            Ok(config) => {
                let p = self.provider.clone();
                blocking("provider validate", "provider", move || {
                    Ok(p.validate(&config))
                })
                .await
                .unwrap_or_else(|d| d)
            }
            Err(d) => d,
        };
        ok(pb::prepare_provider_config::Response {
            prepared_config: req.config,
            diagnostics: convert::diagnostics(&diags),
        })
    }

    async fn validate_resource_type_config(
        &self,
        req: Request<pb::validate_resource_type_config::Request>,
    ) -> Rpc<pb::validate_resource_type_config::Response> {
        let req = req.into_inner();
        let result: Result<Diagnostics, Diagnostics> = async {
            let e = self.resource(&req.type_name)?;
            let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
            let numbers = check_whole_numbers(&e.schema, &config);
            if !numbers.is_empty() {
                return Ok(numbers);
            }
            blocking("validate", &req.type_name, move || {
                Ok(e.imp.validate(&config))
            })
            .await
        }
        .await;
        let diags = result.unwrap_or_else(|d| d);
        ok(pb::validate_resource_type_config::Response {
            diagnostics: convert::diagnostics(&diags),
        })
    }

    async fn validate_data_source_config(
        &self,
        req: Request<pb::validate_data_source_config::Request>,
    ) -> Rpc<pb::validate_data_source_config::Response> {
        let req = req.into_inner();
        let result: Result<Diagnostics, Diagnostics> = async {
            let e = self.data_source(&req.type_name)?;
            let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
            let numbers = check_whole_numbers(&e.schema, &config);
            if !numbers.is_empty() {
                return Ok(numbers);
            }
            blocking("validate", &req.type_name, move || {
                Ok(e.imp.validate(&config))
            })
            .await
        }
        .await;
        let diags = result.unwrap_or_else(|d| d);
        ok(pb::validate_data_source_config::Response {
            diagnostics: convert::diagnostics(&diags),
        })
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let req = req.into_inner();
        let result = async {
            let e = self.resource(&req.type_name)?;
            let raw = req.raw_state.unwrap_or_default();
            if raw.json.is_empty() && !raw.flatmap.is_empty() {
                return Err(vec![Diagnostic::error(
                    "Legacy state format not supported",
                    format!(
                        "The state of this {} was saved in the pre-0.12 \"flatmap\" format, \
                         which the keyshift provider never wrote. Remove it from state \
                         (`terraform state rm`) and import it again.",
                        req.type_name
                    ),
                )]);
            }
            let dv = pb::DynamicValue {
                msgpack: Vec::new(),
                json: raw.json,
            };
            let state = decode(Some(&dv), &e.ty, "saved state")?;
            let version = req.version;
            let e2 = e.clone();
            let mut up = blocking("upgrade_state", &req.type_name, move || {
                e2.imp.upgrade_state(version, state)
            })
            .await?;
            scrub_write_only(&e.schema, &mut up);
            encode(&up, &e.ty, "upgraded state")
        }
        .await;
        let (upgraded_state, diagnostics) = split(result);
        ok(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics,
        })
    }

    async fn configure(
        &self,
        req: Request<pb::configure::Request>,
    ) -> Rpc<pb::configure::Response> {
        let req = req.into_inner();
        let result = async {
            let config = decode(
                req.config.as_ref(),
                &self.provider_ty,
                "provider configuration",
            )?;
            let p = self.provider.clone();
            let version = req.terraform_version;
            let ctx = blocking("configure", "provider", move || {
                p.configure(&config, &version)
            })
            .await?;
            let warnings = self.provider.configure_warnings(&ctx);
            self.set_ctx(ctx);
            Ok(warnings)
        }
        .await;
        let (warnings, mut diagnostics) = split(result);
        diagnostics.extend(warnings.iter().flatten().map(convert::diagnostic));
        ok(pb::configure::Response { diagnostics })
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let req = req.into_inner();
        let result = async {
            let e = self.resource(&req.type_name)?;
            let ctx = self.ctx("ReadResource")?;
            let state = decode(req.current_state.as_ref(), &e.ty, "prior state")?;
            let e2 = e.clone();
            let mut new =
                blocking("read", &req.type_name, move || e2.imp.read(&ctx, &state)).await?;
            // Null means "gone": encoded as msgpack nil so Terraform plans a create.
            scrub_write_only(&e.schema, &mut new);
            encode(&new, &e.ty, "state")
        }
        .await;
        let (new_state, diagnostics) = split(result);
        ok(pb::read_resource::Response {
            // On error keep the prior state so Terraform does not forget the object.
            new_state: new_state.or(req.current_state),
            diagnostics,
            private: req.private,
            deferred: None,
        })
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let req = req.into_inner();
        let result = async {
            let e = self.resource(&req.type_name)?;
            let ctx = self.ctx("PlanResourceChange")?;
            let plan_req = PlanRequest {
                prior: decode(req.prior_state.as_ref(), &e.ty, "prior state")?,
                proposed: decode(req.proposed_new_state.as_ref(), &e.ty, "proposed state")?,
                config: decode(req.config.as_ref(), &e.ty, "configuration")?,
            };
            let numbers = check_whole_numbers(&e.schema, &plan_req.config);
            if !numbers.is_empty() {
                return Err(numbers);
            }
            let e2 = e.clone();
            let mut plan = blocking("plan", &req.type_name, move || {
                let mut plan = e2.imp.plan(&ctx, &plan_req)?;
                unknown_volatile_on_update(&e2.schema, &plan_req.prior, &mut plan.planned);
                Ok(plan)
            })
            .await?;
            scrub_write_only(&e.schema, &mut plan.planned);
            let planned = encode(&plan.planned, &e.ty, "planned state")?;
            let replace = plan
                .requires_replace
                .iter()
                .map(convert::path)
                .collect::<Vec<_>>();
            Ok((planned, replace, plan.warnings))
        }
        .await;
        let (out, mut diagnostics) = split(result);
        let (planned_state, requires_replace) = match out {
            Some((p, r, warnings)) => {
                diagnostics.extend(warnings.iter().map(convert::diagnostic));
                (Some(p), r)
            }
            None => (None, Vec::new()),
        };
        ok(pb::plan_resource_change::Response {
            planned_state,
            requires_replace,
            planned_private: req.prior_private,
            diagnostics,
            legacy_type_system: false,
            deferred: None,
        })
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let req = req.into_inner();
        let result = async {
            let e = self.resource(&req.type_name)?;
            let ctx = self.ctx("ApplyResourceChange")?;
            let apply_req = ApplyRequest {
                prior: decode(req.prior_state.as_ref(), &e.ty, "prior state")?,
                planned: decode(req.planned_state.as_ref(), &e.ty, "planned state")?,
                config: decode(req.config.as_ref(), &e.ty, "configuration")?,
            };
            let e2 = e.clone();
            let mut new = blocking("apply", &req.type_name, move || {
                e2.imp.apply(&ctx, &apply_req)
            })
            .await?;
            scrub_write_only(&e.schema, &mut new);
            encode(&new, &e.ty, "new state")
        }
        .await;
        let (new_state, diagnostics) = split(result);
        ok(pb::apply_resource_change::Response {
            // A failed apply leaves the object as it was: report the prior state.
            new_state: new_state.or(req.prior_state),
            private: req.planned_private,
            diagnostics,
            legacy_type_system: false,
        })
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let req = req.into_inner();
        let result = async {
            let e = self.resource(&req.type_name)?;
            let ctx = self.ctx("ImportResourceState")?;
            let id = req.id.clone();
            let e2 = e.clone();
            let mut state =
                blocking("import", &req.type_name, move || e2.imp.import(&ctx, &id)).await?;
            scrub_write_only(&e.schema, &mut state);
            if state.is_null() {
                return Err(vec![Diagnostic::error(
                    "Cannot import non-existent remote object",
                    format!("No {} with id {:?} exists.", req.type_name, req.id),
                )]);
            }
            encode(&state, &e.ty, "imported state")
        }
        .await;
        let (state, diagnostics) = split(result);
        let imported_resources = state
            .map(|s| pb::import_resource_state::ImportedResource {
                type_name: req.type_name.clone(),
                state: Some(s),
                private: Vec::new(),
            })
            .into_iter()
            .collect();
        ok(pb::import_resource_state::Response {
            imported_resources,
            diagnostics,
            deferred: None,
        })
    }

    async fn move_resource_state(
        &self,
        _: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        ok(pb::move_resource_state::Response {
            target_state: None,
            diagnostics: not_supported("Moving resource state between types (`moved` blocks)"),
            target_private: Vec::new(),
        })
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let req = req.into_inner();
        let result = async {
            let e = self.data_source(&req.type_name)?;
            let ctx = self.ctx("ReadDataSource")?;
            let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
            let e2 = e.clone();
            let mut state = blocking("read data", &req.type_name, move || {
                e2.imp.read(&ctx, &config)
            })
            .await?;
            scrub_write_only(&e.schema, &mut state);
            encode(&state, &e.ty, "data source state")
        }
        .await;
        let (state, diagnostics) = split(result);
        ok(pb::read_data_source::Response {
            state,
            diagnostics,
            deferred: None,
        })
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        let req = req.into_inner();
        let result: Result<Diagnostics, Diagnostics> = async {
            let e = self.ephemeral(&req.type_name)?;
            let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
            blocking("validate", &req.type_name, move || {
                Ok(e.imp.validate(&config))
            })
            .await
        }
        .await;
        let diags = result.unwrap_or_else(|d| d);
        ok(pb::validate_ephemeral_resource_config::Response {
            diagnostics: convert::diagnostics(&diags),
        })
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        let req = req.into_inner();
        let result = async {
            let e = self.ephemeral(&req.type_name)?;
            let ctx = self.ctx("OpenEphemeralResource")?;
            let config = decode(req.config.as_ref(), &e.ty, "configuration")?;
            let e2 = e.clone();
            let mut opened =
                blocking("open", &req.type_name, move || e2.imp.open(&ctx, &config)).await?;
            scrub_write_only(&e.schema, &mut opened);
            encode(&opened, &e.ty, "ephemeral result")
        }
        .await;
        let (result, diagnostics) = split(result);
        // No renew_at and no private data: nothing is held open between calls.
        ok(pb::open_ephemeral_resource::Response {
            diagnostics,
            renew_at: None,
            result,
            private: None,
            deferred: None,
        })
    }

    async fn renew_ephemeral_resource(
        &self,
        _: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        // Never asked for (Open sets no renew_at); nothing to renew.
        ok(pb::renew_ephemeral_resource::Response::default())
    }

    async fn close_ephemeral_resource(
        &self,
        _: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        // Nothing is held open: closing has nothing to release.
        ok(pb::close_ephemeral_resource::Response::default())
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Rpc<pb::get_functions::Response> {
        ok(pb::get_functions::Response::default())
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> Rpc<pb::call_function::Response> {
        let name = req.into_inner().name;
        ok(pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text: format!(
                    "Provider functions are not supported by the keyshift provider (called {name:?})."
                ),
                function_argument: None,
            }),
        })
    }

    async fn stop(&self, _: Request<pb::stop::Request>) -> Rpc<pb::stop::Response> {
        tracing::debug!("Stop");
        self.mark_stopped();
        ok(pb::stop::Response {
            error: String::new(),
        })
    }
}

#[cfg(test)]
#[path = "rpc_tests.rs"]
mod tests;
