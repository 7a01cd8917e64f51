//! The records of a store → store move besides keys and secrets: the
//! instances (with or without keys), the EKMS configurations of the
//! containers involved and, with `--all`, every break-glass grant record.
//! `--all` takes the whole store; a run selected by pattern takes the
//! containers (instance and EKMS configuration) of the objects it selects.
//!
//! A record already in the target is left as it is (`InTarget`): an
//! instance with that id, an EKMS configuration with the same AWS key and
//! architecture, an identical grant. A record that cannot land is refused
//! with the reason: an instance whose name another instance has in the
//! target, or that is being deleted there (the keys and secrets of its
//! container are refused too); an EKMS configuration that differs from the
//! target's, or whose container the target wraps with another AWS key; a
//! grant whose credential secret is not copied (no `--include-secrets`) or
//! whose id the target uses for another grant.
//! Records never leave the source, not even with `--move`.

use super::ekms_wrapper::{ExternalKeyService, wrap_external};
use super::kms::{Kms, container_record, now, rfc3339};
use super::store_migrate::{Action, StoreMoveRequest};
use crate::store::crypto::SecretKey32;
use crate::store::{
    Container, ContainerRecord, EkmsConfig, GrantRecord, Instance, InstanceStatus, StoreError,
    StoreReader, StoreResult, WrappingStrategy, read_with, write_with,
};

/// The kind of a [`StoreRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A KMS instance (its container comes along).
    Instance,
    /// A container's EKMS configuration.
    EkmsConfig,
    /// A break-glass grant record.
    Grant,
}

impl RecordKind {
    /// The word used in output lines.
    pub fn word(self) -> &'static str {
        match self {
            RecordKind::Instance => "instance",
            RecordKind::EkmsConfig => "ekms configuration",
            RecordKind::Grant => "break-glass grant",
        }
    }
}

/// One record of a run and the decision about it (`Copy`, `InTarget` or
/// `Refuse`).
#[derive(Debug, Clone)]
pub struct StoreRecord {
    /// What it is.
    pub kind: RecordKind,
    /// The instance id, the configured container, or the grant id.
    pub id: String,
    /// The instance's name, the AWS key ARN, or the grant's change request.
    pub names: Vec<String>,
    /// The container it belongs to (a grant: `shared`).
    pub container: Container,
    /// What the run does with it.
    pub action: Action,
}

/// The records of a run over `containers` (and with `--all` the grants),
/// and the containers that land in the target (the others' objects are
/// refused with the reason, see [`refused_container`]).
pub(super) fn plan_records(
    source: &Kms,
    target: Option<&Kms>,
    req: &StoreMoveRequest,
    containers: &[Container],
) -> StoreResult<Vec<StoreRecord>> {
    let mut out = Vec::new();
    for c in containers {
        let (inst, ekms) = read_with(&*source.store, |r| {
            let inst = match c.instance_id() {
                Some(id) => r.instance(id)?,
                None => None,
            };
            Ok((inst, r.ekms_config(c)?))
        })?;
        if let Some(i) = inst {
            out.push(StoreRecord {
                kind: RecordKind::Instance,
                action: match target {
                    Some(t) => read_with(&*t.store, |r| instance_action(r, &i))?,
                    None => Action::Copy,
                },
                id: i.id,
                names: vec![i.name],
                container: c.clone(),
            });
        }
        if let Some(cfg) = ekms {
            let action = match target {
                Some(t) => read_with(&*t.store, |r| ekms_action(r, source, &cfg))?,
                None => Action::Copy,
            };
            out.push(StoreRecord {
                kind: RecordKind::EkmsConfig,
                id: c.to_string(),
                names: vec![cfg.key_arn],
                container: c.clone(),
                action,
            });
        }
    }
    if req.all {
        for g in read_with(&*source.store, |r| r.grants())? {
            let action = match target {
                Some(t) => read_with(&*t.store, |r| grant_action(r, req, &g))?,
                None => grant_action_new(req, &g),
            };
            out.push(StoreRecord {
                kind: RecordKind::Grant,
                id: g.id.clone(),
                names: vec![g.change_request.clone()],
                container: Container::Shared,
                action,
            });
        }
    }
    Ok(out)
}

