//! `keyshift_break_glass`: an emergency grant bound to a change request.
//!
//! Create = break glass, destroy = repair glass (both in
//! `engine/break_glass.rs`). The credential is issued into a store secret;
//! state holds only that secret's id. A grant is fixed once broken: a new
//! `change_request` replaces it (a new grant), and changing anything else
//! under the same change request is refused at plan. Expiry changes only the
//! computed `status` (read from the store on refresh), so an expired grant
//! leaves the plan clean and is never re-issued.

use super::ProviderCtx;
use super::common::{object, store_diag, str_or, text_value};
use crate::engine::break_glass::{self, Grant, NewGrant};
use crate::framework::{
    ApplyRequest, AttrPath, AttrType, Attribute, Diagnostic, Diagnostics, PlanRequest,
    PlanResponse, Resource, Schema, Value, default_plan,
};
use crate::store::StoreError;

/// The `keyshift_break_glass` resource type.
pub struct BreakGlassResource;

/// Attributes fixed for the life of a grant (changing one under the same
/// change request is refused).
const FIXED: [&str; 7] = [
    "principal",
    "key_ids",
    "instance_id",
    "permissions",
    "ttl",
    "reason",
    "credential_key_id",
];

fn attributes() -> Vec<Attribute> {
    use AttrType::String as Str;
    use Attribute as A;
    vec![
        A::computed("id", Str, "Grant id, `bg-` followed by 16 hex digits."),
        A::required("change_request", Str, "The change request that authorises breaking glass: `CHG` followed by 7 to 10 digits (e.g. `CHG0030001`). A change request breaks glass once per principal; changing it means a new grant (replacement: the old one is repaired, a new credential issued).").force_new(),
        A::required("principal", Str, "Who the grant is for (e.g. the on-call engineer)."),
        A::optional("key_ids", AttrType::string_set(), "Keys in scope. Set `key_ids`, `instance_id` or both."),
        A::optional("instance_id", Str, "Every key of this KMS instance is in scope."),
        A::required("permissions", AttrType::string_set(), "Operations the credential allows: any of `encrypt`, `decrypt`, `sign`, `verify`."),
        A::required("ttl", Str, "How long the grant lasts: `h`, `m`, `s` parts such as `90s`, `30m`, `1h30m`; 1 second to 24 hours. The grant expires on its own when it ends."),
        A::optional("reason", Str, "Why glass is broken (up to 1024 characters)."),
        A::required("credential_key_id", Str, "An `Enabled` `AES_256` key sealing the credential secret; the secret lives in this key's container."),
        A::computed("status", Str, "`active`, `expired` (past `expires_at`, whether or not it was destroyed) or `revoked` (repaired). Read from the store on every refresh; an expired grant is never re-issued."),
        A::computed("expires_at", Str, "RFC 3339 time from which the grant is expired."),
        A::computed("credential_secret_id", Str, "The store secret holding the one-time credential (fetch it with `keyshift break-glass credential ID`); null once repaired. The credential itself never reaches state or plans."),
    ]
}

fn set_of(items: &[String]) -> Value {
    Value::Set(items.iter().map(Value::string).collect())
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Set(xs) | Value::List(xs) => xs
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The state of `g`; `shape` (prior or planned) supplies what the grant
/// does not record in the user's words (`ttl` text, `credential_key_id`).
fn grant_state(g: &Grant, shape: &Value) -> Value {
    let r = &g.record;
    let key_ids = if r.key_ids.is_empty() && shape.get("key_ids").is_null() {
        Value::Null
    } else {
        set_of(&r.key_ids)
    };
    object(vec![
        ("id", Value::string(&r.id)),
        ("change_request", Value::string(&r.change_request)),
        ("principal", Value::string(&r.principal)),
        ("key_ids", key_ids),
        ("instance_id", Value::opt_string(r.instance_id.as_deref())),
        ("permissions", set_of(&r.permissions)),
        ("ttl", ttl_value(g, shape.get("ttl"))),
        ("reason", text_value(&r.reason, shape.get("reason"))),
        ("credential_key_id", shape.get("credential_key_id").clone()),
        ("status", Value::string(g.status.as_str())),
        ("expires_at", Value::string(&r.expires_at)),
        (
            "credential_secret_id",
            Value::opt_string(r.credential_secret_id.as_deref()),
        ),
    ])
}

/// The configured ttl text when it names the grant's length, else seconds.
fn ttl_value(g: &Grant, shape: &Value) -> Value {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    };
    let secs = match (parse(&g.record.created_at), parse(&g.record.expires_at)) {
        (Some(a), Some(b)) => (b - a).whole_seconds(),
        _ => 0,
    };
    match shape.as_str() {
        Some(t) if break_glass::ttl_seconds(t).ok() == Some(secs) => shape.clone(),
        _ => Value::string(format!("{secs}s")),
    }
}

fn new_grant(v: &Value) -> NewGrant {
    NewGrant {
        change_request: str_or(v, "change_request", ""),
        principal: str_or(v, "principal", ""),
        key_ids: strings(v.get("key_ids")),
        instance_id: v.get("instance_id").as_str().map(str::to_string),
        permissions: strings(v.get("permissions")),
        ttl: str_or(v, "ttl", ""),
        reason: str_or(v, "reason", ""),
        credential_key_id: str_or(v, "credential_key_id", ""),
    }
}

