//! The master-key rule, shared by every backend. It runs inside the
//! transaction that opens a store, before any schema change:
//!
//! - a **new** store (no container, instance, key, secret or check value)
//!   takes the master key from its source, creating it when there is none
//!   yet (a key file written 0600, or a fresh key wrapped by the given
//!   [`RootKeyWrapper`], the wrapped blob kept in the store): the only
//!   moment a master key is ever created;
//! - an **established** store needs its own master key: a missing key is
//!   [`StoreError::MasterKeyMissing`], a key that fails the stored check
//!   value (or, in a store from before check values, opens none of the
//!   internally wrapped root keys) is [`StoreError::MasterKeyMismatch`].
//!   Either error rolls the opening transaction back: nothing is written.
//!
//! An established store whose stored check value verifies the key needs
//! no write: [`examine_settled`] decides that in a read transaction, so
//! opening such a store never waits for a writer. Everything else (a new
//! store, one without a check value yet, a damaged check value) is decided
//! by [`examine`] under the store's write lock, which every process opening
//! a store takes first, so two processes opening a fresh store at once agree
//! on one master key.
//! Backends only provide the [`TrustView`] queries and store the rows of
//! [`Trust::meta_rows`].

use std::path::Path;

use crate::store::crypto::{MasterKeyWrapper, RootKeyWrapper, SecretKey32};
use crate::store::master_key;
use crate::store::{StoreError, StoreResult};

/// Name of the check value's row in `store_meta`.
pub(crate) const CHECK_ROW: &str = "master_key_check";
/// Name of the row holding the master key wrapped by a [`RootKeyWrapper`].
pub(crate) const WRAPPED_ROW: &str = "master_key_wrapped";
/// The context (AAD / encryption context) the master key is wrapped under.
pub const MASTER_KEY_CONTEXT: &str = "keyshift-master-key";

/// Where the master key of a store comes from.
#[derive(Clone, Copy)]
pub(crate) enum MasterSource<'a> {
    /// A key file (created 0600 with a new store).
    File(&'a Path),
    /// A key wrapped by this wrapper, the blob kept in the store.
    Wrapped(&'a dyn RootKeyWrapper),
}

impl MasterSource<'_> {
    /// How error messages name the key.
    fn describe(&self) -> String {
        match self {
            MasterSource::File(p) => p.display().to_string(),
            MasterSource::Wrapped(_) => {
                format!("(the wrapped master key, row {WRAPPED_ROW} of store_meta)")
            }
        }
    }
}

/// What the rule needs to know about the store, read inside the opening
/// transaction (before any schema change).
pub(crate) trait TrustView {
    /// The stored check value, if any.
    fn check_value(&mut self) -> StoreResult<Option<Vec<u8>>>;
    /// The stored wrapped master key, if any.
    fn wrapped_master(&mut self) -> StoreResult<Option<Vec<u8>>>;
    /// Whether the store holds any container, instance, key or secret.
    fn holds_data(&mut self) -> StoreResult<bool>;
    /// `(container id, wrapped root key)` of every `internal` container.
    fn internal_root_keys(&mut self) -> StoreResult<Vec<(String, Vec<u8>)>>;
}

/// The master key that opens the store, and the `store_meta` rows to
/// write once the schema is current.
pub(crate) struct Trust {
    pub(crate) master: SecretKey32,
    record_check: bool,
    new_wrapped: Option<Vec<u8>>,
}

impl Trust {
    /// `(name, value)` rows to upsert into `store_meta`.
    pub(crate) fn meta_rows(&self) -> StoreResult<Vec<(&'static str, Vec<u8>)>> {
        let mut rows = Vec::new();
        if self.record_check {
            rows.push((CHECK_ROW, master_key::check_value(&self.master)?));
        }
        if let Some(blob) = &self.new_wrapped {
            rows.push((WRAPPED_ROW, blob.clone()));
        }
        Ok(rows)
    }
}

/// The master key of an established store that opens without writing
/// anything: its check value is stored and verifies the key from `source`.
/// `Ok(None)` when the rule needs the write lock ([`examine`]): a new store,
/// no check value yet, or one that does not verify the key (then the root
/// keys decide). Errors are those of [`examine`] (a missing or unusable
/// key); nothing is ever created here.
pub(crate) fn examine_settled(
    view: &mut dyn TrustView,
    source: MasterSource<'_>,
    store: &str,
) -> StoreResult<Option<SecretKey32>> {
    if view.check_value()?.is_none() {
        return Ok(None);
    }
    let trust = examine(view, source, store)?;
    if trust.record_check || trust.new_wrapped.is_some() {
        return Ok(None);
    }
    Ok(Some(trust.master))
}

/// Decides which master key opens the store `store` (its location, for
/// messages), creating one only for a new store.
pub(crate) fn examine(
    view: &mut dyn TrustView,
    source: MasterSource<'_>,
    store: &str,
) -> StoreResult<Trust> {
    let check = view.check_value()?;
    let established = check.is_some() || view.holds_data()?;
    let missing = || StoreError::MasterKeyMissing {
        dir: store.to_string(),
        path: source.describe(),
    };
    let mismatch = || StoreError::MasterKeyMismatch {
        dir: store.to_string(),
        path: source.describe(),
    };
    let (master, new_wrapped) = match source {
        MasterSource::File(path) => match master_key::read(path)? {
            Some(k) => (k, None),
            None if !established => (master_key::create_file(path)?, None),
            None => return Err(missing()),
        },
        MasterSource::Wrapped(wrapper) => match view.wrapped_master()? {
            Some(blob) => match wrapper.unwrap_root(MASTER_KEY_CONTEXT, &blob) {
                Ok(k) => (k, None),
                Err(StoreError::RootKeyDamaged { .. } | StoreError::Crypto(_)) => {
                    return Err(mismatch());
                }
                Err(e) => return Err(e),
            },
            None if !established => {
                let k = SecretKey32::generate()?;
                let blob = wrapper.wrap(MASTER_KEY_CONTEXT, &k)?;
                (k, Some(blob))
            }
            None => return Err(missing()),
        },
    };
    let record_check = if !established {
        true
    } else if check
        .as_deref()
        .is_some_and(|c| master_key::verifies(&master, c))
    {
        false
    } else {
        // No check value yet (a store from before them), or the check
        // value itself is damaged: the internally wrapped root keys decide.
        match opens_a_root_key(view, &master)? {
            Some(true) => true,
            None if check.is_none() => true,
            _ => return Err(mismatch()),
        }
    };
    Ok(Trust {
        master,
        record_check,
        new_wrapped,
    })
}

/// `Some(true)` when `master` unwraps at least one internally wrapped root
/// key, `Some(false)` when it unwraps none, `None` when there are none.
fn opens_a_root_key(view: &mut dyn TrustView, master: &SecretKey32) -> StoreResult<Option<bool>> {
    let wrapper = MasterKeyWrapper::from_key(SecretKey32::from_slice(master.bytes())?);
    let mut any = None;
    for (id, wrapped) in view.internal_root_keys()? {
        if wrapper.unwrap_root(&id, &wrapped).is_ok() {
            return Ok(Some(true));
        }
        any = Some(false);
    }
    Ok(any)
}
