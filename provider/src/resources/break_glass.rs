//! `keyshift_break_glass`: an emergency grant bound to a change request.
//!
//! Create = break glass, destroy = repair glass (both in
//! `engine/break_glass.rs`). The credential is issued into a store secret;
//! state holds only that secret's id. A grant is fixed once broken: a new
//! `change_request` replaces it (a new grant), and changing anything else
//! under the same change request is refused at apply, before anything
//! changes, and shown as a warning at plan (an error there would also block
//! `terraform destroy`, whose first step is a normal plan of the same
//! configuration). Expiry changes only the computed `status` (read from the
//! store on refresh), so an expired grant leaves the plan clean and is
//! never re-issued.

use super::ProviderCtx;
use super::common::{object, store_diag, text_value};
use crate::engine::break_glass::{self, Grant, NewGrant};
use crate::framework::{
    ApplyRequest, Attr, AttrPath, AttrType, Attribute, Decoder, Diagnostic, Diagnostics, Model,
    PlanRequest, PlanResponse, Resource, Schema, ToValue, Value, default_plan,
};
use crate::store::StoreError;

/// The `keyshift_break_glass` resource type.
pub struct BreakGlassResource;

fn attributes() -> Vec<Attribute> {
    use AttrType::String as Str;
    use Attribute as A;
    vec![
        A::computed("id", Str, "Grant id, `bg-` followed by 16 hex digits."),
        A::required("change_request", Str, "The change request that authorises breaking glass: `CHG` followed by 7 to 10 digits (e.g. `CHG0030001`). A change request breaks glass once per principal; changing it means a new grant (replacement: the old one is repaired, a new credential issued).").force_new(),
        A::required("principal", Str, "Who the grant is for (e.g. the on-call engineer): 1 to 256 characters of printable text, without control characters (newline, tab, escape sequences) or surrounding spaces."),
        A::optional("key_ids", AttrType::string_set(), "Keys in scope. Set `key_ids`, `instance_id` or both."),
        A::optional("instance_id", Str, "Every key of this KMS instance is in scope."),
        A::required("permissions", AttrType::string_set(), "Operations the credential allows: any of `encrypt`, `decrypt`, `sign`, `verify`."),
        A::required("ttl", Str, "How long the grant lasts, written like every duration of the provider: `d`, `h`, `m`, `s` parts, largest first, such as `90s`, `30m`, `1h30m` or `1d`; 1 second to 24 hours. The grant expires on its own when it ends."),
        A::optional("reason", Str, "Why glass is broken (up to 1024 characters; line breaks and tabs allowed, other control characters not)."),
        A::required("credential_key_id", Str, "An `Enabled` `AES_256` key sealing the credential secret; the secret lives in this key's container."),
        A::computed("status", Str, "`active`, `expired` (past `expires_at`, whether or not it was destroyed) or `revoked` (repaired). Read from the store on every refresh; an expired grant is never re-issued.").volatile(),
        A::computed("expires_at", Str, "RFC 3339 time from which the grant is expired."),
        A::computed("credential_secret_id", Str, "The store secret holding the one-time credential (fetch it with `keyshift break-glass credential ID`); null once repaired. The credential itself never reaches state or plans.").volatile(),
    ]
}

/// A grant's configuration, or its planned value while planning.
struct GrantConfig {
    change_request: Attr<String>,
    principal: Attr<String>,
    key_ids: Attr<Vec<String>>,
    instance_id: Attr<String>,
    permissions: Attr<Vec<String>>,
    ttl: Attr<String>,
    reason: Attr<String>,
    credential_key_id: Attr<String>,
}

impl Model for GrantConfig {
    fn decode(d: &mut Decoder<'_>) -> Self {
        GrantConfig {
            change_request: d.attr("change_request"),
            principal: d.attr("principal"),
            key_ids: d.attr("key_ids"),
            instance_id: d.attr("instance_id"),
            permissions: d.attr("permissions"),
            ttl: d.attr("ttl"),
            reason: d.attr("reason"),
            credential_key_id: d.attr("credential_key_id"),
        }
    }
}

