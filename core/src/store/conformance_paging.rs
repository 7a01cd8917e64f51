//! Conformance checks of the paging reads a migration run and the purge on
//! open rely on: every id of one container exactly once, in id order, in
//! bounded pages, and exactly the keys that carry a deletion date.

use crate::store::conformance::{ConformanceResult, ensure, ok, sample_key, setup_instance};
use crate::store::traits::{KeyStore, read_with, write_with};

/// `key_ids_page` walks one container in id order, `limit` at a time, and
/// nothing of another container; `keys_with_deletion_date` finds just the
/// scheduled keys.
pub fn paging_walks_one_container(store: &dyn KeyStore) -> ConformanceResult {
    let (_, c) = setup_instance(store)?;
    let (_, elsewhere) = setup_instance(store)?;
    let mut mine: Vec<_> = (0..7).map(|_| sample_key(c.clone())).collect();
    let mut other = sample_key(elsewhere);
    other.deletion_date = Some("2030-01-01T00:00:00Z".into());
    mine[3].deletion_date = Some("2030-02-01T00:00:00Z".into());
    let mut scheduled = vec![mine[3].id.clone(), other.id.clone()];
    scheduled.sort();
    ok(
        "insert keys",
        write_with(store, |tx| {
            for k in mine.iter().chain([&other]) {
                tx.insert_key(k)?;
            }
            Ok(())
        }),
    )?;
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ok(
            "key_ids_page",
            read_with(store, |r| r.key_ids_page(&c, after.as_deref(), 3)),
        )?;
        ensure!(page.len() <= 3, "a page of {} ids for limit 3", page.len());
        let Some(last) = page.last().cloned() else {
            break;
        };
        walked.extend(page);
        after = Some(last);
        ensure!(
            walked.len() <= mine.len(),
            "the walk does not end: {walked:?}"
        );
    }
    mine.sort_by(|a, b| a.id.cmp(&b.id));
    let want: Vec<_> = mine.iter().map(|k| k.id.clone()).collect();
    ensure!(walked == want, "walked {walked:?}, want {want:?}");
    let due = ok(
        "keys_with_deletion_date",
        read_with(store, |r| r.keys_with_deletion_date()),
    )?;
    let mut due: Vec<_> = due.into_iter().map(|k| k.id).collect();
    due.sort();
    ensure!(
        due == scheduled,
        "scheduled keys {due:?}, want {scheduled:?}"
    );
    Ok(())
}
