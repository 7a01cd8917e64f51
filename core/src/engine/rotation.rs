//! Key rotation: which keys can ever rotate, when a key is due, and the
//! rotation itself (on demand, or every due key in one run).
//!
//! - [`check_rotatable`] is the one rule saying whether a key can get a new
//!   version; plan-time validation of `rotation_interval`, the engine's
//!   create/update of an interval, [`Kms::rotate_key`] and [`Kms::rotate_due`]
//!   all use it.
//! - A key's schedule starts at its last rotation (the creation time of its
//!   newest version, when it has more than one) or, before the first
//!   rotation, at its creation. It is due once `rotation_interval` has passed
//!   since then ([`due`], which takes the time as a parameter).
//! - Only `Enabled` keys rotate. A disabled key waits and rotates on the
//!   first run after it is enabled again; a key pending deletion is left
//!   alone; a container held by a migration pauses rotation until the
//!   migration ends.
//! - Rotation adds a version with fresh material and makes it current: new
//!   data uses it, every older version still decrypts what it encrypted.

use std::ops::RangeInclusive;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::kms::{Kms, now, rfc3339, unlocked_container};
use super::kms_keys::{load_key, new_version_id};
use crate::store::crypto::{seal, version_aad};
use crate::store::keygen::{self, Material};
use crate::store::{
    Key, KeyOrigin, KeySpec, KeyState, SealedVersion, StoreError, StoreResult, StoreTx, read_with,
};

/// Accepted rotation intervals in seconds: 7 to 365 days.
pub const INTERVAL_SECONDS: RangeInclusive<i64> = 7 * 86_400..=365 * 86_400;

/// Why a key can never get a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotRotatable {
    /// RSA and EC keys keep one key pair: a new version would change the
    /// public key that verifiers and encrypters hold.
    #[error("{0} keys do not rotate: only AES_256 keys get new versions")]
    Asymmetric(KeySpec),
    /// The store cannot make new material for imported (BYOK) keys.
    #[error(
        "the key's material is imported (origin EXTERNAL): the store cannot generate new material for it"
    )]
    Imported,
    /// Only multi-version keys can hold a second version.
    #[error("the key is single-version: only keys with multi_version = true get new versions")]
    SingleVersion,
}

impl NotRotatable {
    /// The key attribute that rules rotation out.
    pub fn attribute(self) -> &'static str {
        match self {
            NotRotatable::Asymmetric(_) => "spec",
            NotRotatable::Imported => "origin",
            NotRotatable::SingleVersion => "multi_version",
        }
    }
}

/// The rotation rule: a key can get new versions only if it is an
/// `AES_256`, store-generated (`KMS` origin), multi-version key.
pub fn check_rotatable(
    spec: KeySpec,
    origin: KeyOrigin,
    multi_version: bool,
) -> Result<(), NotRotatable> {
    if spec != KeySpec::Aes256 {
        return Err(NotRotatable::Asymmetric(spec));
    }
    if origin == KeyOrigin::External {
        return Err(NotRotatable::Imported);
    }
    if !multi_version {
        return Err(NotRotatable::SingleVersion);
    }
    Ok(())
}

fn invalid_interval(message: String) -> StoreError {
    StoreError::Invalid {
        field: "rotation_interval",
        message,
    }
}

/// Parses a rotation interval (7 to 365 days) written as a duration
/// ([`super::duration`]: `30d`, `720h`, `604800s`, `1d12h`);
/// `Invalid { field: "rotation_interval" }` otherwise.
pub fn parse_interval(s: &str) -> StoreResult<Duration> {
    match super::duration::seconds(s) {
        Some(n) if INTERVAL_SECONDS.contains(&n) => Ok(Duration::seconds(n)),
        _ => Err(invalid_interval(format!(
            "{s:?} is not an interval from 7 to 365 days written like 30d, 720h or 604800s"
        ))),
    }
}

/// A `rotation_interval` for a key of this shape: a valid interval on a key
/// that can rotate. The error is `Invalid { field: "rotation_interval" }`
/// and says why (the same rule as [`check_rotatable`]).
pub fn check_interval(
    interval: &str,
    spec: KeySpec,
    origin: KeyOrigin,
    multi_version: bool,
) -> StoreResult<Duration> {
    let d = parse_interval(interval)?;
    check_rotatable(spec, origin, multi_version).map_err(|why| {
        invalid_interval(format!(
            "a key with rotation_interval must be able to rotate, and this one never can: {why}"
        ))
    })?;
    Ok(d)
}

/// The current time (whole seconds, UTC), as the engine stamps it.
pub fn current_time() -> OffsetDateTime {
    now()
}

/// Parses an RFC 3339 time (e.g. `2027-01-31T00:00:00Z`); `what` names the
/// input in the `Invalid` error.
pub fn parse_time(what: &'static str, s: &str) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| StoreError::Invalid {
        field: what,
        message: format!("{s:?} is not an RFC 3339 time like 2027-01-31T00:00:00Z: {e}"),
    })
}