impl GrantConfig {
    /// True when everything a new grant is checked on is known.
    fn grant_known(&self) -> bool {
        let unknown = [
            self.change_request.is_unknown(),
            self.principal.is_unknown(),
            self.key_ids.is_unknown(),
            self.instance_id.is_unknown(),
            self.permissions.is_unknown(),
            self.ttl.is_unknown(),
            self.credential_key_id.is_unknown(),
        ];
        !unknown.contains(&true)
    }
}

/// A grant's arguments: its planned value (once known), or a prior state's.
struct GrantArgs {
    change_request: String,
    principal: String,
    key_ids: Option<Vec<String>>,
    instance_id: Option<String>,
    permissions: Vec<String>,
    ttl: String,
    reason: Option<String>,
    /// Null in a state imported after the credential secret was destroyed.
    credential_key_id: Option<String>,
}

impl Model for GrantArgs {
    fn decode(d: &mut Decoder<'_>) -> Self {
        GrantArgs {
            change_request: d.required("change_request"),
            principal: d.required("principal"),
            key_ids: d.optional("key_ids"),
            instance_id: d.optional("instance_id"),
            permissions: d.required("permissions"),
            ttl: d.required("ttl"),
            reason: d.optional("reason"),
            credential_key_id: d.optional("credential_key_id"),
        }
    }
}

impl GrantArgs {
    /// The engine's request for a new grant.
    fn new_grant(&self) -> Result<NewGrant, Diagnostics> {
        let Some(credential_key_id) = self.credential_key_id.clone() else {
            return Err(vec![Diagnostic::attr_error(
                "credential_key_id",
                "Missing credential_key_id",
                "a new grant needs credential_key_id: the key sealing its credential secret",
            )]);
        };
        Ok(NewGrant {
            change_request: self.change_request.clone(),
            principal: self.principal.clone(),
            key_ids: self.key_ids.clone().unwrap_or_default(),
            instance_id: self.instance_id.clone(),
            permissions: self.permissions.clone(),
            ttl: self.ttl.clone(),
            reason: self.reason.clone().unwrap_or_default(),
            credential_key_id,
        })
    }
}

/// A grant's prior state.
struct GrantModel {
    id: String,
    args: GrantArgs,
}

impl Model for GrantModel {
    fn decode(d: &mut Decoder<'_>) -> Self {
        GrantModel {
            id: d.required("id"),
            args: GrantArgs::decode(d),
        }
    }
}

fn set_of(items: &[String]) -> Value {
    Value::Set(items.iter().map(Value::string).collect())
}

/// The state of `g`; `shape` (prior or planned arguments, `None` on
/// import) supplies what the grant does not record in the user's words
/// (`ttl` text, null versus empty), `credential_key_id` the sealing key.
fn grant_state(g: &Grant, shape: Option<&GrantArgs>, credential_key_id: Option<String>) -> Value {
    let r = &g.record;
    let key_ids = if r.key_ids.is_empty() && shape.is_none_or(|s| s.key_ids.is_none()) {
        Value::Null
    } else {
        set_of(&r.key_ids)
    };
    let keep_empty_reason = shape.is_some_and(|s| s.reason.as_deref() == Some(""));
    object(vec![
        ("id", r.id.to_value()),
        ("change_request", r.change_request.to_value()),
        ("principal", r.principal.to_value()),
        ("key_ids", key_ids),
        ("instance_id", r.instance_id.to_value()),
        ("permissions", set_of(&r.permissions)),
        ("ttl", ttl_value(g, shape.map(|s| s.ttl.as_str()))),
        ("reason", text_value(&r.reason, keep_empty_reason)),
        ("credential_key_id", credential_key_id.to_value()),
        ("status", Value::string(g.status.as_str())),
        ("expires_at", r.expires_at.to_value()),
        ("credential_secret_id", r.credential_secret_id.to_value()),
    ])
}