/// Why objects of `c` cannot land: its instance record is refused (an
/// EKMS configuration that differs from the target's is refused alone:
/// the container's keys still land, resealed under its root key).
pub(super) fn refused_container(records: &[StoreRecord], c: &Container) -> Option<String> {
    records
        .iter()
        .filter(|r| r.kind == RecordKind::Instance && r.container == *c)
        .find_map(|r| match &r.action {
            Action::Refuse(why) => Some(format!("its {} is refused: {why}", r.kind.word())),
            _ => None,
        })
}

fn instance_action<R: StoreReader + ?Sized>(r: &R, i: &Instance) -> StoreResult<Action> {
    if let Some(there) = r.instance(&i.id)? {
        return Ok(if there.status == InstanceStatus::Deleting {
            Action::Refuse(format!(
                "instance {} is being deleted in the target store",
                i.id
            ))
        } else {
            Action::InTarget
        });
    }
    Ok(match r.instance_by_name(&i.name)? {
        Some(other) => Action::Refuse(format!(
            "instance {} is not in the target store and its name {} is taken there by {}",
            i.id, i.name, other.id
        )),
        None => Action::Copy,
    })
}

fn ekms_action<R: StoreReader + ?Sized>(
    r: &R,
    source: &Kms,
    cfg: &EkmsConfig,
) -> StoreResult<Action> {
    let c = &cfg.container;
    let Some(rec) = r.container(c)? else {
        return Ok(Action::Copy);
    };
    if let Some(there) = r.ekms_config(c)? {
        let same = there.key_arn == cfg.key_arn
            && there.architecture == cfg.architecture
            && there.allow_revert_to_internal == cfg.allow_revert_to_internal;
        return Ok(if same {
            Action::InTarget
        } else {
            Action::Refuse(format!(
                "{c} of the target store has another EKMS configuration (AWS key {})",
                there.key_arn
            ))
        });
    }
    let wrapping = read_with(&*source.store, |s| Ok(container_record(s, c)?.wrapping))?;
    let other_key = rec
        .external_key_arn
        .as_ref()
        .is_some_and(|a| *a != cfg.key_arn);
    Ok(if wrapping == WrappingStrategy::External && other_key {
        Action::Refuse(format!(
            "{c} of the target store is wrapped by another AWS key"
        ))
    } else {
        Action::Copy
    })
}

fn grant_action_new(req: &StoreMoveRequest, g: &GrantRecord) -> Action {
    match &g.credential_secret_id {
        Some(secret) if !req.include_secrets => Action::Refuse(format!(
            "its credential secret {secret} is not copied (add --include-secrets)"
        )),
        _ => Action::Copy,
    }
}

fn grant_action<R: StoreReader + ?Sized>(
    r: &R,
    req: &StoreMoveRequest,
    g: &GrantRecord,
) -> StoreResult<Action> {
    Ok(match r.grant(&g.id)? {
        Some(there) if there == *g => Action::InTarget,
        Some(_) => Action::Refuse(format!(
            "the target store holds another break-glass grant {}",
            g.id
        )),
        None => grant_action_new(req, g),
    })
}

/// Creates, in the target, every container of `containers` it lacks: the
/// instance record as in the source, a fresh root key (wrapped by the
/// target's master key, or by the source container's AWS key when that one
/// is externally wrapped) and the source's EKMS configuration. A container
/// the target already has gets the source's EKMS configuration when it has
/// none (its root key re-wrapped by that AWS key when the source's is).
pub(super) fn create_containers(
    source: &Kms,
    target: &Kms,
    containers: &[Container],
    keys: &dyn ExternalKeyService,
) -> StoreResult<()> {
    for c in containers {
        let (inst, src_rec, ekms) = read_with(&*source.store, |r| {
            let inst = match c.instance_id() {
                Some(id) => r.instance(id)?,
                None => None,
            };
            Ok((inst, container_record(r, c)?, r.ekms_config(c)?))
        })?;
        let there = read_with(&*target.store, |r| r.container(c))?;
        if let Some(rec) = there {
            if let Some(cfg) = &ekms {
                add_ekms(target, rec, &src_rec, cfg, keys)?;
            }
            continue;
        }
        let rec = new_record(target, &src_rec, ekms.as_ref(), keys)?;
        target.mutate("instance.import", &c.to_string(), |tx, detail| {
            if tx.container(c)?.is_some() {
                return Ok(());
            }
            if let Some(i) = &inst {
                tx.insert_instance(&Instance {
                    status: InstanceStatus::Active,
                    ..i.clone()
                })?;
            }
            tx.put_container(&rec)?;
            if let Some(cfg) = &ekms {
                tx.put_ekms_config(cfg)?;
            }
            *detail = format!("from store {}", source.store.location());
            Ok(())
        })?;
    }
    Ok(())
}

