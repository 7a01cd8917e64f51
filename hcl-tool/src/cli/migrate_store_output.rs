//! Output of a store → store move (`keyshift migrate --from-store A
//! --to-store B`): one line per record (instance, EKMS configuration,
//! break-glass grant) and per object (key, secret) saying what the run
//! does or did with it, a line counting what the run takes of each kind,
//! the summary, and the loud `--force` warning.

use crate::cli::CliError;
use crate::cli::migrate_output::{Counts, Line, Row, Status, write_line};
use keyshift_core::engine::migrate::ObjectKind;
use keyshift_core::engine::store_migrate::{
    Action, RecordKind, StoreCandidate, StoreOutcome, StorePlan, StoreRecord,
};
use keyshift_core::store::StoreLocation;
use std::io::Write;

fn line(status: Status, reason: Option<String>) -> Line {
    Line {
        status,
        reason,
        in_target: false,
    }
}

/// A dry run's line (`remove_source`: `--move`).
pub fn planned(c: &StoreCandidate, remove_source: bool) -> Line {
    match &c.action {
        Action::Copy => line(Status::WouldMigrate, None),
        Action::Replace {
            same_material: false,
        } => line(
            Status::WouldMigrate,
            Some("would replace the object in the target store (--force)".into()),
        ),
        Action::Replace {
            same_material: true,
        } => line(
            Status::WouldMigrate,
            Some(
                "would replace the metadata of the object in the target store (--force; same material)"
                    .into(),
            ),
        ),
        Action::InTarget => line(
            Status::WouldMigrate,
            Some(if remove_source {
                "an exact copy is already in the target store; would remove it from the source".into()
            } else {
                "an exact copy is already in the target store".into()
            }),
        ),
        Action::Resume => line(
            Status::Skipped,
            Some("an interrupted run already copied it".into()),
        ),
        Action::SkipIdentical => line(
            Status::Skipped,
            Some("an identical copy is already in the target store".into()),
        ),
        Action::Refuse(why) => line(Status::Refused, Some(why.clone())),
    }
}

/// A real run's line for candidate `c`.
pub fn done(c: &StoreCandidate, o: StoreOutcome) -> Line {
    let same_material = c.action
        == Action::Replace {
            same_material: true,
        };
    match o {
        StoreOutcome::Copied {
            replaced,
            resumed,
            present,
            removed,
            kept,
        } => {
            let notes: Vec<String> = [
                (replaced && !same_material)
                    .then(|| "replaced the object in the target store (--force)".to_string()),
                (replaced && same_material).then(|| {
                    "replaced the metadata of the object in the target store (--force; the material was identical)"
                        .to_string()
                }),
                resumed.then(|| "copied by an interrupted run".to_string()),
                present.then(|| "an exact copy was already in the target store".to_string()),
                removed.then(|| "removed from the source".to_string()),
                kept,
            ]
            .into_iter()
            .flatten()
            .collect();
            line(
                Status::Migrated,
                (!notes.is_empty()).then(|| notes.join("; ")),
            )
        }
        StoreOutcome::Skipped(why) => line(Status::Skipped, Some(why)),
        StoreOutcome::Refused(why) => line(Status::Refused, Some(why)),
        StoreOutcome::Failed(why) => line(Status::Failed, Some(why)),
    }
}

/// The loud warning of `--force`: one line on stderr per replaced object
/// whose material differed (an object whose material was identical loses
/// nothing: its line says so instead).
pub fn warn_replaced(plan: &StorePlan, lines: &[Line], to: &StoreLocation, dry_run: bool) {
    for (c, l) in plan.candidates.iter().zip(lines) {
        let gone = Action::Replace {
            same_material: false,
        };
        if c.action != gone || !matches!(l.status, Status::Migrated | Status::WouldMigrate) {
            continue;
        }
        let kind = match c.kind {
            ObjectKind::Key => "key",
            ObjectKind::Secret => "secret",
        };
        let names = if c.names.is_empty() {
            String::new()
        } else {
            format!(" ({})", c.names.join(", "))
        };
        let verb = if dry_run {
            "WOULD OVERWRITE"
        } else {
            "OVERWROTE"
        };
        eprintln!(
            "keyshift: WARNING: --force {verb} {kind} {}{names} in the target store {to} with the source's copy; the target's previous material for it is gone",
            c.id
        );
    }
}

/// A record's line, before (`dry_run`) or after the run.
pub fn record_line(r: &StoreRecord, o: Option<StoreOutcome>) -> Line {
    match (o, &r.action) {
        (Some(o), _) => match o {
            StoreOutcome::Copied { .. } => line(Status::Migrated, None),
            StoreOutcome::Skipped(why) => line(Status::Skipped, Some(why)),
            StoreOutcome::Refused(why) => line(Status::Refused, Some(why)),
            StoreOutcome::Failed(why) => line(Status::Failed, Some(why)),
        },
        (None, Action::Refuse(why)) => line(Status::Refused, Some(why.clone())),
        (None, Action::Copy) => line(Status::WouldMigrate, None),
        (None, _) => line(Status::Skipped, Some("already in the target store".into())),
    }
}

/// Everything a store move prints on standard output: the records' lines,
/// the objects' lines, what the run takes of each kind, and the summary
/// line starting with `heading` (the last line).
pub fn write_all(
    out: &mut dyn Write,
    plan: &StorePlan,
    (records, objects): (&[Line], &[Line]),
    rows: &[Row<'_>],
    (from, to): (&str, &str),
    (heading, dry_run): (&str, bool),
) -> Result<(), CliError> {
    let mut counts = Counts::default();
    for (r, l) in plan.records.iter().zip(records) {
        let names = format!(" ({})", r.names.join(", "));
        let reason = l.reason.as_deref().map(|x| format!(": {x}"));
        writeln!(
            out,
            "{:<13} {} {}{names} {from} -> {to}{}",
            l.status.word(),
            r.kind.word(),
            r.id,
            reason.unwrap_or_default()
        )?;
        counts.add(l);
    }
    for (row, l) in rows.iter().zip(objects) {
        write_line(out, row, l)?;
        counts.add(l);
    }
    writeln!(
        out,
        "{}{}",
        if dry_run { "dry run: " } else { "" },
        kinds(plan)
    )?;
    counts.write(out, heading, dry_run)?;
    Ok(())
}

/// `selected: N instance(s) (M without keys), …`: what the run takes of
/// each kind (instances, EKMS configurations, aliases, keys, secrets,
/// break-glass grants), whatever becomes of each.
pub fn kinds(plan: &StorePlan) -> String {
    let count = |k: RecordKind| plan.records.iter().filter(|r| r.kind == k).count();
    let keys: Vec<&StoreCandidate> = plan
        .candidates
        .iter()
        .filter(|c| c.kind == ObjectKind::Key)
        .collect();
    let empty = plan
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::Instance)
        .filter(|r| !keys.iter().any(|k| k.container == r.container))
        .count();
    let aliases: usize = keys.iter().map(|k| k.names.len()).sum();
    let secrets = plan.candidates.len() - keys.len();
    format!(
        "selected: {} instance(s) ({empty} without keys), {} EKMS configuration(s), {aliases} alias(es), {} key(s), {secrets} secret(s), {} break-glass grant(s)",
        count(RecordKind::Instance),
        count(RecordKind::EkmsConfig),
        keys.len(),
        count(RecordKind::Grant)
    )
}
