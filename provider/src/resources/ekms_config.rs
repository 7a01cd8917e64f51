//! `keyshift_ekms_config`: binds a container (the shared KMS or an
//! instance) to an external AWS KMS key (EKMS / BYOK).
//!
//! - Create validates the key for real (`DescribeKey`, a wrap/unwrap round
//!   trip, the key policy when the provider has `service_principal`) and
//!   re-wraps the container root key under it (`wrapping_strategy =
//!   "external"`, the default). `"internal"` only registers the key.
//! - Changing `aws_kms_key_arn` is an in-place update that re-wraps the
//!   root key; both keys must be ACTIVE.
//! - No revert: `external` → `internal` is refused at plan time, and so is
//!   destroy, unless `allow_revert_to_internal = true` was applied first.
//! - Every read runs a health check, so `refresh`/`plan` show `key_status`.

use super::ProviderCtx;
use super::common::{
    already_exists_diag, bool_or, changed, check_enum, check_instance_id, default_if_null, object,
    parse_attr, store_diag, store_err, str_or,
};
use crate::aws::{KeyHealth, parse_kms_key_arn};
use crate::engine::kms_ekms::{EkmsInfo, EkmsRequest};
use crate::framework::{
    ApplyRequest, AttrPath, AttrType, Attribute, Diagnostic, Diagnostics, PlanRequest,
    PlanResponse, Resource, Schema, Value, default_plan,
};
use crate::store::{Container, EkmsArchitecture, StoreError, WrappingStrategy};

/// The `keyshift_ekms_config` resource type.
pub struct EkmsConfigResource;

/// Computed attributes that come from the health check.
const HEALTH_ATTRS: [&str; 4] = ["key_status", "aws_key_state", "checked_at", "remediation"];

/// AWS settings from the provider block (`aws_region`, `aws_endpoint`,
/// `aws_profile`); credentials come from the standard chain.
pub(crate) fn aws_settings(config: &super::ProviderConfig) -> crate::aws::AwsSettings {
    crate::aws::AwsSettings {
        region: config.aws_region.clone(),
        endpoint: config.aws_endpoint.clone(),
        profile: config.aws_profile.clone(),
        credentials: None,
    }
}

/// Plan-time check of an ARN attribute (syntax only), on `attr`.
pub(crate) fn check_arn(config: &Value, attr: &str, diags: &mut Diagnostics) {
    if let Some(arn) = config.get(attr).as_str() {
        if let Err(e) = parse_kms_key_arn(arn) {
            diags.push(Diagnostic::attr_error(attr, "Invalid AWS KMS key ARN", e));
        }
    }
}

/// The health attributes of a state or data source object.
pub(crate) fn health_values(h: &KeyHealth) -> Vec<(&'static str, Value)> {
    vec![
        ("key_status", Value::string(h.status.as_str())),
        ("aws_key_state", Value::opt_string(h.aws_key_state.clone())),
        ("checked_at", Value::string(&h.checked_at)),
        ("remediation", Value::string(h.status.remediation())),
    ]
}

fn container_of(v: &Value) -> Container {
    Container::from_instance_id(v.get("instance_id").as_str())
}

