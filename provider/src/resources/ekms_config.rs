//! `keyshift_ekms_config`: binds a container (the shared KMS or an
//! instance) to an external AWS KMS key (EKMS / BYOK).
//!
//! - Create validates the key for real (`DescribeKey`, a wrap/unwrap round
//!   trip, the key policy when the provider has `service_principal`) and
//!   re-wraps the container root key under it (`wrapping_strategy =
//!   "external"`, the default). `"internal"` only registers the key.
//! - Changing `aws_kms_key_arn` is an in-place update that re-wraps the
//!   root key; both keys must be ACTIVE.
//! - No revert: destroy is refused at plan time unless
//!   `allow_revert_to_internal = true` was applied first, and `external` →
//!   `internal` in place is refused at apply (before anything changes) and
//!   shown as a warning at plan, which says what the applied state allows:
//!   an error there would also block `terraform destroy`, whose first step
//!   is a normal plan of the same configuration.
//! - Every read runs a health check, so `refresh`/`plan` show `key_status`.

use super::ProviderCtx;
use super::common::{
    already_exists_diag, check_instance_id, default_if_null, object, planned_container, store_diag,
    store_err,
};
use crate::aws::{KeyHealth, parse_kms_key_arn};
use crate::engine::kms_ekms::{EkmsInfo, EkmsRequest};
use crate::engine::validate;
use crate::framework::{
    ApplyRequest, Attr, AttrPath, AttrType, Attribute, Decoder, Diagnostic, Diagnostics, Model,
    PlanRequest, PlanResponse, Resource, Schema, ToValue, Value, default_plan,
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
pub(crate) fn check_arn(attr: &str, arn: &Attr<String>, diags: &mut Diagnostics) {
    if let Some(Err(e)) = arn.known().map(|a| parse_kms_key_arn(a)) {
        diags.push(Diagnostic::attr_error(attr, "Invalid AWS KMS key ARN", e));
    }
}

crate::string_enum_value!(
    WrappingStrategy => WrappingStrategy::External,
    EkmsArchitecture => EkmsArchitecture::Current,
);

/// An EKMS configuration's configuration, or its planned value while
/// planning.
struct EkmsConfig {
    instance_id: Attr<String>,
    aws_kms_key_arn: Attr<String>,
    wrapping_strategy: Attr<WrappingStrategy>,
    architecture: Attr<EkmsArchitecture>,
    allow_revert_to_internal: Attr<bool>,
}

impl Model for EkmsConfig {
    fn decode(d: &mut Decoder<'_>) -> Self {
        EkmsConfig {
            instance_id: d.attr("instance_id"),
            aws_kms_key_arn: d.attr("aws_kms_key_arn"),
            wrapping_strategy: d.attr("wrapping_strategy"),
            architecture: d.attr("architecture"),
            allow_revert_to_internal: d.attr("allow_revert_to_internal"),
        }
    }
}

/// An EKMS configuration's arguments: its planned value at apply, or a
/// prior state's.
struct EkmsArgs {
    instance_id: Option<String>,
    aws_kms_key_arn: String,
    wrapping_strategy: WrappingStrategy,
    architecture: EkmsArchitecture,
    allow_revert_to_internal: bool,
}

impl Model for EkmsArgs {
    fn decode(d: &mut Decoder<'_>) -> Self {
        EkmsArgs {
            instance_id: d.optional("instance_id"),
            aws_kms_key_arn: d.required("aws_kms_key_arn"),
            wrapping_strategy: d.required("wrapping_strategy"),
            architecture: d.required("architecture"),
            allow_revert_to_internal: d.required("allow_revert_to_internal"),
        }
    }
}

impl EkmsArgs {
    fn container(&self) -> Container {
        Container::from_instance_id(self.instance_id.as_deref())
    }
}

/// The health attributes of a planned value (kept when nothing re-checks).
struct PlannedHealth(Vec<(&'static str, Value)>);

impl Model for PlannedHealth {
    fn decode(d: &mut Decoder<'_>) -> Self {
        let health = HEALTH_ATTRS.map(|a| (a, d.attr::<String>(a).to_value()));
        PlannedHealth(health.into())
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

/// The refusal of `wrapping_strategy = "internal"` on an externally
/// wrapped configuration, as the applied state (`prior`) allows: a warning
/// in the plan, the error of the apply (which changes nothing).
fn internal_refusal(prior: &EkmsArgs, plan: bool) -> Diagnostic {
    let c = prior.container().to_string();
    let why = if prior.allow_revert_to_internal {
        format!(
            "container {c} is wrapped by AWS KMS key {}, and wrapping_strategy cannot be set back \
             to internal in place. allow_revert_to_internal = true is already applied: to revert \
             to internal wrapping, destroy this keyshift_ekms_config (for example terraform \
             destroy -target=<its address>), and keep wrapping_strategy = \"external\" until then.",
            prior.aws_kms_key_arn
        )
    } else {
        no_revert(&c, &prior.aws_kms_key_arn)
    };
    let outcome = match plan {
        true => "Applying this plan will fail on this configuration and change nothing.",
        false => "Nothing was changed.",
    };
    let mut d = Diagnostic::attr_error(
        "wrapping_strategy",
        "Cannot switch back to internal wrapping",
        format!("{why} {outcome}"),
    );
    if plan {
        d.severity = crate::framework::Severity::Warning;
    }
    d
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
        let (c, mut diags) = EkmsConfig::from_value_partial(config);
        check_arn("aws_kms_key_arn", &c.aws_kms_key_arn, &mut diags);
        check_instance_id("instance_id", &c.instance_id, &mut diags);
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        if req.is_destroy() {
            let prior = EkmsArgs::from_value(&req.prior)?;
            let external = prior.wrapping_strategy == WrappingStrategy::External;
            if external && !prior.allow_revert_to_internal {
                return Err(vec![Diagnostic::attr_error(
                    "allow_revert_to_internal",
                    "EKMS configuration cannot be destroyed",
                    no_revert(&prior.container().to_string(), &prior.aws_kms_key_arn),
                )]);
            }
            return Ok(default_plan(&self.schema(), req));
        }
        let cfg = EkmsConfig::from_value(&req.config)?;
        let mut resp = default_plan(&self.schema(), req);
        let p = &mut resp.planned;
        let external = WrappingStrategy::External.to_value();
        default_if_null(
            p,
            cfg.wrapping_strategy.is_null(),
            "wrapping_strategy",
            external,
        );
        let current = EkmsArchitecture::Current.to_value();
        default_if_null(p, cfg.architecture.is_null(), "architecture", current);
        let no = Value::Bool(false);
        default_if_null(
            p,
            cfg.allow_revert_to_internal.is_null(),
            "allow_revert_to_internal",
            no,
        );
        let planned = EkmsConfig::from_value(p)?;
        if req.is_create() {
            if let Some(c) = planned_container(&planned.instance_id) {
                if let Ok(Some(_)) = ctx.kms.ekms_config(&c) {
                    let what = format!("The EKMS configuration of container {c}");
                    return Err(vec![already_exists_diag(
                        "keyshift_ekms_config",
                        &what,
                        &c.to_string(),
                    )]);
                }
                p.set("id", c.to_string().to_value());
            }
            return Ok(resp);
        }
        if !resp.requires_replace.is_empty() {
            return Ok(resp);
        }
        let prior = EkmsArgs::from_value(&req.prior)?;
        if prior.wrapping_strategy == WrappingStrategy::External
            && planned.wrapping_strategy.known() == Some(&WrappingStrategy::Internal)
        {
            resp.warnings.push(internal_refusal(&prior, true));
        }
        if planned
            .aws_kms_key_arn
            .changes(Some(&prior.aws_kms_key_arn))
            || planned
                .wrapping_strategy
                .changes(Some(&prior.wrapping_strategy))
        {
            for a in HEALTH_ATTRS {
                resp.planned.set(a, Value::Unknown);
            }
        }
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        let aws = &*ctx.aws;
        let principal = ctx.config.service_principal.as_deref();
        if req.is_destroy() {
            let c = EkmsArgs::from_value(&req.prior)?.container();
            return match ctx.kms.revert_ekms_to_internal(&c, aws) {
                Ok(()) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(store_err("Cannot remove EKMS configuration")(e)),
            };
        }
        let p = EkmsArgs::from_value(&req.planned)?;
        let c = p.container();
        if req.is_create() {
            let r = EkmsRequest {
                key_arn: p.aws_kms_key_arn.clone(),
                architecture: p.architecture,
                wrapping: p.wrapping_strategy,
                allow_revert_to_internal: p.allow_revert_to_internal,
            };
            let info = ctx
                .kms
                .activate_ekms(&c, &r, principal, aws)
                .map_err(store_err("Cannot activate EKMS"))?;
            return Ok(state_of(&info, recorded_health(&info)));
        }
        let prior = EkmsArgs::from_value(&req.prior)?;
        if prior.wrapping_strategy == WrappingStrategy::External
            && p.wrapping_strategy == WrappingStrategy::Internal
        {
            return Err(vec![internal_refusal(&prior, false)]);
        }
        let planned_health = PlannedHealth::from_value(&req.planned)?;
        let arn_changed = p.aws_kms_key_arn != prior.aws_kms_key_arn;
        if arn_changed {
            ctx.kms
                .change_ekms_key(&c, &p.aws_kms_key_arn, principal, aws)
                .map_err(|e| {
                    vec![
                        store_diag("Cannot change the EKMS key", &e)
                            .at(AttrPath::attr("aws_kms_key_arn")),
                    ]
                })?;
        }
        let to_external = p.wrapping_strategy != prior.wrapping_strategy
            && p.wrapping_strategy == WrappingStrategy::External;
        if to_external {
            ctx.kms
                .enable_external_wrapping(&c, principal, aws)
                .map_err(store_err("Cannot switch to external wrapping"))?;
        }
        let arch = (p.architecture != prior.architecture).then_some(p.architecture);
        let allow = (p.allow_revert_to_internal != prior.allow_revert_to_internal)
            .then_some(p.allow_revert_to_internal);
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
            planned_health.0
        };
        Ok(state_of(&info, health))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        let c = EkmsArgs::from_value(state)?.container();
        match ctx.kms.ekms_health(&c, &*ctx.aws) {
            Ok((info, h)) => Ok(state_of(&info, health_values(&h))),
            Err(StoreError::NotFound { .. }) => Ok(Value::Null),
            Err(e) => Err(store_err("Cannot read EKMS configuration")(e)),
        }
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, Diagnostics> {
        let c = validate::container("id", id).map_err(|e| {
            let why = match e {
                StoreError::Invalid { message, .. } => message,
                other => other.to_string(),
            };
            vec![Diagnostic::error("Invalid import id", why)]
        })?;
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
