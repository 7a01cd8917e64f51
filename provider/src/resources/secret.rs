//! `keyshift_secret`: a secret whose versions are sealed under an `AES_256`
//! key of the same container.
//!
//! The value comes from exactly one of:
//! - `secret_data_wo` (write-only, Terraform 1.11): seen only in the apply
//!   request's configuration, written when `secret_data_wo_version` changes,
//!   never in state, plans, logs or diagnostics;
//! - `secret_data` (sensitive): Terraform keeps what the user wrote in state;
//!   a change writes a new version.
//!
//! Refresh and import never read a value back from the store, and a
//! configuration without a value adopts an existing secret (after import)
//! without touching its stored value. Placement
//! (`instance_id`) changes in place, as for keys: an in-place migration,
//! never a replacement. A secret moves with or after its encryption key
//! (the key's own update runs first when the secret references it), or
//! together with a switch to a key that already lives in the target.
//!
//! There is no `rotation_interval`: rotating a secret's value needs a
//! rotation function that knows how to make and install a new credential
//! for its type, which the store does not have, so an interval would be
//! stored and never acted on. Schema version 1 dropped the attribute that
//! version 0 carried (rotate the encryption key instead: `keyshift_key`'s
//! `rotation_interval`; secret versions stay readable across key rotations).

use super::ProviderCtx;
use super::common::{
    changed, check_enum, check_instance_id, default_if_null, is_instance_id, object, parse_attr,
    secret_exists_diag, store_diag, str_or, tags_of, tags_value, text_value,
};
use crate::engine::kms_secrets::{secret_name, secret_value};
use crate::framework::{
    ApplyRequest, AttrPath, AttrType, Attribute, Diagnostic, Diagnostics, PlanRequest,
    PlanResponse, Resource, Schema, Value, default_plan,
};
use crate::store::{Container, NewSecret, Secret, SecretType, SecretUpdate, StoreError};

/// The `keyshift_secret` resource type.
pub struct SecretResource;

fn attributes() -> Vec<Attribute> {
    use AttrType::{Number, String as Str};
    use Attribute as A;
    vec![
        A::computed("id", Str, "Secret id, `sec-` followed by a UUID."),
        A::required("name", Str, "Secret name, unique in its container: 1 to 192 characters of letters, digits and `/ _ + = . @ -`. Changing it replaces the secret.").force_new(),
        A::optional_computed("instance_id", Str, "KMS instance holding the secret; null means the shared KMS. It must be the container of `encryption_key_id`. Changing it migrates the secret in place (`~ update`, never a replacement), keeping id, versions and stages; the encryption key must be in the target by then: move the key in the same apply (with `encryption_key_id` referencing the key resource, so Terraform plans and moves the key first), or switch `encryption_key_id` to a key of the target. A move that would leave the key behind is refused at plan, on this attribute. Leaving it unset keeps the plan clean after an out-of-band move."),
        A::optional_computed("type", Str, "`Generic` (default), `RAM`, `RDS` or `ECS`. Changing it is an in-place update of the secret's metadata: id, versions and values are kept. Leaving it unset keeps the type the secret has."),
        A::required("encryption_key_id", Str, "Id of the key that encrypts the values: an `Enabled` `AES_256` (`ENCRYPT/DECRYPT`) key in the same container as the secret. Changing it is an in-place update that re-seals every version under the new key (version ids and stages are kept)."),
        A::optional("description", Str, "Free-text description."),
        A::optional("tags", AttrType::string_map(), "Tags as a map of strings."),
        A::optional("secret_data_wo", Str, "The secret value, write-only (Terraform 1.11+): never stored in state or plans. Written on create and whenever `secret_data_wo_version` changes. Set exactly one of `secret_data_wo` and `secret_data`.").sensitive().write_only(),
        A::optional("secret_data_wo_version", Number, "Version of `secret_data_wo`, required with it: change it to write the current `secret_data_wo` as a new secret version (Terraform cannot see write-only values change). After `terraform import` the first version set is adopted without writing (the stored value stays); bump it to write."),
        A::optional("secret_data", Str, "The secret value as a sensitive attribute, which Terraform keeps in state (prefer `secret_data_wo`). A change writes a new version. Never read back from the store: refresh keeps the configured value and import leaves it null (the next apply then writes it as a new version only if it differs from the stored value). A new secret needs a value; an existing (e.g. imported) one may leave both value attributes unset, and its stored value is then left as it is. Removing the value from the configuration leaves the stored value too.").sensitive(),
        A::computed("version_id", Str, "Id of the current (`ACSCurrent`) version; changes whenever a new value is written."),
    ]
}