/// The configured ttl text when it names the grant's length, else seconds.
fn ttl_value(g: &Grant, shape: Option<&str>) -> Value {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    let secs = match (parse(&g.record.created_at), parse(&g.record.expires_at)) {
        (Some(a), Some(b)) => (b - a).whole_seconds(),
        _ => 0,
    };
    match shape {
        Some(t) if break_glass::ttl_seconds(t).ok() == Some(secs) => Value::string(t),
        _ => Value::string(format!("{secs}s")),
    }
}

fn check_known(c: &GrantConfig, diags: &mut Diagnostics) {
    let rules: [(&str, Result<(), StoreError>); 5] = [
        (
            "change_request",
            c.change_request
                .known()
                .map_or(Ok(()), |r| break_glass::change_request(r)),
        ),
        (
            "principal",
            c.principal
                .known()
                .map_or(Ok(()), |p| break_glass::principal(p)),
        ),
        (
            "reason",
            c.reason.known().map_or(Ok(()), |r| break_glass::reason(r)),
        ),
        (
            "ttl",
            c.ttl
                .known()
                .map_or(Ok(()), |t| break_glass::ttl_seconds(t).map(drop)),
        ),
        (
            "permissions",
            c.permissions
                .known()
                .map_or(Ok(()), |p| break_glass::permissions(p).map(drop)),
        ),
    ];
    for (attr, r) in rules {
        if let Err(e) = r {
            diags.push(store_diag(&format!("Invalid {attr}"), &e).at(AttrPath::attr(attr)));
        }
    }
    if c.key_ids.is_null() && c.instance_id.is_null() {
        diags.push(Diagnostic::attr_error(
            "key_ids",
            "Missing scope",
            "a grant needs a scope: set key_ids, instance_id or both",
        ));
    }
}

/// The first attribute fixed for the life of a grant that the plan
/// changes (a ttl spelled differently for the same length is not a
/// change: the prior spelling is kept in `planned`).
fn changed_fixed(prior: &GrantArgs, p: &GrantConfig, planned: &mut Value) -> Option<&'static str> {
    let secs = |t: Option<&String>| t.and_then(|t| break_glass::ttl_seconds(t).ok());
    let ttl_changed = p.ttl.changes(Some(&prior.ttl));
    let same_length = secs(p.ttl.known()) == secs(Some(&prior.ttl));
    if ttl_changed && same_length {
        planned.set("ttl", prior.ttl.to_value());
    }
    let fixed = [
        ("principal", p.principal.changes(Some(&prior.principal))),
        ("key_ids", p.key_ids.changes(prior.key_ids.as_ref())),
        (
            "instance_id",
            p.instance_id.changes(prior.instance_id.as_ref()),
        ),
        (
            "permissions",
            p.permissions.changes(Some(&prior.permissions)),
        ),
        ("ttl", ttl_changed && !same_length),
        ("reason", p.reason.changes(prior.reason.as_ref())),
        (
            "credential_key_id",
            prior.credential_key_id.is_some()
                && p.credential_key_id
                    .changes(prior.credential_key_id.as_ref()),
        ),
    ];
    fixed.into_iter().find(|(_, c)| *c).map(|(a, _)| a)
}

