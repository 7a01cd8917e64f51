//! Break glass: time-bound emergency grants bound to a change request.
//!
//! Every rule lives here and is used by the Terraform resource and the CLI:
//!
//! - a grant names a change request (`CHG` + 7 to 10 digits), a principal,
//!   a scope (`key_ids` and/or every key of `instance_id`), permissions
//!   (`encrypt`, `decrypt`, `sign`, `verify`) and a ttl of 1 s to 24 h
//!   (written like every duration: `90s`, `30m`, `1h30m`, `1d`);
//! - breaking glass records the grant and issues a one-time credential into
//!   a secret of the store (`break-glass/<grant id>`, sealed by
//!   `credential_key_id`); the grant keeps only the credential's SHA-256;
//!   that secret is read only by the audited credential hand-out
//!   ([`Kms::grant_credential`]): every other read of it is refused (the
//!   rule is in `secret_read.rs`, which every value read goes through);
//! - a grant's status is derived from the clock on every read and use:
//!   `revoked` once repaired, `expired` from `expires_at` on, else `active`;
//!   an expired grant's credential is refused even before anyone repairs it;
//! - repair = revoke (recorded first, with a pending-repair note) and then
//!   destroy the credential secret; when the second step fails the grant
//!   stays revoked with its pending-repair note until a later repair
//!   finishes it;
//! - every break, credential read, use, refusal and repair is audited with
//!   its change request; never the credential.
//!
//! Using a credential, repair and the audit trail: `break_glass_use.rs`.

use sm2::elliptic_curve::zeroize::Zeroizing;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::engine::kms::{now, rfc3339};
use crate::engine::secret_read::CREDENTIAL_SECRET_PREFIX;
use crate::engine::{Kms, validate};
use crate::store::crypto::random_fill;
use crate::store::{
    Container, GrantRecord, NewSecret, SecretType, StoreError, StoreReader, StoreResult, read_with,
};

/// The longest ttl a grant may have.
pub const MAX_TTL_SECONDS: i64 = 24 * 3600;
/// The longest principal, in characters.
pub const PRINCIPAL_MAX: usize = 256;
/// The longest reason, in characters.
pub const REASON_MAX: usize = 1024;
/// Credentials start with this (then the grant id, a dot, 64 hex).
pub const CREDENTIAL_PREFIX: &str = "kbg1.";
/// How many of the newest audit entries [`Kms::break_glass_audit`] scans.
pub const AUDIT_LIMIT: usize = 100_000;
/// Audit actions of break glass.
pub const AUDIT_PREFIX: &str = "break_glass.";

/// An operation a grant may allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// `encrypt`
    Encrypt,
    /// `decrypt`
    Decrypt,
    /// `sign`
    Sign,
    /// `verify`
    Verify,
}

impl Permission {
    /// Every permission, in its canonical order.
    pub const ALL: [Permission; 4] = [Self::Encrypt, Self::Decrypt, Self::Sign, Self::Verify];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
            Self::Sign => "sign",
            Self::Verify => "verify",
        }
    }

    /// Parses a lowercase name (`Invalid { field: "permissions" }` otherwise).
    pub fn parse(s: &str) -> StoreResult<Permission> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| StoreError::Invalid {
                field: "permissions",
                message: format!("{s:?} is not a permission; use encrypt, decrypt, sign or verify"),
            })
    }
}

/// A grant's status at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    /// Usable.
    Active,
    /// Past `expires_at`.
    Expired,
    /// Repaired (revoked).
    Revoked,
}

impl GrantStatus {
    /// `active`, `expired` or `revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// What breaking glass asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    /// e.g. `CHG0030001`.
    pub change_request: String,
    /// Who gets the credential.
    pub principal: String,
    /// Keys in scope.
    pub key_ids: Vec<String>,
    /// Every key of this instance is in scope.
    pub instance_id: Option<String>,
    /// Permission names.
    pub permissions: Vec<String>,
    /// Duration text (`90s`, `30m`, `1h30m`).
    pub ttl: String,
    /// Why.
    pub reason: String,
    /// The AES_256 key that seals the credential secret (the secret lives
    /// in this key's container).
    pub credential_key_id: String,
}

/// A grant with its status evaluated at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The stored record.
    pub record: GrantRecord,
    /// Its status at the moment it was read.
    pub status: GrantStatus,
}

pub(super) fn invalid(field: &'static str, message: String) -> StoreError {
    StoreError::Invalid { field, message }
}

