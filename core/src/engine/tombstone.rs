//! Tombstones: where an object went when a store move took it out.
//!
//! The rule, in one place:
//!
//! - A store move that removes an object from its source (once its copy in
//!   the target is committed and verified) leaves, in that same source
//!   transaction, one tombstone per name the object answers to: a key's id
//!   and each of its aliases, a secret's id and its name in its container.
//!   Each says which store the object went to (as a user names a store:
//!   its directory, or its URL with the password masked), when, and which
//!   run moved it ([`remove_moved`]).
//! - A lookup that finds no object asks for a tombstone before it says "not
//!   found" ([`missing`]). Whoever still points at the old store — a
//!   Terraform configuration, a script running the CLI — gets
//!   [`StoreError::Moved`] naming the new store instead of concluding that
//!   the object is gone: the provider's refresh fails rather than dropping
//!   the resource from state (after which an apply would create a new key
//!   with new material), and an import of a moved id fails the same way.
//! - A store move that brings an object back into a store holding its
//!   tombstones removes them there, in the transaction that writes the
//!   object ([`clear_arrived`]).

use super::migrate::ObjectKind;
use crate::store::location::{StoreLocation, redact_password};
use crate::store::sqlite::DB_FILE;
use crate::store::{
    Container, MovedObject, Secret, StoreError, StoreReader, StoreResult, StoreTx, Tombstone,
    TombstoneKind,
};

/// What every tombstone of one removal says: where the object went, when,
/// and which run moved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    /// The target store as a user names it (see [`store_name`]).
    pub to: String,
    /// RFC 3339 time of the move.
    pub at: String,
    /// The migration run (`mig-…`).
    pub run_id: String,
}

impl Departure {
    /// Leaves the tombstone of the object `id` of `kind` inside `tx` (the
    /// transaction that removes the object). Movers of instances and EKMS
    /// configurations call this directly; keys and secrets go through
    /// [`remove_moved`].
    pub fn leave(&self, tx: &mut dyn StoreTx, kind: TombstoneKind, id: &str) -> StoreResult<()> {
        tx.put_tombstone(&Tombstone {
            kind,
            id: id.to_string(),
            moved_to: self.to.clone(),
            moved_at: self.at.clone(),
            run_id: self.run_id.clone(),
        })
    }
}

/// The error for an object of `kind` that `r` does not hold:
/// [`StoreError::Moved`] when a tombstone says where it went, else
/// `NotFound` (or the error reading the tombstone).
pub fn missing<R: StoreReader + ?Sized>(r: &R, kind: TombstoneKind, id: &str) -> StoreError {
    match r.tombstone(kind, id) {
        Ok(Some(t)) => StoreError::Moved(Box::new(MovedObject {
            kind: kind.noun(),
            id: id.to_string(),
            to: t.moved_to,
            at: t.moved_at,
            run_id: t.run_id,
        })),
        Ok(None) => StoreError::NotFound {
            kind: kind.noun(),
            id: id.to_string(),
        },
        Err(e) => e,
    }
}

/// The tombstone id of the secret `name` in `container`.
pub fn secret_name_id(container: &Container, name: &str) -> String {
    format!("{container}/{name}")
}

/// Every (kind, id) a key answers to: its id and each of its aliases.
pub fn key_names<'a>(
    id: &str,
    aliases: impl IntoIterator<Item = &'a str>,
) -> Vec<(TombstoneKind, String)> {
    std::iter::once((TombstoneKind::Key, id.to_string()))
        .chain(
            aliases
                .into_iter()
                .map(|a| (TombstoneKind::Alias, a.to_string())),
        )
        .collect()
}

/// Every (kind, id) a secret answers to: its id and its name in its
/// container.
pub fn secret_names(secret: &Secret) -> Vec<(TombstoneKind, String)> {
    vec![
        (TombstoneKind::Secret, secret.id.clone()),
        (
            TombstoneKind::SecretName,
            secret_name_id(&secret.container, &secret.name),
        ),
    ]
}

/// Removes the key or secret `id` from a store move's source inside `tx`,
/// leaving a tombstone for each of its names as `tx` holds them (a key's
/// aliases go with it).
pub(super) fn remove_moved(
    tx: &mut dyn StoreTx,
    kind: ObjectKind,
    id: &str,
    departure: &Departure,
) -> StoreResult<()> {
    let names = match kind {
        ObjectKind::Key => {
            let key = tx
                .key(id)?
                .ok_or_else(|| missing(&*tx, TombstoneKind::Key, id))?;
            key_names(&key.id, key.aliases.iter().map(String::as_str))
        }
        ObjectKind::Secret => {
            let s = tx
                .secret(id)?
                .ok_or_else(|| missing(&*tx, TombstoneKind::Secret, id))?;
            secret_names(&s)
        }
    };
    for (k, name) in &names {
        departure.leave(tx, *k, name)?;
    }
    match kind {
        ObjectKind::Key => tx.delete_key(id),
        ObjectKind::Secret => tx.delete_secret(id),
    }
}