impl Resource<ProviderCtx> for BreakGlassResource {
    fn type_name(&self) -> &'static str {
        "keyshift_break_glass"
    }

    fn schema(&self) -> Schema {
        Schema {
            version: 0,
            description: "Break glass: a time-bound emergency grant bound to a change request. Apply records the grant and issues a one-time credential into a store secret (`credential_secret_id`; the credential never reaches state or plans); destroy repairs glass (revokes the grant, destroys the credential secret). The grant expires on its own at `ttl`: a refresh then shows `status = \"expired\"`, the plan stays clean and nothing is re-issued; breaking glass again takes a new `change_request`. When a repair cannot finish, destroy fails saying so and the grant stays revoked with a pending repair (`keyshift break-glass list --pending`, `keyshift break-glass repair ID`).",
            attributes: attributes(),
        }
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let (c, mut diags) = GrantConfig::from_value_partial(config);
        check_known(&c, &mut diags);
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut resp = default_plan(&self.schema(), req);
        if req.is_destroy() {
            return Ok(resp);
        }
        let planned = GrantConfig::from_value(&resp.planned)?;
        if req.is_create() || !resp.requires_replace.is_empty() {
            if planned.grant_known() {
                let grant = GrantArgs::from_value(&resp.planned)?.new_grant()?;
                ctx.kms
                    .check_new_grant(&grant)
                    .map_err(|e| vec![store_diag("Cannot break glass", &e)])?;
            }
            return Ok(resp);
        }
        let prior = GrantModel::from_value(&req.prior)?;
        if let Some(attr) = changed_fixed(&prior.args, &planned, &mut resp.planned) {
            let d = fixed_diag(&prior, req.prior.get("status").as_str(), attr, true);
            resp.warnings.push(d);
        }
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        if req.is_destroy() {
            let prior = GrantModel::from_value(&req.prior)?;
            return match ctx.kms.repair_glass(&prior.id) {
                Ok(_) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(vec![store_diag("Repair glass did not finish", &e)]),
            };
        }
        let p = GrantArgs::from_value(&req.planned)?;
        let g = if req.is_create() {
            ctx.kms.break_glass(&p.new_grant()?)
        } else {
            let prior = GrantModel::from_value(&req.prior)?;
            let planned = GrantConfig::from_value(&req.planned)?;
            if let Some(attr) = changed_fixed(&prior.args, &planned, &mut req.planned.clone()) {
                let status = req.prior.get("status").as_str();
                return Err(vec![fixed_diag(&prior, status, attr, false)]);
            }
            ctx.kms.grant(&prior.id)
        }
        .map_err(|e| vec![store_diag("Cannot break glass", &e)])?;
        Ok(grant_state(&g, Some(&p), p.credential_key_id.clone()))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        let prior = GrantModel::from_value(state)?;
        match ctx.kms.grant(&prior.id) {
            Ok(g) => {
                let key = prior.args.credential_key_id.clone();
                Ok(grant_state(&g, Some(&prior.args), key))
            }
            Err(StoreError::NotFound { .. }) => Ok(Value::Null),
            Err(e) => Err(vec![store_diag("Cannot read break-glass grant", &e)]),
        }
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, Diagnostics> {
        let g = ctx
            .kms
            .grant(id)
            .map_err(|e| vec![store_diag("Cannot import break-glass grant", &e)])?;
        Ok(grant_state(&g, None, credential_key(ctx, &g)))
    }
}

/// The refusal of a change to fixed attribute `attr` of grant `prior`
/// (whose `status` the prior state gives): a warning in the plan, the
/// error of the apply (which changes nothing).
fn fixed_diag(prior: &GrantModel, status: Option<&str>, attr: &str, plan: bool) -> Diagnostic {
    let status = status.map(|s| format!(", now {s}")).unwrap_or_default();
    let detail = format!(
        "grant {} was broken for {}{status} and is fixed: {attr} cannot change. {} To break \
         glass again with a different {attr}, use a new change_request; to repair glass, \
         destroy the grant (a pending change does not block terraform destroy).",
        prior.id,
        prior.args.change_request,
        match plan {
            true => "Applying this plan will fail on this grant and change nothing.",
            false => "Nothing was changed.",
        }
    );
    let mut d = Diagnostic::attr_error(attr, "A break-glass grant cannot be changed", detail);
    if plan {
        d.severity = crate::framework::Severity::Warning;
    }
    d
}

/// The key sealing a grant's credential secret (none once it is destroyed).
fn credential_key(ctx: &ProviderCtx, g: &Grant) -> Option<String> {
    let secret = g
        .record
        .credential_secret_id
        .as_deref()
        .and_then(|s| ctx.kms.get_secret(s).ok());
    secret.map(|s| s.encryption_key_id)
}

#[cfg(test)]
#[path = "break_glass_tests.rs"]
mod tests;