/// The change-request rule: `CHG` followed by 7 to 10 digits.
pub fn change_request(s: &str) -> StoreResult<()> {
    let digits = s.strip_prefix("CHG").unwrap_or("");
    if (7..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    Err(invalid(
        "change_request",
        format!(
            "{s:?} is not a change request number; expected CHG followed by 7 to 10 digits, e.g. CHG0030001"
        ),
    ))
}

/// The ttl rule: a duration ([`super::duration`]: `90s`, `30m`, `1h30m`,
/// `1d`) of 1 s to 24 h. Returns seconds.
pub fn ttl_seconds(s: &str) -> StoreResult<i64> {
    let bad = |why: &str| {
        invalid(
            "ttl",
            format!("{s:?} {why}; use e.g. 90s, 30m, 1h30m or 1d (at most 24h)"),
        )
    };
    let total = super::duration::seconds(s)
        .ok_or_else(|| bad("is not a duration (numbers with units d, h, m or s, largest first)"))?;
    if !(1..=MAX_TTL_SECONDS).contains(&total) {
        return Err(bad("is out of range"));
    }
    Ok(total)
}

/// The permissions rule: at least one, each known; returns them sorted
/// and without duplicates.
pub fn permissions(names: &[String]) -> StoreResult<Vec<Permission>> {
    let mut out = names
        .iter()
        .map(|n| Permission::parse(n))
        .collect::<StoreResult<Vec<_>>>()?;
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(invalid(
            "permissions",
            "a grant needs at least one permission".into(),
        ));
    }
    Ok(out)
}

/// The scope rule (shape only): `key_ids` and/or `instance_id`.
pub fn scope(key_ids: &[String], instance_id: Option<&str>) -> StoreResult<()> {
    if key_ids.is_empty() && instance_id.is_none() {
        return Err(invalid(
            "key_ids",
            "a grant needs a scope: key_ids, instance_id or both".into(),
        ));
    }
    if let Some(k) = key_ids.iter().find(|k| k.trim().is_empty()) {
        return Err(invalid("key_ids", format!("{k:?} is not a key id")));
    }
    Ok(())
}

pub(super) fn parse_time(s: &str) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| StoreError::database(format!("corrupt grant time {s:?}: {e}")))
}

/// A grant's status at `at`.
pub fn status_at(g: &GrantRecord, at: OffsetDateTime) -> StoreResult<GrantStatus> {
    if g.revoked_at.is_some() {
        return Ok(GrantStatus::Revoked);
    }
    if at >= parse_time(&g.expires_at)? {
        return Ok(GrantStatus::Expired);
    }
    Ok(GrantStatus::Active)
}

/// The use rule: may credential holder of `g` do `perm` with `key_id`
/// (living in `key_container`) at `at`? `Err(GrantRefused)` says which rule.
pub fn allows(
    g: &GrantRecord,
    perm: Permission,
    key_id: &str,
    key_container: &Container,
    at: OffsetDateTime,
) -> StoreResult<()> {
    let refuse = |why: String| StoreError::GrantRefused {
        grant: g.id.clone(),
        why,
    };
    match status_at(g, at)? {
        GrantStatus::Revoked => {
            return Err(refuse("the grant was revoked (glass repaired)".into()));
        }
        GrantStatus::Expired => {
            return Err(refuse(format!("the grant expired at {}", g.expires_at)));
        }
        GrantStatus::Active => {}
    }
    if !g.permissions.iter().any(|p| p == perm.as_str()) {
        return Err(refuse(format!(
            "permission {} is not granted (granted: {})",
            perm.as_str(),
            g.permissions.join(", ")
        )));
    }
    let in_instance = g
        .instance_id
        .as_deref()
        .is_some_and(|i| key_container.instance_id() == Some(i));
    if !in_instance && !g.key_ids.iter().any(|k| k == key_id) {
        return Err(refuse(format!("key {key_id} is out of the grant's scope")));
    }
    Ok(())
}

pub(super) fn digest(credential: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, credential.as_bytes())
        .as_ref()
        .to_vec()
}

/// The grant id a credential names (its shape only).
pub(super) fn credential_grant_id(credential: &str) -> Option<&str> {
    let rest = credential.trim().strip_prefix(CREDENTIAL_PREFIX)?;
    let (id, secret) = rest.split_once('.')?;
    (id.starts_with("bg-") && secret.len() == 64).then_some(id)
}

pub(super) fn load_grant<R: StoreReader + ?Sized>(r: &R, id: &str) -> StoreResult<GrantRecord> {
    r.grant(id)?.ok_or_else(|| StoreError::NotFound {
        kind: "break-glass grant",
        id: id.to_string(),
    })
}

