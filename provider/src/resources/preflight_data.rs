//! `data.keyshift_preflight`: may an instance automation operation run
//! from a source container to a target container ?
//!
//! Each side is classified from its store: no EKMS configuration →
//! `not_configured`; a configuration → `configured`, with the key status of
//! a live health check, its wrapping strategy and architecture. Every
//! Keyshift store supports EKMS, so `unsupported` (an older store or
//! instance outside Keyshift that cannot carry EKMS) is declared with
//! `source_ekms_support = false` / `target_ekms_support = false`. The
//! target may live in another store (`target_store_path`).

use std::sync::Arc;

use super::ProviderCtx;
use super::common::{check_instance_id, object, store_diag};
use crate::engine::Kms;
use crate::engine::preflight::{Operation, Side, preflight};
use crate::framework::{
    Attr, AttrPath, AttrType, Attribute, DataSource, Decoder, Diagnostic, Diagnostics, Model,
    Schema, ToValue, Value,
};
use crate::store::Container;
use crate::store::{OpenOptions, StoreError, StoreLocation};

/// The `keyshift_preflight` data source type.
pub struct PreflightData;

crate::string_enum_value!(Operation => Operation::Move);

/// The preflight question: an operation between two containers.
struct PreflightQuery {
    operation: Attr<Operation>,
    source_instance_id: Attr<String>,
    target_instance_id: Attr<String>,
    legacy_support: Attr<bool>,
    source_ekms_support: Attr<bool>,
    target_ekms_support: Attr<bool>,
}

impl Model for PreflightQuery {
    fn decode(d: &mut Decoder<'_>) -> Self {
        PreflightQuery {
            operation: d.attr("operation"),
            source_instance_id: d.attr("source_instance_id"),
            target_instance_id: d.attr("target_instance_id"),
            legacy_support: d.attr("legacy_support"),
            source_ekms_support: d.attr("source_ekms_support"),
            target_ekms_support: d.attr("target_ekms_support"),
        }
    }
}

/// One side of the question: `(which, instance_id, ekms_support)`.
type SideQuery<'a> = (&'a str, &'a Attr<String>, &'a Attr<bool>);

fn side(
    ctx: &ProviderCtx,
    kms: &Kms,
    (which, id, support): SideQuery,
) -> Result<Side, Diagnostics> {
    let id_attr = format!("{which}_instance_id");
    let c = Container::from_instance_id(id.known().map(String::as_str));
    let side = kms.preflight_side(&c, &*ctx.aws).map_err(|e| {
        vec![store_diag(&format!("Cannot classify the {which}"), &e).at(AttrPath::attr(&id_attr))]
    })?;
    let support_attr = format!("{which}_ekms_support");
    if support.known() != Some(&false) {
        return Ok(side);
    }
    match side {
        Side::Configured(s) => Err(vec![Diagnostic::attr_error(
            &support_attr,
            format!("The {which} supports EKMS"),
            format!(
                "{which} container {c} has an EKMS configuration (key {}), so it cannot be declared unsupported",
                s.key_arn
            ),
        )]),
        _ => Ok(Side::Unsupported),
    }
}

fn target_kms(ctx: &ProviderCtx, config: &Value) -> Result<Option<Kms>, Diagnostics> {
    let Some(path) = config.get("target_store_path").as_str() else {
        return Ok(None);
    };
    let at = || AttrPath::attr("target_store_path");
    let location = StoreLocation::parse(path)
        .map_err(|e| vec![store_diag("Invalid target store", &e).at(at())])?;
    let (kms, _warnings) =
        Kms::open_location(&location, &OpenOptions::default(), "terraform-preflight").map_err(
            |e| match e {
                e @ StoreError::NoStore { .. } => vec![Diagnostic::attr_error(
                    "target_store_path",
                    "No key store there",
                    e.to_string(),
                )],
                e => vec![store_diag("Cannot open the target key store", &e).at(at())],
            },
        )?;
    Ok(Some(kms.with_external_keys(Arc::clone(&ctx.aws))))
}