/// RFC 3339 rendering, in UTC (the form the store writes).
pub fn format_time(t: OffsetDateTime) -> String {
    rfc3339(t.to_offset(time::UtcOffset::UTC)).unwrap_or_default()
}

/// When the key's schedule starts: its last rotation, else its creation.
fn schedule_base(key: &Key) -> StoreResult<OffsetDateTime> {
    let at = key
        .last_rotation_date
        .as_deref()
        .unwrap_or(&key.creation_date);
    OffsetDateTime::parse(at, &Rfc3339).map_err(|e| {
        StoreError::database(format!("key {} has an unreadable date {at:?}: {e}", key.id))
    })
}

/// Last rotation (or creation) plus the interval; `None` without one.
fn scheduled_at(key: &Key) -> StoreResult<Option<OffsetDateTime>> {
    let Some(interval) = key.rotation_interval.as_deref() else {
        return Ok(None);
    };
    let d = parse_interval(interval)?;
    schedule_base(key)?
        .checked_add(d)
        .map(Some)
        .ok_or_else(|| StoreError::database(format!("key {}: rotation date out of range", key.id)))
}

/// When the key is next due for rotation: `None` without an interval or
/// when the key can never rotate. May be in the past (overdue).
pub fn next_rotation(key: &Key) -> StoreResult<Option<OffsetDateTime>> {
    if check_rotatable(key.spec, key.origin, key.multi_version).is_err() {
        return Ok(None);
    }
    scheduled_at(key)
}

/// Where a key stands against its rotation schedule at some time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// No `rotation_interval`, or the key is pending deletion.
    Unscheduled,
    /// The key has an interval but can never rotate (an interval stored
    /// before the rule was enforced): a defect to report.
    Never(NotRotatable),
    /// Not yet: the next rotation is at this time.
    NotYet(OffsetDateTime),
    /// Due since this time, but the key is not `Enabled`: rotation waits.
    Paused(OffsetDateTime, KeyState),
    /// Due since this time: rotate now.
    Now(OffsetDateTime),
}

/// The due rule: whether `key` must rotate at `now`.
pub fn due(key: &Key, now: OffsetDateTime) -> StoreResult<Due> {
    if key.rotation_interval.is_none() || key.state == KeyState::PendingDeletion {
        return Ok(Due::Unscheduled);
    }
    if let Err(why) = check_rotatable(key.spec, key.origin, key.multi_version) {
        return Ok(Due::Never(why));
    }
    let Some(at) = scheduled_at(key)? else {
        return Ok(Due::Unscheduled);
    };
    Ok(if now < at {
        Due::NotYet(at)
    } else if key.state != KeyState::Enabled {
        Due::Paused(at, key.state)
    } else {
        Due::Now(at)
    })
}

/// One key of a [`Kms::rotate_due`] run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueKey {
    /// The key id.
    pub key_id: String,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// Since when it is due (RFC 3339), when that could be computed.
    pub due_since: Option<String>,
    /// What happened.
    pub outcome: DueOutcome,
}

/// What a [`Kms::rotate_due`] run did with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueOutcome {
    /// A new version was added and made current.
    Rotated {
        /// The new current version id.
        version_id: String,
        /// Versions the key now holds.
        version_count: i64,
    },
    /// Dry run: the key would be rotated.
    WouldRotate,
    /// Due, but rotation waits (disabled key, migration in progress, or
    /// rotated by someone else meanwhile); not a failure.
    Skipped(String),
    /// The key could not be rotated.
    Failed(String),
}

impl DueOutcome {
    /// Whether this counts as a failure of the run.
    pub fn is_failure(&self) -> bool {
        matches!(self, DueOutcome::Failed(_))
    }
}

impl Kms {
    /// Rotates a key (by id or `alias/...`) on demand: a new version with
    /// fresh material becomes current; older versions keep decrypting.
    /// `Conflict` for a key that cannot rotate ([`check_rotatable`]) or is
    /// not `Enabled`.
    pub fn rotate_key(&self, id_or_alias: &str) -> StoreResult<Key> {
        let key = self.resolve_key(id_or_alias)?;
        let (vid, material) = (new_version_id(), keygen::generate(key.spec)?);
        self.mutate("key.rotate", &key.id, |tx, detail| {
            let mut k = load_key(&*tx, &key.id)?;
            let seq = self.add_version(tx, &mut k, &vid, &material)?;
            *detail = format!("version {seq}");
            load_key(&*tx, &key.id)
        })
    }