/// The principal rule: an identifier (printable, no control characters,
/// no surrounding whitespace) of at most [`PRINCIPAL_MAX`] characters.
pub fn principal(s: &str) -> StoreResult<()> {
    validate::identifier("principal", s, PRINCIPAL_MAX)
}

/// The reason rule: free text of at most [`REASON_MAX`] characters (line
/// breaks and tabs allowed, other control characters not).
pub fn reason(s: &str) -> StoreResult<()> {
    validate::free_text("reason", s, REASON_MAX)
}

/// The input rules of a new grant; returns its permissions and ttl (s).
fn check_input(new: &NewGrant) -> StoreResult<(Vec<Permission>, i64)> {
    change_request(&new.change_request)?;
    principal(&new.principal)?;
    scope(&new.key_ids, new.instance_id.as_deref())?;
    let perms = permissions(&new.permissions)?;
    let ttl = ttl_seconds(&new.ttl)?;
    reason(&new.reason)?;
    Ok((perms, ttl))
}

/// The keys and the instance in scope exist.
fn scope_exists<R: StoreReader + ?Sized>(r: &R, new: &NewGrant) -> StoreResult<()> {
    for k in &new.key_ids {
        super::kms_keys::load_key(r, k)?;
    }
    if let Some(i) = &new.instance_id {
        super::kms::load_instance(r, i)?;
    }
    Ok(())
}

/// The start of every break-glass audit detail: `change_request=CHG…
/// principal=…`, the principal quoted as a JSON string unless it is one
/// word of `[A-Za-z0-9@._:/+-]`, so no principal can pose as another
/// field (see [`detail_change_request`]).
pub(super) fn audit_detail(g: &GrantRecord) -> String {
    let plain = !g.principal.is_empty()
        && g.principal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._:/+-".contains(c));
    let principal = if plain {
        g.principal.clone()
    } else {
        serde_json::Value::from(g.principal.as_str()).to_string()
    };
    format!("change_request={} principal={principal}", g.change_request)
}

/// The change request an audit detail written by [`audit_detail`] names:
/// its first field, exactly.
pub(super) fn detail_change_request(detail: &str) -> Option<&str> {
    let rest = detail.strip_prefix("change_request=")?;
    rest.split(' ').next()
}

/// The one-grant rule: a change request breaks glass once per principal;
/// breaking glass again needs a new change request (an expired or repaired
/// grant is never re-issued). A repeat is a `Conflict` with the existing
/// grant (HTTP 409 from `keyshift break-glass serve`), not bad input.
fn grant_free<R: StoreReader + ?Sized>(
    r: &R,
    change_request: &str,
    principal: &str,
) -> StoreResult<()> {
    if let Some(g) = r
        .grants()?
        .into_iter()
        .find(|g| g.change_request == change_request && g.principal == principal)
    {
        return Err(StoreError::Conflict(format!(
            "{change_request} already broke glass for {principal} (grant {}); breaking glass again needs a new change request",
            g.id
        )));
    }
    Ok(())
}

impl Kms {
    /// Plan-time check of a new grant: the input rules, the one-grant rule
    /// and that the keys and instance in scope exist.
    pub fn check_new_grant(&self, new: &NewGrant) -> StoreResult<()> {
        check_input(new)?;
        read_with(&*self.store, |r| {
            grant_free(r, &new.change_request, &new.principal)?;
            scope_exists(r, new)
        })
    }