/// The state object of `s`. Values never come from the store: `shape` (the
/// prior or planned value) carries `secret_data` and `secret_data_wo_version`.
fn secret_state(s: &Secret, shape: &Value) -> Value {
    object(vec![
        ("id", Value::string(&s.id)),
        ("name", Value::string(&s.name)),
        ("instance_id", Value::opt_string(s.container.instance_id())),
        ("type", Value::string(s.secret_type.as_str())),
        ("encryption_key_id", Value::string(&s.encryption_key_id)),
        (
            "description",
            text_value(&s.description, shape.get("description")),
        ),
        ("tags", tags_value(&s.tags, shape.get("tags"))),
        ("secret_data_wo", Value::Null),
        (
            "secret_data_wo_version",
            shape.get("secret_data_wo_version").clone(),
        ),
        ("secret_data", shape.get("secret_data").clone()),
        ("version_id", Value::string(&s.current_version_id)),
    ])
}

/// An imported state whose value attributes are both unset: the first
/// configured value is adopted (compared, not blindly rewritten).
fn adopted(prior: &Value) -> bool {
    prior.get("secret_data").is_null() && prior.get("secret_data_wo_version").is_null()
}

/// Whether this update writes a new version.
fn writes_value(prior: &Value, planned: &Value, config: &Value) -> bool {
    let wo_bump = changed(prior, planned, "secret_data_wo_version")
        && !config.get("secret_data_wo").is_null();
    let data = changed(prior, planned, "secret_data") && !planned.get("secret_data").is_null();
    data || (wo_bump && !adopted(prior))
}

/// The value to write, from the write-only attribute (configuration) or
/// `secret_data` (planned); and the attribute it came from.
fn value_of(req: &ApplyRequest) -> Result<(&str, &'static str), Diagnostics> {
    if let Some(v) = req.config.get("secret_data_wo").as_str() {
        return Ok((v, "secret_data_wo"));
    }
    if let Some(v) = req.planned.get("secret_data").as_str() {
        return Ok((v, "secret_data"));
    }
    Err(vec![Diagnostic::attr_error(
        "secret_data_wo",
        "Missing secret value",
        "set exactly one of secret_data_wo (with secret_data_wo_version) or secret_data",
    )])
}

/// A store error as a diagnostic; value errors point at the attribute the
/// value came from, name clashes at `name`.
fn diag(summary: &str, e: &StoreError, value_attr: &str) -> Diagnostic {
    let d = store_diag(summary, e);
    match e {
        StoreError::Invalid {
            field: "secret_data",
            ..
        } => d.at(AttrPath::attr(value_attr)),
        StoreError::AlreadyExists { .. } => d.at(AttrPath::attr("name")),
        _ => d,
    }
}

fn check_values(config: &Value, diags: &mut Diagnostics) {
    let (wo, data, ver) = (
        config.get("secret_data_wo"),
        config.get("secret_data"),
        config.get("secret_data_wo_version"),
    );
    if !wo.is_null() && !wo.is_unknown() && !data.is_null() && !data.is_unknown() {
        diags.push(Diagnostic::attr_error(
            "secret_data",
            "Conflicting secret values",
            "set only one of secret_data_wo and secret_data (the value is not shown)",
        ));
    }
    let rules: [(bool, &str, &str, &str); 2] = [
        (
            !wo.is_null() && ver.is_null(),
            "secret_data_wo_version",
            "Missing secret_data_wo_version",
            "set secret_data_wo_version together with secret_data_wo (bump it to write a new \
             version)",
        ),
        (
            wo.is_null() && !ver.is_null() && !data.is_unknown(),
            "secret_data_wo_version",
            "secret_data_wo_version without secret_data_wo",
            "secret_data_wo_version only applies to secret_data_wo; remove it or set \
             secret_data_wo",
        ),
    ];
    for (broken, attr, summary, detail) in rules {
        if broken {
            diags.push(Diagnostic::attr_error(attr, summary, detail));
        }
    }
    for attr in ["secret_data_wo", "secret_data"] {
        if let Some(Err(StoreError::Invalid { message, .. })) = config
            .get(attr)
            .as_str()
            .map(|v| secret_value(v.as_bytes()))
        {
            diags.push(Diagnostic::attr_error(
                attr,
                "Secret value too large",
                message,
            ));
        }
    }
}