fn state_of(info: &EkmsInfo, health: Vec<(&'static str, Value)>) -> Value {
    let c = &info.config;
    let mut pairs = vec![
        ("id", Value::string(c.container.to_string())),
        ("instance_id", Value::opt_string(c.container.instance_id())),
        ("aws_kms_key_arn", Value::string(&c.key_arn)),
        ("wrapping_strategy", Value::string(info.wrapping.as_str())),
        ("architecture", Value::string(c.architecture.as_str())),
        (
            "allow_revert_to_internal",
            Value::Bool(c.allow_revert_to_internal),
        ),
    ];
    pairs.extend(health);
    object(pairs)
}

/// Health values recorded by the last operation on the configuration.
fn recorded_health(info: &EkmsInfo) -> Vec<(&'static str, Value)> {
    let status = info
        .config
        .last_status
        .as_deref()
        .and_then(|s| s.parse::<crate::aws::key_status::KeyStatus>().ok());
    vec![
        (
            "key_status",
            Value::opt_string(info.config.last_status.clone()),
        ),
        (
            "aws_key_state",
            Value::opt_string(info.config.last_aws_state.clone()),
        ),
        (
            "checked_at",
            Value::opt_string(info.config.last_checked_at.clone()),
        ),
        (
            "remediation",
            Value::opt_string(status.map(|s| s.remediation())),
        ),
    ]
}

fn no_revert(c: &str, arn: &str) -> String {
    format!(
        "container {c} is wrapped by AWS KMS key {arn}. External wrapping cannot be reverted to internal \
         (no revert): removing this configuration would re-wrap the root key of every key in the container \
         under the store's master key, outside the external root of trust. If you really must (dangerous), \
         set allow_revert_to_internal = true, apply, then destroy."
    )
}

impl Resource<ProviderCtx> for EkmsConfigResource {
    fn type_name(&self) -> &'static str {
        "keyshift_ekms_config"
    }

    fn schema(&self) -> Schema {
        use AttrType::{Bool, String as Str};
        use Attribute as A;
        Schema {
            version: 0,
            description: "External key management (EKMS / BYOK) for a container: its root key is wrapped by an AWS KMS key.",
            attributes: vec![
                A::computed("id", Str, "Container id: `shared` for the shared KMS, else the instance id. Import with this id."),
                A::optional("instance_id", Str, "KMS instance to configure; null means the shared KMS. Changing it replaces the configuration.").force_new(),
                A::required("aws_kms_key_arn", Str, "Full ARN of a symmetric ENCRYPT_DECRYPT AWS KMS key (or multi-Region `mrk-` key). Checked at plan time (syntax) and apply time (DescribeKey, wrap/unwrap round trip, key policy when the provider has `service_principal`). Changing it re-wraps the container root key in place; the old and new key must both be ACTIVE."),
                A::optional_computed("wrapping_strategy", Str, "`external` (default): the container root key is wrapped by the AWS key. `internal`: the key is only registered (validated and health checked) and the root key stays wrapped by the store's master key; switching to `external` later is an update. Once `external` is active it cannot be set back to `internal`."),
                A::optional_computed("architecture", Str, "Key management architecture, `current` (default) or `legacy` (see `data.keyshift_preflight`)."),
                A::optional_computed("allow_revert_to_internal", Bool, "DANGEROUS escape hatch, default false. When true has been applied, destroying this resource re-wraps the container root key with the store's master key (internal) and removes the configuration; otherwise destroy is refused."),
                A::computed("key_status", Str, "Health of the AWS key from the last refresh: `ACTIVE`, `DISABLED`, `PENDING_DELETION`, `UNAVAILABLE` or `DELETED`."),
                A::computed("aws_key_state", Str, "AWS KMS `KeyState` from the last refresh (null when AWS did not answer)."),
                A::computed("checked_at", Str, "Time of the last health check (RFC 3339)."),
                A::computed("remediation", Str, "What to do when `key_status` is not ACTIVE (empty when ACTIVE)."),
            ],
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut diags = Vec::new();
        check_arn(config, "aws_kms_key_arn", &mut diags);
        check_enum::<WrappingStrategy>(config, "wrapping_strategy", &mut diags);
        check_enum::<EkmsArchitecture>(config, "architecture", &mut diags);
        check_instance_id(config, "instance_id", &mut diags);
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let prior = &req.prior;
        if req.is_destroy() {
            let external = prior.get("wrapping_strategy").as_str() == Some("external");
            if external && !bool_or(prior, "allow_revert_to_internal", false) {
                return Err(vec![Diagnostic::attr_error(
                    "allow_revert_to_internal",
                    "EKMS configuration cannot be destroyed",
                    no_revert(
                        &str_or(prior, "id", ""),
                        &str_or(prior, "aws_kms_key_arn", ""),
                    ),
                )]);
            }
            return Ok(default_plan(&self.schema(), req));
        }
        let mut resp = default_plan(&self.schema(), req);
        let (cfg, p) = (&req.config, &mut resp.planned);
        default_if_null(p, cfg, "wrapping_strategy", Value::string("external"));
        default_if_null(p, cfg, "architecture", Value::string("current"));
        default_if_null(p, cfg, "allow_revert_to_internal", Value::Bool(false));
        if req.is_create() {
            if !p.get("instance_id").is_unknown() {
                let c = container_of(p);
                if let Ok(Some(_)) = ctx.kms.ekms_config(&c) {
                    let what = format!("The EKMS configuration of container {c}");
                    return Err(vec![already_exists_diag(
                        "keyshift_ekms_config",
                        &what,
                        &c.to_string(),
                    )]);
                }
                p.set("id", Value::string(c.to_string()));
            }
            return Ok(resp);
        }
        if !resp.requires_replace.is_empty() {
            return Ok(resp);
        }
        let p = &mut resp.planned;
        if prior.get("wrapping_strategy").as_str() == Some("external")
            && p.get("wrapping_strategy").as_str() == Some("internal")
        {
            return Err(vec![Diagnostic::attr_error(
                "wrapping_strategy",
                "Cannot switch back to internal wrapping",
                no_revert(
                    &str_or(prior, "id", ""),
                    &str_or(prior, "aws_kms_key_arn", ""),
                ),
            )]);
        }
        if changed(prior, p, "aws_kms_key_arn") || changed(prior, p, "wrapping_strategy") {
            for a in HEALTH_ATTRS {
                p.set(a, Value::Unknown);
            }
        }
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        let aws = &*ctx.aws;
        let principal = ctx.config.service_principal.as_deref();
        if req.is_destroy() {
            let c = container_of(&req.prior);
            return match ctx.kms.revert_ekms_to_internal(&c, aws) {
                Ok(()) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(store_err("Cannot remove EKMS configuration")(e)),
            };
        }
        let p = &req.planned;
        let c = container_of(p);
        if req.is_create() {
            let r = EkmsRequest {
                key_arn: str_or(p, "aws_kms_key_arn", ""),
                architecture: parse_attr(p, "architecture", EkmsArchitecture::Current)?,
                wrapping: parse_attr(p, "wrapping_strategy", WrappingStrategy::External)?,
                allow_revert_to_internal: bool_or(p, "allow_revert_to_internal", false),
            };
            let info = ctx
                .kms
                .activate_ekms(&c, &r, principal, aws)
                .map_err(store_err("Cannot activate EKMS"))?;
            return Ok(state_of(&info, recorded_health(&info)));
        }
        let prior = &req.prior;
        let arn_changed = changed(prior, p, "aws_kms_key_arn");
        if arn_changed {
            ctx.kms
                .change_ekms_key(&c, &str_or(p, "aws_kms_key_arn", ""), principal, aws)
                .map_err(|e| {
                    vec![
                        store_diag("Cannot change the EKMS key", &e)
                            .at(AttrPath::attr("aws_kms_key_arn")),
                    ]
                })?;
        }
        let to_external = changed(prior, p, "wrapping_strategy")
            && p.get("wrapping_strategy").as_str() == Some("external");
        if to_external {
            ctx.kms
                .enable_external_wrapping(&c, principal, aws)
                .map_err(store_err("Cannot switch to external wrapping"))?;
        }
        let arch = changed(prior, p, "architecture")
            .then(|| parse_attr(p, "architecture", EkmsArchitecture::Current))
            .transpose()?;
        let allow = changed(prior, p, "allow_revert_to_internal")
            .then(|| bool_or(p, "allow_revert_to_internal", false));
        let info = if arch.is_some() || allow.is_some() {
            ctx.kms.set_ekms_options(&c, arch, allow)
        } else {
            ctx.kms.ekms_config(&c).and_then(|i| {
                i.ok_or_else(|| StoreError::NotFound {
                    kind: "EKMS configuration of container",
                    id: c.to_string(),
                })
            })
        }
        .map_err(store_err("Cannot update EKMS configuration"))?;
        let health = if arn_changed || to_external {
            recorded_health(&info)
        } else {
            HEALTH_ATTRS
                .iter()
                .map(|a| (*a, p.get(a).clone()))
                .collect()
        };
        Ok(state_of(&info, health))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        let c = container_of(state);
        match ctx.kms.ekms_health(&c, &*ctx.aws) {
            Ok((info, h)) => Ok(state_of(&info, health_values(&h))),
            Err(StoreError::NotFound { .. }) => Ok(Value::Null),
            Err(e) => Err(store_err("Cannot read EKMS configuration")(e)),
        }
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, Diagnostics> {
        let c = if id == "shared" {
            Container::Shared
        } else if super::common::is_instance_id(id) {
            Container::Instance(id.to_string())
        } else {
            return Err(vec![Diagnostic::error(
                "Invalid import id",
                format!(
                    "{id:?} is not a container id: use `shared` or a KMS instance id (kst- followed by 12 lowercase hex digits)"
                ),
            )]);
        };
        let (info, h) = ctx
            .kms
            .ekms_health(&c, &*ctx.aws)
            .map_err(store_err("Cannot import EKMS configuration"))?;
        Ok(state_of(&info, health_values(&h)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_attribute() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let cases: Vec<(&str, Value, Option<&str>)> = vec![
            ("ok", object(vec![("aws_kms_key_arn", arn.into())]), None),
            (
                "unknown arn",
                object(vec![("aws_kms_key_arn", Value::Unknown)]),
                None,
            ),
            (
                "bad arn",
                object(vec![("aws_kms_key_arn", "arn:aws:s3:::bucket".into())]),
                Some("aws_kms_key_arn"),
            ),
            (
                "bad wrapping",
                object(vec![
                    ("aws_kms_key_arn", arn.into()),
                    ("wrapping_strategy", "both".into()),
                ]),
                Some("wrapping_strategy"),
            ),
            (
                "bad architecture",
                object(vec![
                    ("aws_kms_key_arn", arn.into()),
                    ("architecture", "new".into()),
                ]),
                Some("architecture"),
            ),
            (
                "bad instance",
                object(vec![
                    ("aws_kms_key_arn", arn.into()),
                    ("instance_id", "kst-1".into()),
                ]),
                Some("instance_id"),
            ),
        ];
        for (name, c, want) in cases {
            let d = EkmsConfigResource.validate(&c);
            assert_eq!(
                d.first().and_then(|d| d.path.clone()),
                want.map(AttrPath::attr),
                "{name}: {d:?}"
            );
        }
    }

    #[test]
    fn every_attribute_is_described() {
        for a in EkmsConfigResource.schema().attributes {
            assert!(!a.description.is_empty(), "{}", a.name);
        }
    }
}