    /// Breaks glass: validates `new`, records the grant (expiring `ttl`
    /// after `at`) and issues its credential into a new secret. Returns the
    /// grant; the credential is only in the secret.
    pub fn break_glass_at(&self, new: &NewGrant, at: OffsetDateTime) -> StoreResult<Grant> {
        let (perms, ttl) = check_input(new)?;
        read_with(&*self.store, |r| {
            grant_free(r, &new.change_request, &new.principal)?;
            scope_exists(r, new)
        })?;
        let key = self.resolve_key(&new.credential_key_id)?;
        let mut raw = [0u8; 8];
        random_fill(&mut raw)?;
        let id = format!("bg-{}", hex::encode(raw));
        let mut secret_bytes = Zeroizing::new([0u8; 32]);
        random_fill(&mut secret_bytes[..])?;
        let credential = Zeroizing::new(format!(
            "{CREDENTIAL_PREFIX}{id}.{}",
            hex::encode(&secret_bytes[..])
        ));
        let secret = self.create_secret(
            NewSecret {
                name: format!("{CREDENTIAL_SECRET_PREFIX}{id}"),
                container: key.container.clone(),
                secret_type: SecretType::Generic,
                encryption_key_id: key.id.clone(),
                description: format!("break-glass credential of {id} ({})", new.change_request),
                tags: Default::default(),
            },
            credential.as_bytes(),
        )?;
        let record = GrantRecord {
            id: id.clone(),
            change_request: new.change_request.clone(),
            principal: new.principal.clone(),
            key_ids: new.key_ids.clone(),
            instance_id: new.instance_id.clone(),
            permissions: perms.iter().map(|p| p.as_str().to_string()).collect(),
            reason: new.reason.clone(),
            created_at: rfc3339(at)?,
            expires_at: rfc3339(at + time::Duration::seconds(ttl))?,
            credential_hash: digest(&credential),
            credential_secret_id: Some(secret.id.clone()),
            revoked_at: None,
            pending_repair: None,
        };
        let inserted = self.mutate("break_glass.break", &id, |tx, detail| {
            grant_free(&*tx, &record.change_request, &record.principal)?;
            tx.insert_grant(&record)?;
            *detail = format!(
                "{} scope=[{}]{} permissions={} expires_at={}",
                audit_detail(&record),
                record.key_ids.join(","),
                record
                    .instance_id
                    .as_deref()
                    .map(|i| format!(" instance={i}"))
                    .unwrap_or_default(),
                record.permissions.join(","),
                record.expires_at
            );
            Ok(())
        });
        if let Err(e) = inserted {
            if let Err(de) = self.delete_secret(&secret.id) {
                tracing::warn!(secret = %secret.id, error = %de, "could not remove the credential secret of a grant that was not recorded");
            }
            return Err(e);
        }
        Ok(Grant {
            status: status_at(&record, at)?,
            record,
        })
    }

    /// [`Kms::break_glass_at`] now.
    pub fn break_glass(&self, new: &NewGrant) -> StoreResult<Grant> {
        self.break_glass_at(new, now())
    }

    /// The grant with that id, its status evaluated at `at`.
    pub fn grant_at(&self, id: &str, at: OffsetDateTime) -> StoreResult<Grant> {
        let record = read_with(&*self.store, |r| load_grant(r, id))?;
        Ok(Grant {
            status: status_at(&record, at)?,
            record,
        })
    }

    /// [`Kms::grant_at`] now.
    pub fn grant(&self, id: &str) -> StoreResult<Grant> {
        self.grant_at(id, now())
    }

    /// Every grant (only those with a pending repair when `pending_only`).
    pub fn list_grants_at(
        &self,
        pending_only: bool,
        at: OffsetDateTime,
    ) -> StoreResult<Vec<Grant>> {
        read_with(&*self.store, |r| r.grants())?
            .into_iter()
            .filter(|g| !pending_only || g.pending_repair.is_some())
            .map(|record| {
                Ok(Grant {
                    status: status_at(&record, at)?,
                    record,
                })
            })
            .collect()
    }

    /// [`Kms::list_grants_at`] now.
    pub fn list_grants(&self, pending_only: bool) -> StoreResult<Vec<Grant>> {
        self.list_grants_at(pending_only, now())
    }

    /// The credential of an active grant (audited as
    /// `break_glass.credential`); refused once expired or revoked.
    pub fn grant_credential_at(
        &self,
        id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<Zeroizing<String>> {
        let g = self.grant_at(id, at)?;
        let refused = |why: String| {
            self.audit_refusal(&g.record, "break_glass.credential", &why);
            StoreError::GrantRefused {
                grant: id.to_string(),
                why,
            }
        };
        match g.status {
            GrantStatus::Active => {}
            GrantStatus::Expired => {
                return Err(refused(format!(
                    "the grant expired at {}",
                    g.record.expires_at
                )));
            }
            GrantStatus::Revoked => {
                return Err(refused("the grant was revoked (glass repaired)".into()));
            }
        }
        let secret_id = g
            .record
            .credential_secret_id
            .clone()
            .ok_or_else(|| refused("its credential was destroyed".into()))?;
        let value = self.credential_value(&secret_id, id)?.value;
        let text = String::from_utf8(value.to_vec()).map_err(|_| {
            StoreError::database(format!("credential secret {secret_id} is not text"))
        })?;
        self.mutate("break_glass.credential", id, |_tx, detail| {
            *detail = audit_detail(&g.record);
            Ok(())
        })?;
        Ok(Zeroizing::new(text))
    }

    /// [`Kms::grant_credential_at`] now.
    pub fn grant_credential(&self, id: &str) -> StoreResult<Zeroizing<String>> {
        self.grant_credential_at(id, now())
    }
}