/// Removes, inside `tx`, the tombstones of `names` (from [`key_names`] and
/// [`secret_names`]) of the objects a store move has just written into this
/// store: objects coming back to a store they once left.
pub(super) fn clear_arrived(
    tx: &mut dyn StoreTx,
    names: &[(TombstoneKind, String)],
) -> StoreResult<()> {
    tx.clear_tombstones(names).map(drop)
}

/// A store as a user names it, from a backend's location: a URL with its
/// password masked, or the directory of an embedded store (made absolute
/// when it exists, so the name works from any working directory).
pub fn store_name(location: &str) -> String {
    // The one rule that tells a shared store from an embedded one decides
    // here too (a connection string `host=… password=…` is no path).
    let path = match StoreLocation::parse(location) {
        Ok(StoreLocation::Sqlite(path)) => path,
        _ => return redact_password(location),
    };
    let path = path.as_path();
    let dir = match (path.file_name(), path.parent()) {
        (Some(file), Some(dir)) if file == DB_FILE && !dir.as_os_str().is_empty() => dir,
        _ => path,
    };
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Kms;
    use crate::store::write_with;

    /// Every lookup of an object whose tombstone the store holds says where
    /// it went; one that never moved is still `NotFound`.
    #[test]
    fn lookups_of_a_tombstoned_object_say_where_it_went() {
        let (_dir, kms) = crate::engine::test_support::kms();
        let gone = Departure {
            to: "postgres://ks:***@db/new".into(),
            at: "2026-01-01T00:00:00Z".into(),
            run_id: "mig-7".into(),
        };
        let shared = Container::Shared;
        let stones = [
            (TombstoneKind::Key, "key-gone".to_string()),
            (TombstoneKind::Alias, "alias/gone".to_string()),
            (TombstoneKind::Secret, "sec-gone".to_string()),
            (TombstoneKind::SecretName, secret_name_id(&shared, "gone")),
            (TombstoneKind::Instance, "kst-000000000009".to_string()),
            (TombstoneKind::EkmsConfig, "kst-000000000009".to_string()),
        ];
        write_with(&*kms.store, |tx| {
            for (kind, id) in &stones {
                gone.leave(tx, *kind, id)?;
            }
            Ok(())
        })
        .unwrap();
        let aws = crate::engine::tests_ekms::Fake::new();
        let gone_inst = Container::Instance("kst-000000000009".into());
        type Lookup<'a> = Box<dyn Fn(&Kms) -> StoreResult<()> + 'a>;
        let cases: Vec<(&str, &str, Lookup)> = vec![
            (
                "key by id",
                "key key-gone",
                Box::new(|k| k.get_key("key-gone").map(drop)),
            ),
            (
                "key by alias",
                "alias alias/gone",
                Box::new(|k| k.resolve_key("alias/gone").map(drop)),
            ),
            (
                "alias",
                "alias alias/gone",
                Box::new(|k| k.get_alias("alias/gone").map(drop)),
            ),
            (
                "secret by id",
                "secret sec-gone",
                Box::new(|k| k.get_secret("sec-gone").map(drop)),
            ),
            (
                "secret by name",
                "secret shared/gone",
                Box::new(|k| k.find_secret(&shared, "gone").map(drop)),
            ),
            (
                "instance",
                "instance kst-000000000009",
                Box::new(|k| k.get_instance("kst-000000000009").map(drop)),
            ),
            (
                "EKMS configuration",
                "EKMS configuration of container kst-000000000009",
                Box::new(|k| k.ekms_health(&gone_inst, &*aws).map(drop)),
            ),
        ];
        for (name, what, lookup) in cases {
            let err = lookup(&kms).unwrap_err();
            assert!(matches!(err, StoreError::Moved(_)), "{name}: {err:?}");
            let want = format!(
                "{what} was moved to the key store postgres://ks:***@db/new at \
                 2026-01-01T00:00:00Z (run mig-7)"
            );
            assert!(err.to_string().starts_with(&want), "{name}: {err}");
        }
        let never = kms.get_key("key-never").unwrap_err();
        assert!(matches!(never, StoreError::NotFound { .. }), "{never:?}");
    }

    #[test]
    fn store_names_are_what_a_user_writes_without_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        let db = dir.path().join(DB_FILE);
        let cases = [
            (
                "embedded store: its directory",
                db.display().to_string(),
                real.display().to_string(),
            ),
            (
                "shared store: password masked",
                "postgres://ks:hunter2@db.example:5432/keys?sslmode=require".to_string(),
                "postgres://ks:***@db.example:5432/keys?sslmode=require".to_string(),
            ),
            (
                "password in a query parameter",
                "postgresql://ks@db/keys?password=hunter2".to_string(),
                "postgresql://ks@db/keys?password=***".to_string(),
            ),
            (
                "shared store as a connection string: password masked",
                "host=db.example user=ks password=hunter2 dbname=keys".to_string(),
                "host=db.example user=ks password=*** dbname=keys".to_string(),
            ),
            (
                "missing directory kept as given",
                "/nonexistent/keyshift-b/keyshift.db".to_string(),
                "/nonexistent/keyshift-b".to_string(),
            ),
        ];
        for (name, location, want) in cases {
            assert_eq!(store_name(&location), want, "{name}");
        }
    }
}