impl DataSource<ProviderCtx> for PreflightData {
    fn type_name(&self) -> &'static str {
        "keyshift_preflight"
    }

    fn schema(&self) -> Schema {
        use AttrType::{Bool, Number, String as Str};
        use Attribute as A;
        Schema {
            version: 0,
            description: "Preflight of an instance automation operation (clone, backup_restore, copy, move, toggle) between two containers, from their EKMS configurations. Use `result` in a `precondition` or `check` block.",
            attributes: vec![
                A::required(
                    "operation",
                    Str,
                    "`clone`, `backup_restore`, `copy`, `move` or `toggle`.",
                ),
                A::optional(
                    "source_instance_id",
                    Str,
                    "Source KMS instance; null means the shared KMS.",
                ),
                A::optional(
                    "target_instance_id",
                    Str,
                    "Target KMS instance; null means the shared KMS.",
                ),
                A::optional(
                    "target_store_path",
                    Str,
                    "Key store directory of the target when it is not the provider's store.",
                ),
                A::optional(
                    "legacy_support",
                    Bool,
                    "Allow legacy-architecture cases; overrides the provider's `legacy_support`.",
                ),
                A::optional(
                    "source_ekms_support",
                    Bool,
                    "Set to false when the source is an older store or instance that cannot carry EKMS (`unsupported`). Default true.",
                ),
                A::optional(
                    "target_ekms_support",
                    Bool,
                    "Set to false when the target is an older store or instance that cannot carry EKMS (`unsupported`). Default true.",
                ),
                A::computed("result", Str, "`supported` or `blocked`."),
                A::computed(
                    "row",
                    Number,
                    "The compatibility-table row that decided (1-13; 0 for the legacy rule).",
                ),
                A::computed("reason", Str, "Why, naming the sides."),
                A::computed(
                    "remediation",
                    Str,
                    "What to do about a block (empty when supported).",
                ),
                A::computed(
                    "reference",
                    Str,
                    "Knowledge-base reference (`KB2540187`) for blocked configuration cases, else null.",
                ),
                A::computed(
                    "source_kind",
                    Str,
                    "Classification of the source: `unsupported`, `not_configured` or `configured`.",
                ),
                A::computed(
                    "target_kind",
                    Str,
                    "Classification of the target: `unsupported`, `not_configured` or `configured`.",
                ),
            ],
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (q, mut diags) = PreflightQuery::from_value_partial(config);
        check_instance_id("source_instance_id", &q.source_instance_id, &mut diags);
        check_instance_id("target_instance_id", &q.target_instance_id, &mut diags);
        diags
    }

    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, Diagnostics> {
        let q = PreflightQuery::from_value(config)?;
        let Some(&op) = q.operation.known() else {
            let detail = "operation must be set";
            return Err(vec![Diagnostic::attr_error(
                "operation",
                "Missing operation",
                detail,
            )]);
        };
        let source_side = ("source", &q.source_instance_id, &q.source_ekms_support);
        let source = side(ctx, &ctx.kms, source_side)?;
        let other = target_kms(ctx, config)?;
        let target_side = ("target", &q.target_instance_id, &q.target_ekms_support);
        let target = side(ctx, other.as_ref().unwrap_or(&ctx.kms), target_side)?;
        let legacy = q
            .legacy_support
            .known()
            .copied()
            .unwrap_or(ctx.config.legacy_support);
        let v = preflight(op, &source, &target, legacy);
        Ok(object(vec![
            ("operation", op.to_value()),
            ("source_instance_id", q.source_instance_id.to_value()),
            ("target_instance_id", q.target_instance_id.to_value()),
            ("target_store_path", config.get("target_store_path").clone()),
            ("legacy_support", q.legacy_support.to_value()),
            ("source_ekms_support", q.source_ekms_support.to_value()),
            ("target_ekms_support", q.target_ekms_support.to_value()),
            ("result", Value::string(v.result())),
            ("row", Value::Int(i64::from(v.row))),
            ("reason", Value::string(&v.reason)),
            ("remediation", Value::string(&v.remediation)),
            ("reference", Value::opt_string(v.reference.clone())),
            ("source_kind", Value::string(source.kind())),
            ("target_kind", Value::string(target.kind())),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_operation_is_reported_on_operation() {
        let d = PreflightData.validate(&object(vec![("operation", "teleport".into())]));
        assert_eq!(
            d.first().and_then(|d| d.path.clone()),
            Some(AttrPath::attr("operation"))
        );
        assert!(
            PreflightData
                .validate(&object(vec![("operation", "move".into())]))
                .is_empty()
        );
    }
}
