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
//! (`instance_id`, `"shared"` naming the shared KMS explicitly) changes in
//! place, as for keys: an in-place migration, never a replacement. A
//! secret moves with or after its encryption key (the key's own update
//! runs first when the secret references it), or together with a switch to
//! a key that already lives in the target. A key's move carries the
//! secrets it encrypts (`key_dependents`): when the plan moves this
//! secret's key, a secret whose `instance_id` is unset is planned to follow
//! it, and one pinned elsewhere is refused at plan, naming the fix.
//!
//! There is no `rotation_interval`: rotating a secret's value needs a
//! rotation function that knows how to make and install a new credential
//! for its type, which the store does not have, so an interval would be
//! stored and never acted on. Schema version 1 dropped the attribute that
//! version 0 carried (rotate the encryption key instead: `keyshift_key`'s
//! `rotation_interval`; secret versions stay readable across key rotations).

use super::ProviderCtx;
use super::common::{
    check_placement, default_if_null, placement_value, planned_container, secret_exists_diag,
    store_diag,
};
use super::secret_model::{SecretArgs, SecretConfig, SecretModel, secret_state};
use crate::engine::kms_secrets::{secret_name, secret_value};
use crate::engine::validate;
use crate::framework::{
    ApplyRequest, Attr, AttrPath, AttrType, Attribute, Diagnostic, Diagnostics, Model, PlanRequest,
    PlanResponse, Resource, Schema, ToValue, Value, default_plan,
};
use crate::store::{Container, NewSecret, SecretType, SecretUpdate, StoreError};

/// The `keyshift_secret` resource type.
pub struct SecretResource;

fn attributes() -> Vec<Attribute> {
    use AttrType::{Number, String as Str};
    use Attribute as A;
    vec![
        A::computed("id", Str, "Secret id, `sec-` followed by a UUID."),
        A::required("name", Str, "Secret name, unique in its container: 1 to 192 characters of letters, digits and `/ _ + = . @ -`. Changing it replaces the secret.").force_new(),
        A::optional_computed("instance_id", Str, "KMS instance holding the secret, or `\"shared\"` for the shared KMS (null means the shared KMS too). It must be the container of `encryption_key_id`. Changing it migrates the secret in place (`~ update`, never a replacement), keeping id, versions and stages; the encryption key must be in the target by then: move the key in the same apply (with `encryption_key_id` referencing the key resource, so Terraform plans and moves the key first), or switch `encryption_key_id` to a key of the target. A move that would leave the key behind is refused at plan, on this attribute. A key's move carries the secrets it encrypts: when unset, this attribute follows the key's planned move; set to another container, the plan is refused. Leaving it unset keeps the plan clean after an out-of-band move."),
        A::optional_computed("type", Str, "`Generic` (default), `RAM`, `RDS` or `ECS`. Changing it is an in-place update of the secret's metadata: id, versions and values are kept. Leaving it unset keeps the type the secret has."),
        A::required("encryption_key_id", Str, "Id of the key that encrypts the values: an `Enabled` `AES_256` (`ENCRYPT/DECRYPT`) key in the same container as the secret. Changing it is an in-place update that re-seals every version under the new key (version ids and stages are kept)."),
        A::optional("description", Str, "Free-text description."),
        A::optional("tags", AttrType::string_map(), "Tags as a map of strings."),
        A::optional("secret_data_wo", Str, "The secret value, write-only (Terraform 1.11+): never stored in state or plans. Written on create and whenever `secret_data_wo_version` changes. Set exactly one of `secret_data_wo` and `secret_data`.").sensitive().write_only(),
        A::optional("secret_data_wo_version", Number, "Version of `secret_data_wo`, required with it: change it to write the current `secret_data_wo` as a new secret version (Terraform cannot see write-only values change). After `terraform import` the first version set is adopted without writing (the stored value stays); bump it to write."),
        A::optional("secret_data", Str, "The secret value as a sensitive attribute, which Terraform keeps in state (prefer `secret_data_wo`). A change writes a new version. Never read back from the store: refresh keeps the configured value and import leaves it null (the next apply then writes it as a new version only if it differs from the stored value). A new secret needs a value; an existing (e.g. imported) one may leave both value attributes unset, and its stored value is then left as it is. Removing the value from the configuration leaves the stored value too.").sensitive(),
        A::computed("version_id", Str, "Id of the current (`ACSCurrent`) version; changes whenever a new value is written.").volatile(),
    ]
}