    /// Rotates `id` if it is still due at `now` (checked in the same
    /// transaction, so two runs never rotate one key twice). `Ok(None)`:
    /// no longer due, unchanged.
    fn rotate_if_due(&self, id: &str, now: OffsetDateTime) -> StoreResult<Option<Key>> {
        let (vid, material) = (new_version_id(), keygen::generate(KeySpec::Aes256)?);
        self.mutate("key.rotate", id, |tx, detail| {
            let mut k = load_key(&*tx, id)?;
            let Due::Now(since) = due(&k, now)? else {
                *detail = "scheduled: no longer due, unchanged".into();
                return Ok(None);
            };
            let seq = self.add_version(tx, &mut k, &vid, &material)?;
            *detail = format!(
                "version {seq} (scheduled, due since {})",
                format_time(since)
            );
            load_key(&*tx, id).map(Some)
        })
    }

    /// Adds `material` as version `vid` of `key` and makes it current,
    /// under the rotation rule; returns the new version's sequence number.
    fn add_version(
        &self,
        tx: &mut dyn StoreTx,
        key: &mut Key,
        vid: &str,
        material: &Material,
    ) -> StoreResult<i64> {
        let rec = unlocked_container(&*tx, &key.container)?;
        let refuse =
            |why: String| StoreError::Conflict(format!("key {} cannot be rotated: {why}", key.id));
        check_rotatable(key.spec, key.origin, key.multi_version)
            .map_err(|why| refuse(why.to_string()))?;
        if key.state != KeyState::Enabled {
            return Err(refuse(format!("it is {}, not Enabled", key.state)));
        }
        let seq = tx.versions(&key.id)?.last().map_or(0, |v| v.seq) + 1;
        let sealed = seal(&self.root_key(&rec)?, &version_aad(&key.id, vid), material)?;
        tx.put_version(&SealedVersion {
            key_id: key.id.clone(),
            version_id: vid.to_string(),
            seq,
            created_at: rfc3339(now())?,
            sealed,
        })?;
        key.current_version = vid.to_string();
        tx.update_key(key)?;
        Ok(seq)
    }

    /// Rotates every key that is due at `now` ([`due`]), each in its own
    /// transaction; with `dry_run` nothing changes. Lists the keys that are
    /// due (rotated, would rotate, waiting) and those whose interval can
    /// never be honoured (failed); keys not due are left out.
    pub fn rotate_due(&self, now: OffsetDateTime, dry_run: bool) -> StoreResult<Vec<DueKey>> {
        let keys = read_with(&*self.store, |r| r.keys(None))?;
        let mut out = Vec::new();
        for key in keys {
            let (due_since, outcome) = match due(&key, now) {
                Ok(Due::Unscheduled | Due::NotYet(_)) => continue,
                Err(e) => (None, DueOutcome::Failed(e.to_string())),
                Ok(Due::Never(why)) => (
                    None,
                    DueOutcome::Failed(format!(
                        "has rotation_interval but can never rotate: {why}"
                    )),
                ),
                Ok(Due::Paused(since, state)) => (
                    Some(since),
                    DueOutcome::Skipped(format!(
                        "key is {state}: rotation waits until it is enabled"
                    )),
                ),
                Ok(Due::Now(since)) if dry_run => (Some(since), DueOutcome::WouldRotate),
                Ok(Due::Now(since)) => (Some(since), self.scheduled_rotation(&key.id, now)),
            };
            out.push(DueKey {
                key_id: key.id,
                aliases: key.aliases,
                due_since: due_since.map(format_time),
                outcome,
            });
        }
        Ok(out)
    }

    fn scheduled_rotation(&self, id: &str, now: OffsetDateTime) -> DueOutcome {
        match self.rotate_if_due(id, now) {
            Ok(Some(k)) => DueOutcome::Rotated {
                version_id: k.current_version,
                version_count: k.version_count,
            },
            Ok(None) => DueOutcome::Skipped("rotated meanwhile: no longer due".into()),
            Err(StoreError::MigrationInProgress { container, .. }) => DueOutcome::Skipped(format!(
                "a migration holds {container}: rotation resumes after it"
            )),
            Err(e) => DueOutcome::Failed(e.to_string()),
        }
    }

    /// Adds a version to any key, bypassing the rotation rule (tests that
    /// need a multi-version key of a spec that cannot rotate).
    #[cfg(test)]
    pub(crate) fn add_version_for_test(&self, id: &str) -> StoreResult<Key> {
        let spec = self.get_key(id)?.spec;
        let (vid, material) = (new_version_id(), keygen::generate(spec)?);
        self.mutate("key.test_version", id, |tx, _| {
            let key = load_key(&*tx, id)?;
            let rec = unlocked_container(&*tx, &key.container)?;
            let seq = tx.versions(id)?.last().map_or(0, |v| v.seq) + 1;
            let sealed = seal(&self.root_key(&rec)?, &version_aad(id, &vid), &material)?;
            tx.put_version(&SealedVersion {
                key_id: id.to_string(),
                version_id: vid.clone(),
                seq,
                created_at: rfc3339(now())?,
                sealed,
            })?;
            load_key(&*tx, id)
        })
    }
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;