impl Resource<ProviderCtx> for SecretResource {
    fn type_name(&self) -> &'static str {
        "keyshift_secret"
    }

    fn schema(&self) -> Schema {
        Schema {
            // Version 1 dropped `rotation_interval` (see `upgrade_state`).
            version: 1,
            description: "A secret in the shared KMS or a KMS instance, encrypted by an AES_256 key of the same container. Secret values are not rotated on a schedule (that needs a rotation function that knows how to replace the credential, which the store does not have), so there is no `rotation_interval`; rotate the encryption key instead (`keyshift_key.rotation_interval`): every secret version stays readable across key rotations.",
            attributes: attributes(),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Vec::new();
        check_enum::<SecretType>(config, "type", &mut diags);
        check_instance_id(config, "instance_id", &mut diags);
        if let Some(Err(e)) = config.get("name").as_str().map(secret_name) {
            diags.push(store_diag("Invalid name", &e));
        }
        check_values(config, &mut diags);
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut resp = default_plan(&self.schema(), req);
        if req.is_destroy() {
            return Ok(resp);
        }
        let (cfg, p) = (&req.config, &mut resp.planned);
        let prior = &req.prior;
        if req.is_create() {
            if cfg.get("secret_data_wo").is_null() && cfg.get("secret_data").is_null() {
                return Err(vec![Diagnostic::attr_error(
                    "secret_data_wo",
                    "Missing secret value",
                    "a new secret needs a value: set exactly one of secret_data_wo (write-only, \
                     with secret_data_wo_version) or secret_data",
                )]);
            }
            default_if_null(p, cfg, "instance_id", Value::Null);
            default_if_null(p, cfg, "type", Value::string(SecretType::Generic.as_str()));
        } else {
            if writes_value(prior, p, cfg) {
                p.set("version_id", Value::Unknown);
            }
            check_move(ctx, prior, p)?;
        }
        // A value write seals under the encryption key: the apply refuses a
        // key that is no longer usable, so the plan does too.
        let key_due = req.is_create()
            || changed(prior, p, "encryption_key_id")
            || (!req.is_create() && writes_value(prior, p, cfg));
        if let (true, Some(key), false) = (
            key_due,
            p.get("encryption_key_id").as_str(),
            p.get("instance_id").is_unknown(),
        ) {
            let container = Container::from_instance_id(p.get("instance_id").as_str());
            let moves_to = ctx.planned_key_moves.target_of(key);
            ctx.kms
                .check_secret_encryption_key(key, &container, moves_to.as_ref())
                .map_err(|e| vec![store_diag("Unusable encryption key", &e)])?;
        }
        if let (true, Some(name), false) = (
            req.is_create(),
            p.get("name").as_str(),
            p.get("instance_id").is_unknown(),
        ) {
            let container = Container::from_instance_id(p.get("instance_id").as_str());
            if let Ok(s) = ctx.kms.find_secret(&container, name) {
                return Err(vec![secret_exists_diag(&container, name, &s.id)]);
            }
        }
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        let p = &req.planned;
        if req.is_destroy() {
            return match ctx.kms.delete_secret(&str_or(&req.prior, "id", "")) {
                Ok(()) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(vec![store_diag("Cannot delete secret", &e)]),
            };
        }
        if req.is_create() {
            let (value, attr) = value_of(req)?;
            let new = NewSecret {
                name: str_or(p, "name", ""),
                container: Container::from_instance_id(p.get("instance_id").as_str()),
                secret_type: parse_attr(p, "type", SecretType::Generic)?,
                encryption_key_id: str_or(p, "encryption_key_id", ""),
                description: str_or(p, "description", ""),
                tags: tags_of(p, "tags"),
            };
            let s = ctx.kms.create_secret(new, value.as_bytes()).map_err(|e| {
                let c = Container::from_instance_id(p.get("instance_id").as_str());
                let name = str_or(p, "name", "");
                vec![match (&e, ctx.kms.find_secret(&c, &name)) {
                    (StoreError::AlreadyExists { .. }, Ok(s)) => {
                        secret_exists_diag(&c, &name, &s.id)
                    }
                    _ => diag("Cannot create secret", &e, attr),
                }]
            })?;
            return Ok(secret_state(&s, p));
        }
        update(ctx, req)
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        match ctx.kms.get_secret(&str_or(state, "id", "")) {
            Ok(s) => Ok(secret_state(&s, state)),
            Err(StoreError::NotFound { .. }) => Ok(Value::Null),
            Err(e) => Err(vec![store_diag("Cannot read secret", &e)]),
        }
    }

    /// Version 0 carried `rotation_interval`, which never did anything;
    /// version 1 drops it (decoding the saved state against the current
    /// schema already leaves it out; this keeps the rule explicit).
    fn upgrade_state(&self, _version: i64, mut state: Value) -> Result<Value, Diagnostics> {
        if let Some(o) = state.as_object_mut() {
            o.remove("rotation_interval");
        }
        Ok(state)
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, Diagnostics> {
        let found = if id.starts_with("sec-") {
            ctx.kms.get_secret(id)
        } else {
            match id.split_once('/') {
                Some(("shared", name)) => ctx.kms.find_secret(&Container::Shared, name),
                Some((inst, name)) if is_instance_id(inst) => ctx
                    .kms
                    .find_secret(&Container::Instance(inst.to_string()), name),
                _ => {
                    return Err(vec![Diagnostic::error(
                        "Cannot import secret",
                        format!(
                            "{id:?} is neither a secret id (sec-...) nor <container>/<name> with container `shared` or a kst- instance id"
                        ),
                    )]);
                }
            }
        };
        let s = found.map_err(|e| vec![store_diag("Cannot import secret", &e)])?;
        Ok(secret_state(&s, &Value::Null))
    }
}

/// A planned move of the secret to another container must pass the rule
/// [`Kms::move_secret`] applies (the same engine rule, same arguments),
/// counting a move of the key involved that an earlier plan of this walk
/// promised. Errors about the new key point at `encryption_key_id`, the
/// others at `instance_id`.
///
/// [`Kms::move_secret`]: crate::engine::Kms::move_secret
fn check_move(ctx: &ProviderCtx, prior: &Value, p: &Value) -> Result<(), Diagnostics> {
    let (Some(id), Some(key), true, false) = (
        prior.get("id").as_str(),
        p.get("encryption_key_id").as_str(),
        changed(prior, p, "instance_id"),
        p.get("instance_id").is_unknown(),
    ) else {
        return Ok(());
    };
    let target = Container::from_instance_id(p.get("instance_id").as_str());
    let new_key = changed(prior, p, "encryption_key_id").then_some(key);
    let moves_to = ctx.planned_key_moves.target_of(key);
    ctx.kms
        .check_secret_movable(id, &target, new_key, moves_to.as_ref())
        .map_err(|e| match e {
            StoreError::Invalid { .. } => vec![store_diag("Unusable encryption key", &e)],
            e => vec![
                Diagnostic::error("Secret cannot be migrated", e.to_string())
                    .at(AttrPath::attr("instance_id")),
            ],
        })
}

fn update(ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
    let (prior, p) = (&req.prior, &req.planned);
    let id = str_or(prior, "id", "");
    let moved = changed(prior, p, "instance_id");
    if moved {
        let target = Container::from_instance_id(p.get("instance_id").as_str());
        let new_key =
            changed(prior, p, "encryption_key_id").then(|| str_or(p, "encryption_key_id", ""));
        ctx.kms
            .move_secret(&id, &target, new_key.as_deref())
            .map_err(|e| {
                vec![store_diag("Cannot migrate secret", &e).at(AttrPath::attr("instance_id"))]
            })?;
    }
    let upd = SecretUpdate {
        description: changed(prior, p, "description").then(|| str_or(p, "description", "")),
        tags: changed(prior, p, "tags").then(|| tags_of(p, "tags")),
        encryption_key_id: (changed(prior, p, "encryption_key_id") && !moved)
            .then(|| str_or(p, "encryption_key_id", "")),
        secret_type: if changed(prior, p, "type") {
            Some(parse_attr(p, "type", SecretType::Generic)?)
        } else {
            None
        },
    };
    let mut s = if upd == SecretUpdate::default() {
        ctx.kms
            .get_secret(&id)
            .map_err(|e| vec![store_diag("Cannot read secret", &e)])?
    } else {
        ctx.kms
            .update_secret(&id, upd)
            .map_err(|e| vec![store_diag("Cannot update secret", &e)])?
    };
    let adopt_data = adopted(prior) && changed(prior, p, "secret_data");
    if writes_value(prior, p, &req.config) || adopt_data {
        let (value, attr) = value_of(req)?;
        let same = adopt_data
            && ctx.kms.get_secret_value(&id, None).is_ok_and(|cur| {
                aws_lc_rs::constant_time::verify_slices_are_equal(&cur, value.as_bytes()).is_ok()
            });
        if !same {
            s = ctx
                .kms
                .put_secret_value(&id, value.as_bytes(), None)
                .map_err(|e| {
                    let mut d = diag("Cannot write secret value", &e, attr);
                    d.detail = format!(
                        "{} (secret {id} exists; its other changes were applied; re-run apply to \
                     finish)",
                        d.detail
                    );
                    vec![d]
                })?;
        }
    }
    Ok(secret_state(&s, p))
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