/// Gives the existing target container `rec` the source's EKMS
/// configuration `cfg` when it has none, re-wrapping its root key by the
/// AWS key when the source's root key is externally wrapped.
fn add_ekms(
    target: &Kms,
    rec: ContainerRecord,
    src: &ContainerRecord,
    cfg: &EkmsConfig,
    keys: &dyn ExternalKeyService,
) -> StoreResult<()> {
    let c = &src.container;
    let other_key = rec
        .external_key_arn
        .as_ref()
        .is_some_and(|a| *a != cfg.key_arn);
    // Refused by the plan (see `ekms_action`): left as the target has it.
    if other_key || read_with(&*target.store, |r| r.ekms_config(c))?.is_some() {
        return Ok(());
    }
    let before = rec.wrapped_root_key.clone();
    let mut rec = rec;
    if src.wrapping == WrappingStrategy::External && rec.wrapping == WrappingStrategy::Internal {
        let root = target.root_key(&rec)?;
        rec.wrapped_root_key = wrap_external(keys, &cfg.key_arn, &c.to_string(), &root)?;
        rec.wrapping = WrappingStrategy::External;
        rec.external_key_arn = Some(cfg.key_arn.clone());
    }
    target.mutate("ekms.import", &c.to_string(), |tx, detail| {
        if tx.ekms_config(c)?.is_some() {
            return Ok(());
        }
        let current = container_record(&*tx, c)?;
        if current.wrapped_root_key != before {
            return Err(StoreError::Conflict(format!(
                "the root key of {c} changed in the target store meanwhile"
            )));
        }
        tx.put_container(&ContainerRecord {
            migrating: current.migrating,
            ..rec.clone()
        })?;
        tx.put_ekms_config(cfg)?;
        *detail = format!("AWS key {}", cfg.key_arn);
        Ok(())
    })
}

/// A target container record with a fresh root key, wrapped like the
/// source's (see [`create_containers`]).
fn new_record(
    target: &Kms,
    src: &ContainerRecord,
    ekms: Option<&EkmsConfig>,
    keys: &dyn ExternalKeyService,
) -> StoreResult<ContainerRecord> {
    let c = &src.container;
    let root = SecretKey32::generate()?;
    let (wrapping, wrapped_root_key, external_key_arn) = match (src.wrapping, ekms) {
        (WrappingStrategy::External, Some(cfg)) => (
            WrappingStrategy::External,
            wrap_external(keys, &cfg.key_arn, &c.to_string(), &root)?,
            Some(cfg.key_arn.clone()),
        ),
        _ => (
            WrappingStrategy::Internal,
            target.internal.wrap(&c.to_string(), &root)?,
            None,
        ),
    };
    Ok(ContainerRecord {
        container: c.clone(),
        wrapping,
        wrapped_root_key,
        external_key_arn,
        migrating: false,
        created_at: rfc3339(now())?,
    })
}

/// Copies the grants `grants` into the target in one transaction (one
/// audit entry each); a grant whose credential secret is not in the target
/// fails. Returns, per grant, why it failed (`None`: copied).
pub(super) fn copy_grants(
    source: &Kms,
    target: &Kms,
    grants: &[&str],
    run_id: &str,
) -> StoreResult<Vec<Option<String>>> {
    let records: Vec<Option<GrantRecord>> = read_with(&*source.store, |r| {
        grants.iter().map(|id| r.grant(id)).collect()
    })?;
    let at = rfc3339(now())?;
    let from = source.store.location();
    write_with(&*target.store, |tx| {
        let mut out = Vec::with_capacity(records.len());
        for (id, g) in grants.iter().zip(&records) {
            let Some(g) = g else {
                out.push(Some(format!("grant {id} is no longer in the source store")));
                continue;
            };
            if let Some(s) = &g.credential_secret_id {
                if tx.secret(s)?.is_none() {
                    out.push(Some(format!(
                        "its credential secret {s} is not in the target store"
                    )));
                    continue;
                }
            }
            if tx.grant(&g.id)?.is_none() {
                tx.insert_grant(g)?;
            }
            let detail = format!("from store {from} (run {run_id})");
            tx.append_audit(&target.audit_entry(&at, "break_glass.import", &g.id, "ok", detail))?;
            out.push(None);
        }
        Ok(out)
    })
}