fn check_known(config: &Value, diags: &mut Diagnostics) {
    let rules: [(&str, Result<(), StoreError>); 3] = [
        (
            "change_request",
            config
                .get("change_request")
                .as_str()
                .map_or(Ok(()), break_glass::change_request),
        ),
        (
            "ttl",
            config
                .get("ttl")
                .as_str()
                .map_or(Ok(()), |t| break_glass::ttl_seconds(t).map(drop)),
        ),
        (
            "permissions",
            if config.get("permissions").is_wholly_known() && !config.get("permissions").is_null() {
                break_glass::permissions(&strings(config.get("permissions"))).map(drop)
            } else {
                Ok(())
            },
        ),
    ];
    for (attr, r) in rules {
        if let Err(e) = r {
            diags.push(store_diag(&format!("Invalid {attr}"), &e).at(AttrPath::attr(attr)));
        }
    }
    if config.get("key_ids").is_null() && config.get("instance_id").is_null() {
        diags.push(Diagnostic::attr_error(
            "key_ids",
            "Missing scope",
            "a grant needs a scope: set key_ids, instance_id or both",
        ));
    }
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
        let mut diags = Vec::new();
        check_known(config, &mut diags);
        diags
    }

    fn plan(&self, ctx: &ProviderCtx, req: &PlanRequest) -> Result<PlanResponse, Diagnostics> {
        let mut resp = default_plan(&self.schema(), req);
        if req.is_destroy() {
            return Ok(resp);
        }
        if req.is_create() || !resp.requires_replace.is_empty() {
            let known = [
                "change_request",
                "principal",
                "key_ids",
                "instance_id",
                "permissions",
                "ttl",
                "credential_key_id",
            ]
            .iter()
            .all(|a| resp.planned.get(a).is_wholly_known());
            if known {
                ctx.kms
                    .check_new_grant(&new_grant(&resp.planned))
                    .map_err(|e| vec![store_diag("Cannot break glass", &e)])?;
            }
            return Ok(resp);
        }
        let prior = &req.prior;
        for attr in FIXED {
            let (before, after) = (prior.get(attr), resp.planned.get(attr));
            let same_ttl = attr == "ttl"
                && before
                    .as_str()
                    .and_then(|t| break_glass::ttl_seconds(t).ok())
                    == after
                        .as_str()
                        .and_then(|t| break_glass::ttl_seconds(t).ok());
            if before.is_null() && attr == "credential_key_id" || before == after {
                continue;
            }
            if same_ttl {
                resp.planned.set(attr, before.clone());
                continue;
            }
            return Err(vec![Diagnostic::attr_error(
                attr,
                "A break-glass grant cannot be changed",
                format!(
                    "grant {} was broken for {} and is fixed; to break glass again with a different {attr}, use a new change_request",
                    str_or(prior, "id", "?"),
                    str_or(prior, "change_request", "?")
                ),
            )]);
        }
        Ok(resp)
    }

    fn apply(&self, ctx: &ProviderCtx, req: &ApplyRequest) -> Result<Value, Diagnostics> {
        let p = &req.planned;
        if req.is_destroy() {
            return match ctx.kms.repair_glass(&str_or(&req.prior, "id", "")) {
                Ok(_) | Err(StoreError::NotFound { .. }) => Ok(Value::Null),
                Err(e) => Err(vec![store_diag("Repair glass did not finish", &e)]),
            };
        }
        let g = if req.is_create() {
            ctx.kms.break_glass(&new_grant(p))
        } else {
            ctx.kms.grant(&str_or(&req.prior, "id", ""))
        }
        .map_err(|e| vec![store_diag("Cannot break glass", &e)])?;
        Ok(grant_state(&g, p))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Value, Diagnostics> {
        match ctx.kms.grant(&str_or(state, "id", "")) {
            Ok(g) => Ok(grant_state(&g, state)),
            Err(StoreError::NotFound { .. }) => Ok(Value::Null),
            Err(e) => Err(vec![store_diag("Cannot read break-glass grant", &e)]),
        }
    }

    fn import(&self, ctx: &ProviderCtx, id: &str) -> Result<Value, Diagnostics> {
        let g = ctx
            .kms
            .grant(id)
            .map_err(|e| vec![store_diag("Cannot import break-glass grant", &e)])?;
        let shape = object(vec![("credential_key_id", credential_key(ctx, &g))]);
        Ok(grant_state(&g, &shape))
    }
}

/// The key sealing a grant's credential secret (null once it is destroyed).
fn credential_key(ctx: &ProviderCtx, g: &Grant) -> Value {
    let secret = g
        .record
        .credential_secret_id
        .as_deref()
        .and_then(|s| ctx.kms.get_secret(s).ok());
    Value::opt_string(secret.map(|s| s.encryption_key_id))
}

#[cfg(test)]
#[path = "break_glass_tests.rs"]
mod tests;
