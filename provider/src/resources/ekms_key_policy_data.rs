//! `data.keyshift_ekms_key_policy`: the AWS KMS key-policy statement an
//! EKMS root-of-trust key must contain for the provider's
//! `service_principal`, rendered by the same module (and from the same
//! action list) as the policy check `keyshift_ekms_config` runs at apply.

use super::ProviderCtx;
use crate::aws::{REQUIRED_ACTIONS, required_policy, required_statement};
use crate::framework::{
    Attr, AttrType, Attribute, DataSource, Decoder, Diagnostic, Diagnostics, Model, Schema, Value,
};

/// The `keyshift_ekms_key_policy` data source type.
pub struct EkmsKeyPolicyData;

fn attributes() -> Vec<Attribute> {
    use AttrType::String as Str;
    use Attribute as A;
    vec![
        A::optional_computed(
            "service_principal",
            Str,
            "Principal to grant: an IAM ARN, an account id, or a service principal (`name.amazonaws.com`). Default: the provider's `service_principal`.",
        ),
        A::optional(
            "key_admin_principal",
            Str,
            "Principal (usually the account root ARN, `arn:aws:iam::ACCOUNT:root`) that `json` also allows `kms:*`, so that a policy set from `json` alone does not lock the account out of the key. Unset: `json` holds only the keyshift statement.",
        ),
        A::computed(
            "id",
            Str,
            "The principal granted (a stable id for this rendering).",
        ),
        A::computed(
            "actions",
            AttrType::List(Box::new(Str)),
            "The actions granted: exactly those the EKMS checks and operations need.",
        ),
        A::computed(
            "statement_json",
            Str,
            "The single policy statement as JSON, to merge into an existing policy.",
        ),
        A::computed(
            "json",
            Str,
            "A complete policy document (`Version` 2012-10-17), ready for `aws_kms_key.policy` (set `key_admin_principal` then) or `aws_iam_policy_document.source_policy_documents`.",
        ),
    ]
}

/// The principals the policy is written for.
struct PolicyQuery {
    service_principal: Attr<String>,
    key_admin_principal: Attr<String>,
}

impl Model for PolicyQuery {
    fn decode(d: &mut Decoder<'_>) -> Self {
        PolicyQuery {
            service_principal: d.attr("service_principal"),
            key_admin_principal: d.attr("key_admin_principal"),
        }
    }
}

impl DataSource<ProviderCtx> for EkmsKeyPolicyData {
    fn type_name(&self) -> &'static str {
        "keyshift_ekms_key_policy"
    }

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            description: "Renders the AWS KMS key-policy statement that an EKMS root-of-trust key must contain for the provider's service principal (the same statement the apply-time key-policy check of keyshift_ekms_config accepts).",
            attributes: attributes(),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (c, mut diags) = PolicyQuery::from_value_partial(config);
        let principals = [
            ("service_principal", &c.service_principal),
            ("key_admin_principal", &c.key_admin_principal),
        ];
        for (a, v) in principals {
            if v.known().is_some_and(|s| s.trim().is_empty()) {
                let detail = format!("{a} must name a principal");
                diags.push(Diagnostic::attr_error(a, "Empty principal", detail));
            }
        }
        diags
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, Diagnostics> {
        let q = PolicyQuery::from_value(config)?;
        let principal = q
            .service_principal
            .known()
            .cloned()
            .or_else(|| ctx.config.service_principal.clone())
            .ok_or_else(|| {
                vec![Diagnostic::attr_error(
                    "service_principal",
                    "No service principal",
                    "set service_principal here, or in the provider block (or \
                     KEYSHIFT_SERVICE_PRINCIPAL)",
                )]
            })?;
        let admin = q.key_admin_principal.known().map(String::as_str);
        let actions = REQUIRED_ACTIONS.iter().map(|a| Value::string(*a)).collect();
        let mut v = config.clone();
        v.set("service_principal", Value::string(&principal));
        v.set("id", Value::string(&principal));
        v.set("actions", Value::List(actions));
        v.set(
            "statement_json",
            Value::string(required_statement(&principal).to_string()),
        );
        v.set(
            "json",
            Value::string(required_policy(&principal, admin).to_string()),
        );
        Ok(v)
    }
}