/// An imported state whose value attributes are both unset: the first
/// configured value is adopted (compared, not blindly rewritten).
fn adopted(prior: &SecretArgs) -> bool {
    prior.secret_data.is_none() && prior.secret_data_wo_version.is_none()
}

/// Whether an update writes a new version: `secret_data` changes to a
/// value, or `secret_data_wo_version` changes with `secret_data_wo` set in
/// the configuration (`wo_set`), unless the state was just imported.
fn writes_value(
    prior: &SecretArgs,
    (wo_version, data): (&Attr<i64>, &Attr<String>),
    wo_set: bool,
) -> bool {
    let wo_bump = wo_version.changes(prior.secret_data_wo_version.as_ref()) && wo_set;
    let data = data.changes(prior.secret_data.as_ref()) && !data.is_null();
    data || (wo_bump && !adopted(prior))
}

/// The value to write, from the write-only attribute (configuration) or
/// `secret_data` (planned); and the attribute it came from.
fn value_of<'a>(
    cfg: &'a SecretConfig,
    planned: &'a SecretArgs,
) -> Result<(&'a str, &'static str), Diagnostics> {
    if let Some(v) = cfg.secret_data_wo.known() {
        return Ok((v, "secret_data_wo"));
    }
    if let Some(v) = &planned.secret_data {
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

fn check_values(c: &SecretConfig, diags: &mut Diagnostics) {
    let (wo, data, ver) = (&c.secret_data_wo, &c.secret_data, &c.secret_data_wo_version);
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
    for (attr, v) in [("secret_data_wo", wo), ("secret_data", data)] {
        if let Some(Err(StoreError::Invalid { message, .. })) =
            v.known().map(|v| secret_value(v.as_bytes()))
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
        let (c, mut diags) = SecretConfig::from_value_partial(config);
        check_placement("instance_id", &c.instance_id, &mut diags);
        if let Some(Err(e)) = c.name.known().map(|n| secret_name(n)) {
            diags.push(store_diag("Invalid name", &e));
        }
        check_values(&c, &mut diags);
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut resp = default_plan(&self.schema(), req);
        if req.is_destroy() {
            return Ok(resp);
        }
        let cfg = SecretConfig::from_value(&req.config)?;
        let p = &mut resp.planned;
        let prior = if req.is_create() {
            if cfg.secret_data_wo.is_null() && cfg.secret_data.is_null() {
                return Err(vec![Diagnostic::attr_error(
                    "secret_data_wo",
                    "Missing secret value",
                    "a new secret needs a value: set exactly one of secret_data_wo (write-only, \
                     with secret_data_wo_version) or secret_data",
                )]);
            }
            default_if_null(p, cfg.instance_id.is_null(), "instance_id", Value::Null);
            let generic = SecretType::Generic.to_value();
            default_if_null(p, cfg.secret_type.is_null(), "type", generic);
            None
        } else {
            let prior = SecretModel::from_value(&req.prior)?;
            follow_key(ctx, &prior, &cfg, p)?;
            Some(prior)
        };
        let planned = SecretConfig::from_value(p)?;
        // A value write seals under the encryption key: the apply refuses a
        // key that is no longer usable, so the plan does too.
        let key_due = match &prior {
            None => true,
            Some(prior) => {
                let writes = writes_value(
                    &prior.args,
                    (&planned.secret_data_wo_version, &planned.secret_data),
                    !cfg.secret_data_wo.is_null(),
                );
                if writes {
                    p.set("version_id", Value::Unknown);
                }
                check_move(ctx, prior, &planned)?;
                writes
                    || planned
                        .encryption_key_id
                        .changes(Some(&prior.args.encryption_key_id))
            }
        };
        let container = planned_container(&planned.instance_id);
        if let (true, Some(key), Some(container)) =
            (key_due, planned.encryption_key_id.known(), &container)
        {
            let moves_to = ctx.planned_key_moves.target_of(key);
            ctx.kms
                .check_secret_encryption_key(key, container, moves_to.as_ref())
                .map_err(|e| vec![store_diag("Unusable encryption key", &e)])?;
        }
        if let (None, Some(name), Some(container)) = (&prior, planned.name.known(), &container) {
            if let Ok(s) = ctx.kms.find_secret(container, name) {
                return Err(vec![secret_exists_diag(container, name, &s.id)]);
            }
        }
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        if req.is_destroy() {
            let prior = SecretModel::from_value(&req.prior)?;
            return match ctx.kms.delete_secret(&prior.id) {
                Ok(()) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(vec![store_diag("Cannot delete secret", &e)]),
            };
        }
        let cfg = SecretConfig::from_value(&req.config)?;
        let p = SecretArgs::from_value(&req.planned)?;
        if !req.is_create() {
            return update(ctx, &SecretModel::from_value(&req.prior)?, &p, &cfg);
        }
        let (value, attr) = value_of(&cfg, &p)?;
        let c = Container::from_instance_id(p.instance_id.as_deref());
        let new = NewSecret {
            name: p.name.clone(),
            container: c.clone(),
            secret_type: p.secret_type,
            encryption_key_id: p.encryption_key_id.clone(),
            description: p.description.clone().unwrap_or_default(),
            tags: p.tags.clone().unwrap_or_default(),
        };
        let s = ctx.kms.create_secret(new, value.as_bytes()).map_err(|e| {
            vec![match (&e, ctx.kms.find_secret(&c, &p.name)) {
                (StoreError::AlreadyExists { .. }, Ok(s)) => secret_exists_diag(&c, &p.name, &s.id),
                _ => diag("Cannot create secret", &e, attr),
            }]
        })?;
        Ok(secret_state(&s, Some(&p)))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        let prior = SecretModel::from_value(state)?;
        match ctx.kms.get_secret(&prior.id) {
            Ok(s) => Ok(secret_state(&s, Some(&prior.args))),
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
                Some((inst, name)) if validate::is_instance_id(inst) => ctx
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
        Ok(secret_state(&s, None))
    }
}

/// When the plan moves the secret's encryption key (unchanged by this plan)
/// out of the secret's container, the key's move carries the secret: with
/// `instance_id` unset, it is planned to follow the key; set to another
/// container, the plan is refused (the key cannot leave without it).
fn follow_key(
    ctx: &ProviderCtx,
    prior: &SecretModel,
    cfg: &SecretConfig,
    planned: &mut Value,
) -> Result<(), Diagnostics> {
    let old = &prior.args;
    let key = &old.encryption_key_id;
    let switches = cfg.encryption_key_id.known() != Some(key);
    let Some(target) = ctx.planned_key_moves.target_of(key).filter(|_| !switches) else {
        return Ok(());
    };
    let here = Container::from_instance_id(old.instance_id.as_deref());
    if here == target {
        return Ok(());
    }
    match &cfg.instance_id {
        Attr::Null => {
            planned.set(
                "instance_id",
                placement_value(&target, Some(old.instance_id.as_deref())),
            );
            Ok(())
        }
        Attr::Known(c) if Container::from_instance_id(Some(c)) != target => {
            Err(vec![Diagnostic::attr_error(
                "instance_id",
                "Secret cannot stay behind its encryption key",
                format!(
                    "this plan moves key {key} from {here} to {target}, and a key never leaves a \
                     container while secrets there depend on it: the key's move carries secret \
                     {} ({}) with it, but instance_id keeps it in {c}. Set instance_id to \
                     {target} (or reference the key's instance_id, or remove it), or switch \
                     encryption_key_id to a key that stays in {here}.",
                    old.name, prior.id
                ),
            )])
        }
        _ => Ok(()),
    }
}

/// A planned move of the secret to another container must pass the rule
/// [`Kms::move_secret`] applies (the same engine rule, same arguments),
/// counting a move of the key involved that an earlier plan of this walk
/// promised. Errors about the new key point at `encryption_key_id`, the
/// others at `instance_id`.
///
/// [`Kms::move_secret`]: crate::engine::Kms::move_secret
fn check_move(
    ctx: &ProviderCtx,
    prior: &SecretModel,
    planned: &SecretConfig,
) -> Result<(), Diagnostics> {
    let old = &prior.args;
    let (Some(key), true, Some(target)) = (
        planned.encryption_key_id.known(),
        planned.instance_id.changes(old.instance_id.as_ref()),
        planned_container(&planned.instance_id),
    ) else {
        return Ok(());
    };
    let new_key = planned
        .encryption_key_id
        .changes(Some(&old.encryption_key_id))
        .then_some(key.as_str());
    let moves_to = ctx.planned_key_moves.target_of(key);
    ctx.kms
        .check_secret_movable(&prior.id, &target, new_key, moves_to.as_ref())
        .map_err(|e| match e {
            StoreError::Invalid { .. } => vec![store_diag("Unusable encryption key", &e)],
            e => vec![
                Diagnostic::error("Secret cannot be migrated", e.to_string())
                    .at(AttrPath::attr("instance_id")),
            ],
        })
}

fn update(
    ctx: &ProviderCtx,
    prior: &SecretModel,
    p: &SecretArgs,
    cfg: &SecretConfig,
) -> Result<Value, Diagnostics> {
    let (id, old) = (prior.id.as_str(), &prior.args);
    let cur = ctx
        .kms
        .get_secret(id)
        .map_err(|e| vec![store_diag("Cannot read secret", &e)])?;
    let target = Container::from_instance_id(p.instance_id.as_deref());
    let key_changed = p.encryption_key_id != cur.encryption_key_id;
    let moved = relocates(prior, p, cfg, &cur.container, key_changed);
    if moved {
        let new_key = key_changed.then_some(p.encryption_key_id.as_str());
        ctx.kms.move_secret(id, &target, new_key).map_err(|e| {
            vec![store_diag("Cannot migrate secret", &e).at(AttrPath::attr("instance_id"))]
        })?;
    }
    let description = p.description.clone().unwrap_or_default();
    let tags = p.tags.clone().unwrap_or_default();
    let upd = SecretUpdate {
        description: (description != cur.description).then_some(description),
        tags: (tags != cur.tags).then_some(tags),
        encryption_key_id: (key_changed && !moved).then(|| p.encryption_key_id.clone()),
        secret_type: (p.secret_type != cur.secret_type).then_some(p.secret_type),
    };
    let mut s = if upd == SecretUpdate::default() {
        ctx.kms
            .get_secret(id)
            .map_err(|e| vec![store_diag("Cannot read secret", &e)])?
    } else {
        ctx.kms
            .update_secret(id, upd)
            .map_err(|e| vec![store_diag("Cannot update secret", &e)])?
    };
    let adopt_data = adopted(old) && p.secret_data != old.secret_data;
    let planned_value = (
        &Attr::from(p.secret_data_wo_version),
        &Attr::from(p.secret_data.clone()),
    );
    if writes_value(old, planned_value, !cfg.secret_data_wo.is_null()) || adopt_data {
        let (value, attr) = value_of(cfg, p)?;
        let same = adopt_data
            && ctx.kms.get_secret_value(id, None).is_ok_and(|cur| {
                aws_lc_rs::constant_time::verify_slices_are_equal(&cur, value.as_bytes()).is_ok()
            });
        if !same {
            s = ctx
                .kms
                .put_secret_value(id, value.as_bytes(), None)
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
    let mut state = secret_state(&s, Some(p));
    if s.container != target {
        // Moved by another actor since the plan, which did not move it: the
        // placement the plan promised (the next refresh shows the move).
        state.set("instance_id", p.instance_id.to_value());
    }
    Ok(state)
}

/// Whether the update moves the secret (to the planned container) from
/// `now`, where the store has it: when the plan changes its container;
/// or, when it is elsewhere by now (carried by its key, or moved by
/// another actor), when the configuration pins `instance_id` or the plan
/// switches its key (which must be in the secret's container).
fn relocates(
    prior: &SecretModel,
    p: &SecretArgs,
    cfg: &SecretConfig,
    now: &Container,
    key_changed: bool,
) -> bool {
    let target = Container::from_instance_id(p.instance_id.as_deref());
    let planned_move = target != Container::from_instance_id(prior.args.instance_id.as_deref());
    let elsewhere = *now != target;
    planned_move || (elsewhere && (!cfg.instance_id.is_null() || key_changed))
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
