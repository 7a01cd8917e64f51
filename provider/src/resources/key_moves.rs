//! The placement side of `keyshift_key`'s plan and apply: a planned move
//! checked against the rules the apply enforces, the plan's warning about
//! the secrets a move carries (a key never leaves a container while secrets
//! there depend on it: see `key_dependents`), and whether an update moves.

use super::ProviderCtx;
use super::common::store_diag;
use super::key_model::KeyArgs;
use crate::engine::KeyMove;
use crate::engine::key_dependents::Dependents;
use crate::framework::{AttrPath, Diagnostic, Diagnostics, Value};
use crate::store::{Container, StoreError};

/// A planned move of key `id` to `target` must pass the rules the apply
/// enforces (`Kms::check_key_move`, one store read): the migration rule,
/// and room in `target` for the secrets the key carries. Returns the move.
pub(super) fn check_move(
    ctx: &ProviderCtx,
    id: &str,
    target: &Container,
) -> Result<KeyMove, Diagnostics> {
    ctx.kms
        .check_key_move(id, target, Dependents::Carry)
        .map_err(|e| match e {
            StoreError::Conflict(_)
            | StoreError::NotFound {
                kind: "instance", ..
            } => {
                vec![Diagnostic::attr_error(
                    "instance_id",
                    "Key cannot be migrated",
                    format!("moving key {id} to {target} is refused: {e}"),
                )]
            }
            e => vec![store_diag("Cannot plan key migration", &e)],
        })
}

/// The plan's warning for a move that carries secrets: which ones, and
/// what keeps their own plans clean.
pub(super) fn carried_warning(m: &KeyMove, target: &Container) -> Option<Diagnostic> {
    if m.carried.is_empty() {
        return None;
    }
    let from = &m.key.container;
    let names: Vec<String> = m
        .carried
        .iter()
        .map(|s| format!("{} ({})", s.name, s.id))
        .collect();
    Some(
        Diagnostic::warning(
            "Key move carries the secrets it encrypts",
            format!(
                "key {} moves from {from} to {target} together with the {} secret(s) of {from} \
                 it encrypts, in the same transaction: {}. A key never leaves a container while \
                 secrets there depend on it. A keyshift_secret managing one of them whose \
                 instance_id is unset, or references this key's instance_id, follows with a \
                 clean plan; one that sets instance_id to {from} must be changed to {target}.",
                m.key.id,
                m.carried.len(),
                names.join(", ")
            ),
        )
        .at(AttrPath::attr("instance_id")),
    )
}

/// Whether the planned `instance_id` names another container than the
/// prior state's (null and `"shared"` are the same container).
pub(super) fn moves(prior: &Value, planned: &KeyArgs) -> bool {
    let before = prior.get("instance_id").as_str();
    Container::from_instance_id(before)
        != Container::from_instance_id(planned.instance_id.as_deref())
}
