//! `data.keyshift_key_status`: live health check of an external AWS KMS key
//! by ARN or by the container whose EKMS configuration names it.

use super::ProviderCtx;
use super::common::{check_instance_id, object, store_err};
use super::ekms_config::{check_arn, health_values};
use crate::framework::{
    Attr, AttrType, Attribute, DataSource, Decoder, Diagnostic, Diagnostics, Model, Schema,
    ToValue, Value,
};
use crate::store::Container;

/// The `keyshift_key_status` data source type.
pub struct KeyStatusData;

/// What the data source checks: a key by ARN, or a container's configured key.
struct StatusQuery {
    aws_kms_key_arn: Attr<String>,
    instance_id: Attr<String>,
}

impl Model for StatusQuery {
    fn decode(d: &mut Decoder<'_>) -> Self {
        StatusQuery {
            aws_kms_key_arn: d.attr("aws_kms_key_arn"),
            instance_id: d.attr("instance_id"),
        }
    }
}

impl DataSource<ProviderCtx> for KeyStatusData {
    fn type_name(&self) -> &'static str {
        "keyshift_key_status"
    }

    fn schema(&self) -> Schema {
        use AttrType::String as Str;
        use Attribute as A;
        Schema {
            version: 0,
            description: "Health check of an external AWS KMS key: by ARN, or the key of a container's EKMS configuration.",
            attributes: vec![
                A::optional_computed(
                    "aws_kms_key_arn",
                    Str,
                    "ARN of the AWS KMS key to check. Leave unset to check the key configured for `instance_id` (or the shared KMS).",
                ),
                A::optional(
                    "instance_id",
                    Str,
                    "KMS instance whose EKMS key to check when `aws_kms_key_arn` is unset; null means the shared KMS. The result is also recorded as the configuration's last status.",
                ),
                A::computed(
                    "status",
                    Str,
                    "`ACTIVE`, `DISABLED`, `PENDING_DELETION`, `UNAVAILABLE` or `DELETED`.",
                ),
                A::computed(
                    "aws_key_state",
                    Str,
                    "AWS KMS `KeyState` (null when AWS did not answer).",
                ),
                A::computed("checked_at", Str, "Time of the check (RFC 3339)."),
                A::computed(
                    "remediation",
                    Str,
                    "What to do when `status` is not ACTIVE (empty when ACTIVE).",
                ),
            ],
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (c, mut diags) = StatusQuery::from_value_partial(config);
        check_arn("aws_kms_key_arn", &c.aws_kms_key_arn, &mut diags);
        check_instance_id("instance_id", &c.instance_id, &mut diags);
        if c.aws_kms_key_arn.known().is_some() && c.instance_id.known().is_some() {
            diags.push(Diagnostic::attr_error("instance_id", "Set aws_kms_key_arn or instance_id, not both",
                "`instance_id` selects the container whose configured key is checked; with `aws_kms_key_arn` set it has no meaning"));
        }
        diags
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, Diagnostics> {
        let q = StatusQuery::from_value(config)?;
        let (arn, h) = match q.aws_kms_key_arn.known() {
            Some(arn) => (arn.to_string(), ctx.aws.health(arn)),
            None => {
                let c = Container::from_instance_id(q.instance_id.known().map(String::as_str));
                let (info, h) = ctx.kms.ekms_health(&c, &*ctx.aws).map_err(|e| {
                    let mut d = store_err("No EKMS key to check")(e);
                    for x in &mut d {
                        x.detail = format!("{} (set aws_kms_key_arn, or configure keyshift_ekms_config for container {c})", x.detail);
                    }
                    d
                })?;
                (info.config.key_arn, h)
            }
        };
        let mut pairs = vec![
            ("aws_kms_key_arn", Value::string(arn)),
            ("instance_id", q.instance_id.to_value()),
            ("status", Value::string(h.status.as_str())),
        ];
        pairs.extend(
            health_values(&h)
                .into_iter()
                .filter(|(k, _)| *k != "key_status"),
        );
        Ok(object(pairs))
    }
}
