//! Break glass, continued: using a credential (the use rule in
//! [`allows`]), repairing glass and the break-glass audit trail. The rules
//! and breaking glass are in `break_glass.rs`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::break_glass::{
    AUDIT_LIMIT, AUDIT_PREFIX, Grant, GrantStatus, Permission, allows, audit_detail,
    credential_grant_id, detail_change_request, digest, invalid, load_grant, parse_time,
};
use crate::engine::Kms;
use crate::engine::kms::{now, rfc3339};
use crate::store::{GrantRecord, StoreError, StoreResult, read_with, write_with};

impl Kms {
    /// The break-glass audit entries, oldest first: every break, credential
    /// read, use, refusal, revocation and repair (at most the newest
    /// [`AUDIT_LIMIT`] entries of the log are looked at), optionally from
    /// `since` (an RFC 3339 time) on and for one change request.
    pub fn break_glass_audit(
        &self,
        since: Option<&str>,
        change_request: Option<&str>,
    ) -> StoreResult<Vec<crate::store::AuditEntry>> {
        let since = since
            .map(|s| {
                OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
                    invalid(
                        "since",
                        format!(
                            "{s:?} is not an RFC 3339 time ({e}); use e.g. 2026-12-01T00:00:00Z"
                        ),
                    )
                })
            })
            .transpose()?;
        let mut out = Vec::new();
        for e in self.audit_log(AUDIT_LIMIT)? {
            if !e.action.starts_with(AUDIT_PREFIX) {
                continue;
            }
            if change_request.is_some_and(|c| detail_change_request(&e.detail) != Some(c)) {
                continue;
            }
            if let Some(since) = since {
                if parse_time(&e.at)? < since {
                    continue;
                }
            }
            out.push(e);
        }
        out.reverse();
        Ok(out)
    }

    pub(super) fn audit_refusal(&self, g: &GrantRecord, action: &str, why: &str) {
        let at = rfc3339(now()).unwrap_or_default();
        let entry = self.audit_entry(
            &at,
            action,
            &g.id,
            &format!("refused: {why}"),
            audit_detail(g),
        );
        if let Err(e) = write_with(&*self.store, |tx| tx.append_audit(&entry)) {
            tracing::warn!(grant = %g.id, error = %e, "could not record a break-glass refusal in the audit log");
        }
    }

    /// Checks `credential` for `perm` on `key_id_or_alias` at `at` and
    /// audits the use or the refusal. Returns the key id on success.
    pub fn authorize_at(
        &self,
        credential: &str,
        perm: Permission,
        key_id_or_alias: &str,
        at: OffsetDateTime,
    ) -> StoreResult<String> {
        let unknown = || StoreError::GrantRefused {
            grant: "unknown".into(),
            why: "the credential is not a valid break-glass credential".into(),
        };
        let id = credential_grant_id(credential).ok_or_else(unknown)?;
        let g = read_with(&*self.store, |r| r.grant(id))?.ok_or_else(unknown)?;
        let hash = digest(credential.trim());
        if aws_lc_rs::constant_time::verify_slices_are_equal(&hash, &g.credential_hash).is_err() {
            self.audit_refusal(
                &g,
                "break_glass.refuse",
                "the credential does not match the grant",
            );
            return Err(unknown());
        }
        let key = self.resolve_key(key_id_or_alias)?;
        if let Err(e) = allows(&g, perm, &key.id, &key.container, at) {
            if let StoreError::GrantRefused { why, .. } = &e {
                self.audit_refusal(
                    &g,
                    "break_glass.refuse",
                    &format!("{} on {}: {why}", perm.as_str(), key.id),
                );
            }
            return Err(e);
        }
        self.mutate("break_glass.use", &g.id, |_tx, detail| {
            *detail = format!(
                "{} permission={} key={}",
                audit_detail(&g),
                perm.as_str(),
                key.id
            );
            Ok(())
        })?;
        Ok(key.id.clone())
    }

    /// [`Kms::encrypt`] under a break-glass credential.
    pub fn grant_encrypt(
        &self,
        credential: &str,
        key: &str,
        plaintext: &[u8],
    ) -> StoreResult<Vec<u8>> {
        let id = self.authorize_at(credential, Permission::Encrypt, key, now())?;
        self.encrypt(&id, plaintext)
    }

    /// [`Kms::decrypt`] under a break-glass credential (the key is the one
    /// named in the ciphertext).
    pub fn grant_decrypt(&self, credential: &str, ciphertext: &[u8]) -> StoreResult<Vec<u8>> {
        let key = super::kms_material::ciphertext_key_id(ciphertext)?;
        self.authorize_at(credential, Permission::Decrypt, &key, now())?;
        self.decrypt(ciphertext)
    }

    /// [`Kms::sign`] under a break-glass credential.
    pub fn grant_sign(&self, credential: &str, key: &str, message: &[u8]) -> StoreResult<Vec<u8>> {
        let id = self.authorize_at(credential, Permission::Sign, key, now())?;
        self.sign(&id, message)
    }

    /// [`Kms::verify`] under a break-glass credential.
    pub fn grant_verify(
        &self,
        credential: &str,
        key: &str,
        message: &[u8],
        signature: &[u8],
    ) -> StoreResult<bool> {
        let id = self.authorize_at(credential, Permission::Verify, key, now())?;
        self.verify(&id, message, signature)
    }

    /// Repairs glass: revokes the grant (recorded at once, with a
    /// pending-repair note) and then destroys its credential secret. When
    /// destroying fails the grant stays revoked with the failure as its
    /// pending-repair note and the error says so; repairing again finishes
    /// it. Repairing a finished repair changes nothing.
    pub fn repair_glass(&self, id: &str) -> StoreResult<Grant> {
        let at = now();
        let stamp = rfc3339(at)?;
        let mut g = self.mutate("break_glass.revoke", id, |tx, detail| {
            let mut g = load_grant(&*tx, id)?;
            *detail = audit_detail(&g);
            if g.revoked_at.is_none() {
                g.revoked_at = Some(stamp.clone());
            }
            if g.credential_secret_id.is_some() && g.pending_repair.is_none() {
                g.pending_repair = Some("the credential secret is not destroyed yet".into());
            }
            tx.update_grant(&g)?;
            Ok(g)
        })?;
        let Some(secret_id) = g.credential_secret_id.clone() else {
            return Ok(Grant {
                status: GrantStatus::Revoked,
                record: g,
            });
        };
        let destroyed = self.mutate("break_glass.repair", id, |tx, detail| {
            *detail = format!("{} credential_secret={secret_id}", audit_detail(&g));
            if tx.secret(&secret_id)?.is_some() {
                let s = super::kms_secrets::load_secret(&*tx, &secret_id)?;
                super::kms::unlocked_container(&*tx, &s.container)?;
                tx.delete_secret(&secret_id)?;
            }
            let mut done = g.clone();
            done.credential_secret_id = None;
            done.pending_repair = None;
            tx.update_grant(&done)?;
            Ok(done)
        });
        match destroyed {
            Ok(done) => Ok(Grant {
                status: GrantStatus::Revoked,
                record: done,
            }),
            Err(e) => {
                g.pending_repair = Some(format!(
                    "destroying credential secret {secret_id} failed: {e}"
                ));
                if let Err(le) = write_with(&*self.store, |tx| tx.update_grant(&g)) {
                    tracing::warn!(grant = id, error = %le, "could not record why a repair is pending");
                }
                Err(StoreError::Conflict(format!(
                    "break-glass grant {id} is revoked, but its credential secret {secret_id} could not be destroyed ({e}); \
                     the repair is pending: run `keyshift break-glass repair {id}` to finish it"
                )))
            }
        }
    }
}
