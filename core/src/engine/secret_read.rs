//! Reading secrets back: finding a secret by id or by name, and opening one
//! version's value. Shared by the `keyshift_secret_value` ephemeral
//! resource and `keyshift secret get`/`list`, so both choose the same
//! secret and the same version for the same input.
//!
//! Every value read goes through one function ([`load_version_value`]),
//! which holds the credential rule: the secret holding a break-glass
//! grant's credential (`break-glass/<grant id>`) opens only for that
//! grant's audited credential hand-out ([`Kms::grant_credential`]); any
//! other read of it (CLI, ephemeral resource, engine) is refused, and the
//! refusal is audited as `break_glass.credential`.

use sm2::elliptic_curve::zeroize::Zeroizing;

use super::kms::Kms;
use super::kms_secrets::load_secret;
use crate::store::{
    Container, GrantRecord, KeyState, STAGE_CURRENT, Secret, StoreError, StoreReader, StoreResult,
    read_with,
};

/// Which version of a secret to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionPick<'a> {
    /// The `ACSCurrent` version.
    #[default]
    Current,
    /// The version with this id.
    Id(&'a str),
    /// The version carrying this stage (e.g. `ACSPrevious`).
    Stage(&'a str),
}

/// One secret version's value, with the version it came from.
pub struct SecretVersionValue {
    /// The version id.
    pub version_id: String,
    /// The version's stages.
    pub stages: Vec<String>,
    /// The plaintext value; zeroized on drop, never log it.
    pub value: Zeroizing<Vec<u8>>,
}

/// True when `reference` is a secret id (`sec-` + UUID) rather than a name.
pub fn is_secret_id(reference: &str) -> bool {
    reference
        .strip_prefix("sec-")
        .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok())
}

/// Who reads a secret value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reader<'a> {
    /// Anyone but break glass: credential secrets are refused.
    Caller,
    /// The audited hand-out of this grant's credential.
    GrantCredential(&'a str),
}

/// Prefix of the name of every credential secret (then the grant id).
pub(super) const CREDENTIAL_SECRET_PREFIX: &str = "break-glass/";

/// The grant whose credential `s` holds, if it is a credential secret:
/// named `break-glass/<grant id>` and recorded by that grant.
fn credential_grant<R: StoreReader + ?Sized>(
    r: &R,
    s: &Secret,
) -> StoreResult<Option<GrantRecord>> {
    let Some(grant_id) = s.name.strip_prefix(CREDENTIAL_SECRET_PREFIX) else {
        return Ok(None);
    };
    Ok(r.grant(grant_id)?
        .filter(|g| g.credential_secret_id.as_deref() == Some(s.id.as_str())))
}

/// The credential rule: a credential secret opens only for its own grant.
fn check_reader<R: StoreReader + ?Sized>(r: &R, s: &Secret, reader: Reader<'_>) -> StoreResult<()> {
    let Some(g) = credential_grant(r, s)? else {
        return Ok(());
    };
    if reader == Reader::GrantCredential(&g.id) {
        return Ok(());
    }
    Err(StoreError::GrantRefused {
        grant: g.id.clone(),
        why: format!(
            "secret {} holds the grant's break-glass credential, which is read only with \
             `keyshift break-glass credential {}` (audited)",
            s.name, g.id
        ),
    })
}

/// The one function that opens a secret version's value for any reader.
fn load_version_value<R: StoreReader + ?Sized>(
    kms: &Kms,
    r: &R,
    id: &str,
    pick: VersionPick<'_>,
    reader: Reader<'_>,
) -> StoreResult<SecretVersionValue> {
    let secret = load_secret(r, id)?;
    check_reader(r, &secret, reader)?;
    let versions = r.secret_versions(id)?;
    let has_stage = |stages: &[String], want: &str| stages.iter().any(|s| s == want);
    let (found, want) = match pick {
        VersionPick::Current => (
            versions
                .iter()
                .find(|v| has_stage(&v.stages, STAGE_CURRENT)),
            STAGE_CURRENT,
        ),
        VersionPick::Stage(st) => (versions.iter().find(|v| has_stage(&v.stages, st)), st),
        VersionPick::Id(vid) => (versions.iter().find(|v| v.version_id == vid), vid),
    };
    let v = found.ok_or_else(|| StoreError::NotFound {
        kind: "secret version",
        id: format!("{id}/{want}"),
    })?;
    if let Some(key) = r.key(&v.key_id)? {
        if key.state != KeyState::Enabled {
            return Err(StoreError::Conflict(format!(
                "the encryption key {} of secret {id} is {}; enable it to read the value",
                key.id, key.state
            )));
        }
    }
    Ok(SecretVersionValue {
        version_id: v.version_id.clone(),
        stages: v.stages.clone(),
        value: kms.open_secret(r, v)?,
    })
}

impl Kms {
    /// The secret `reference` names: a secret id (`sec-<uuid>`), else a
    /// name in `container` (the shared KMS when `None`). With both an id
    /// and a `container`, the secret must live there.
    pub fn lookup_secret(
        &self,
        reference: &str,
        container: Option<&Container>,
    ) -> StoreResult<Secret> {
        if !is_secret_id(reference) {
            return self.find_secret(container.unwrap_or(&Container::Shared), reference);
        }
        let s = self.get_secret(reference)?;
        match container {
            Some(c) if *c != s.container => Err(StoreError::NotFound {
                kind: "secret",
                id: format!("{c}/{reference} (it lives in {})", s.container),
            }),
            _ => Ok(s),
        }
    }

    /// One version's value and id; `version_or_stage` is a version id,
    /// else a stage name (default `ACSCurrent`), as
    /// [`Kms::get_secret_value`] takes it.
    pub fn secret_version_value(
        &self,
        id: &str,
        version_or_stage: Option<&str>,
    ) -> StoreResult<SecretVersionValue> {
        let out = read_with(&*self.store, |r| {
            let read = |pick| load_version_value(self, r, id, pick, Reader::Caller);
            match version_or_stage {
                None => read(VersionPick::Current),
                Some(w) => read(VersionPick::Id(w)).or_else(|e| match e {
                    StoreError::NotFound { .. } => read(VersionPick::Stage(w)),
                    e => Err(e),
                }),
            }
        });
        self.audited(out)
    }

    /// The value of the version `pick` chooses. The encryption key that
    /// sealed it must be `Enabled`.
    pub fn read_secret_version(
        &self,
        id: &str,
        pick: VersionPick<'_>,
    ) -> StoreResult<SecretVersionValue> {
        let out = read_with(&*self.store, |r| {
            load_version_value(self, r, id, pick, Reader::Caller)
        });
        self.audited(out)
    }

    /// The current value of credential secret `secret_id`, for the audited
    /// hand-out of grant `grant_id`'s credential.
    pub(super) fn credential_value(
        &self,
        secret_id: &str,
        grant_id: &str,
    ) -> StoreResult<SecretVersionValue> {
        let reader = Reader::GrantCredential(grant_id);
        read_with(&*self.store, |r| {
            load_version_value(self, r, secret_id, VersionPick::Current, reader)
        })
    }

    /// `out`, with a refused credential read recorded in the audit log.
    fn audited(&self, out: StoreResult<SecretVersionValue>) -> StoreResult<SecretVersionValue> {
        if let Err(StoreError::GrantRefused { grant, why }) = &out {
            if let Ok(g) = self.grant(grant) {
                self.audit_refusal(&g.record, "break_glass.credential", why);
            }
        }
        out
    }
}
