//! Break-glass grant records: what the store keeps about an emergency
//! grant. The rules (scope, permissions, expiry, repair) live in
//! `engine/break_glass.rs`; the record never holds the credential itself,
//! only its SHA-256 digest.

/// One break-glass grant as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// `bg-` + 16 lowercase hex.
    pub id: String,
    /// The change request that authorised it (e.g. `CHG0030001`).
    pub change_request: String,
    /// Who the grant is for.
    pub principal: String,
    /// Keys in scope (may be empty when `instance_id` is set).
    pub key_ids: Vec<String>,
    /// Every key of this instance is in scope.
    pub instance_id: Option<String>,
    /// Granted operations (`encrypt`, `decrypt`, `sign`, `verify`), sorted.
    pub permissions: Vec<String>,
    /// Why glass was broken.
    pub reason: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time from which the grant is expired.
    pub expires_at: String,
    /// SHA-256 of the credential (never the credential).
    pub credential_hash: Vec<u8>,
    /// The secret holding the credential; `None` once repair destroyed it.
    pub credential_secret_id: Option<String>,
    /// RFC 3339 time the grant was revoked (repair glass).
    pub revoked_at: Option<String>,
    /// Set while a repair was asked for and has not completed: why it is
    /// still pending (the last failure).
    pub pending_repair: Option<String>,
}

impl std::fmt::Debug for GrantRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantRecord")
            .field("id", &self.id)
            .field("change_request", &self.change_request)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .field("pending_repair", &self.pending_repair)
            .finish_non_exhaustive()
    }
}
